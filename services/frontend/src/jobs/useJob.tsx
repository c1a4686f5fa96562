import { useQuery } from "@tanstack/react-query";
import { jobs, type Job } from "../api";

export function isFinished(job: Job | undefined): boolean {
  return job?.status === "completed" || job?.status === "failed";
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

export function JobProgress({ job }: { job: Job | undefined }) {
  if (!job) return null;
  const pct = Math.round((job.progress ?? 0) * 100);
  return (
    <div className="job-progress" data-testid="job-progress" data-status={job.status}>
      <div className="bar"><div style={{ width: `${job.status === "completed" ? 100 : pct}%` }} /></div>
      <span>{job.kind} · {job.status}{job.status === "running" ? ` ${pct}%` : ""}</span>
      {job.error && <div className="error-text">{job.error}</div>}
    </div>
  );
}
