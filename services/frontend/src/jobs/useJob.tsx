import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { jobs, type Job } from "../api";

export function isFinished(job: Job | undefined): boolean {
  return job?.status === "completed" || job?.status === "failed" || job?.status === "cancelled";
}

/** A job, polled every second until it finishes. */
export function useJob(jobId: string | null) {
  return useQuery({
    queryKey: ["job", jobId],
    queryFn: () => jobs.get(jobId!),
    enabled: !!jobId,
    refetchInterval: (q) => (isFinished(q.state.data) ? false : 1000),
  });
}

/** Run `then` once when the job completes: e.g. merge the tracks it wrote into the open workspace. */
export function useWhenCompleted(job: Job | undefined, then: () => void) {
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => {
    if (job?.status === "completed" && done !== job.id) {
      setDone(job.id);
      then();
    }
  }, [job, done, then]);
}

/** A job's bar, its frames done / total and stage while it runs, and Cancel (the worker stops at its next frame). */
export function JobProgress({ job }: { job: Job | undefined }) {
  const queryClient = useQueryClient();
  if (!job) return null;
  const pct = Math.round((job.progress ?? 0) * 100);
  const { framesDone, framesTotal, stage } = job.detail ?? {};
  const frames = framesTotal ? ` · frames ${framesDone ?? 0} / ${framesTotal}` : "";
  async function cancel() {
    const now = await jobs.cancel(job!.id);
    queryClient.setQueryData(["job", job!.id], now);
  }
  return (
    <div className="job-progress" data-testid="job-progress" data-status={job.status}>
      <div className="bar"><div style={{ width: `${job.status === "completed" ? 100 : pct}%` }} /></div>
      <span data-testid="job-progress-text">{job.kind} · {job.status}{job.status === "running" ? ` ${pct}%${frames}${stage ? ` · ${stage}` : ""}` : ""}</span>
      {!isFinished(job) && <button onClick={() => void cancel()} data-testid="job-cancel">Cancel</button>}
      {job.error && job.status !== "cancelled" && <div className="error-text">{job.error}</div>}
    </div>
  );
}
