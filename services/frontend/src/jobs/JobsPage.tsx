import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { jobs, type Job } from "../api";
import { errorText, formatDateTime } from "../ui/format";

function duration(job: Job): string {
  if (!job.startedAt) return "—";
  const end = job.finishedAt ? new Date(job.finishedAt).getTime() : Date.now();
  return `${((end - new Date(job.startedAt).getTime()) / 1000).toFixed(1)} s`;
}

export function JobsPage() {
  const [status, setStatus] = useState("");
  const [kind, setKind] = useState("");
  const list = useQuery({
    queryKey: ["jobs", status, kind],
    queryFn: () => jobs.list({ status, kind, limit: 50 }),
    // Live while anything runs; quiet otherwise.
    refetchInterval: (q) => (q.state.data?.some((j) => j.status === "queued" || j.status === "running") ? 1000 : 5000),
  });
  return (
    <section>
      <div className="page-head">
        <h2>Jobs</h2>
        <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="jobs-status">
          <option value="">any status</option>
          {["queued", "running", "completed", "failed", "cancelled"].map((s) => <option key={s}>{s}</option>)}
        </select>
        <select value={kind} onChange={(e) => setKind(e.target.value)} data-testid="jobs-kind">
          <option value="">any kind</option>
          {["detect", "track", "summarize", "augment", "detect-types", "track-box", "transcribe", "read-text"].map((s) => <option key={s}>{s}</option>)}
        </select>
      </div>
      {list.error && <div className="error-box">{errorText(list.error)}</div>}
      {list.data?.length === 0 && <p className="muted" data-testid="jobs-empty">No jobs yet. Run detection from a video's workspace.</p>}
      <table className="grid-table jobs" data-testid="jobs-table">
        <thead><tr><th>kind</th><th>video</th><th>status</th><th>progress</th><th>created</th><th>duration</th><th>error</th></tr></thead>
        <tbody>
          {list.data?.map((j) => (
            <tr key={j.id} data-testid="job-row" data-status={j.status}>
              <td>{j.kind}</td>
              <td>{j.videoId ? <Link to={`/videos/${j.videoId}`}>{j.videoId}</Link> : "—"}</td>
              <td className={`status-${j.status}`}>{j.status}</td>
              <td><div className="bar small"><div style={{ width: `${Math.round((j.status === "completed" ? 1 : j.progress) * 100)}%` }} /></div></td>
              <td>{formatDateTime(j.createdAt)}</td>
              <td>{duration(j)}</td>
              <td className="error-text">{j.error}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
