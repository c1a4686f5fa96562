/**
 * "Read text in frame": the OCR job from the Detect panel, with its progress and Cancel, then the text tracks it made
 * (type "text", labelled with the string read), each a row that seeks to where the text first shows and selects it.
 * A rerun replaces the earlier run's automatic text tracks (the server does that), so the list is never doubled.
 */
import { useState } from "react";
import { jobs } from "../api";
import { formatTime, startTimeOfFrame } from "../editor/time";
import type { Track } from "../editor/types";
import { isFinished, JobProgress, useJob, useWhenCompleted } from "../jobs/useJob";
import { errorText } from "../ui/format";
import { useDocVersion, type Workspace } from "./workspace";

export const TEXT_TYPE = "text";

/** The frame a text track first shows at (its first keyframe not marked outside). */
export function firstSeen(track: Track): number {
  return (track.frames.find((k) => !k.outside) ?? track.frames[0]).frame;
}

export function ReadTextPanel({ ws, personaId }: { ws: Workspace; personaId: string | null }) {
  useDocVersion(ws);
  const [perSecond, setPerSecond] = useState(1);
  const [confidence, setConfidence] = useState(0.6);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  useWhenCompleted(job.data, () => ws.refreshFromServer().catch((e) => setError(errorText(e))));

  async function run() {
    setError(null);
    try {
      const accepted = await jobs.readText(ws.video.id, { personaId, framesPerSecond: perSecond, minConfidence: confidence });
      setJobId(accepted.jobId);
    } catch (e) {
      setError(errorText(e));
    }
  }

  const texts = ws.doc.list().filter((t) => t.type === TEXT_TYPE).sort((a, b) => firstSeen(a) - firstSeen(b));
  const busy = !!jobId && !isFinished(job.data);
  return (
    <div className="panel-section" data-testid="read-text">
      <h3>Text in frame</h3>
      <div className="form-grid">
        <label>frames / s <input type="number" min={0.1} max={30} step={0.5} value={perSecond}
          onChange={(e) => setPerSecond(Math.max(0.1, Number(e.target.value)))} data-testid="read-text-fps" /></label>
        <label>min confidence <input type="number" min={0} max={1} step={0.05} value={confidence}
          onChange={(e) => setConfidence(Number(e.target.value))} data-testid="read-text-confidence" /></label>
      </div>
      <button className="primary" onClick={run} disabled={busy} data-testid="read-text-run"
        title="OCR on sampled frames; each text read becomes a track labelled with it (replaces the last run's)">
        {busy ? "Reading…" : "Read text in frame"}
      </button>
      {error && <div className="error-text" data-testid="read-text-error">{error}</div>}
      <JobProgress job={job.data} />
      {texts.length > 0 && (
        <ul className="text-tracks" data-testid="text-tracks">
          {texts.map((t) => {
            const frame = firstSeen(t);
            return (
              <li key={t.id}>
                <button className="link" data-testid="text-track" data-text={t.label} data-frame={frame}
                  onClick={() => { ws.player.seek(frame); ws.ui.set({ selected: t.id }); }}
                  title={`seek to ${formatTime(startTimeOfFrame(frame, ws.player.rate))} and select it`}>
                  {formatTime(startTimeOfFrame(frame, ws.player.rate))}
                </button>{" "}
                <span className="text-track-string">“{t.label}”</span>
                {t.confidence != null && <span className="muted small"> {Math.round(t.confidence * 100)} %</span>}
              </li>
            );
          })}
        </ul>
      )}
      {job.data?.status === "completed" && texts.length === 0 && <p className="muted" data-testid="read-text-none">No text was read.</p>}
    </div>
  );
}
