import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { jobs, summaries, videos, type Summary } from "../api";
import { keyframeAt } from "../editor/keyframes";
import { isFinished, JobProgress, useJob } from "../jobs/useJob";
import { errorText } from "../ui/format";
import { typeName, type TypeIndex } from "./types";
import { useDocVersion, usePlayer, useUi, type Workspace } from "./workspace";

/** The selected track's facts and the candidates (automatic tracks) to accept or reject in bulk. */
export function TrackPanel({ ws, types }: { ws: Workspace; types: TypeIndex }) {
  useDocVersion(ws);
  const ui = useUi(ws);
  const { frame } = usePlayer(ws);
  const track = ui.selected ? ws.doc.get(ui.selected) : undefined;
  const candidates = ws.doc.list().filter((t) => t.source === "automatic").map((t) => t.id);
  return (
    <div className="panel-section">
      <h3>Selected track</h3>
      {track ? (
        <dl className="facts" data-testid="selected-track" data-track-id={track.id}>
          <dt>label</dt>
          <dd>
            <input key={track.id + track.label} defaultValue={track.label} data-testid="selected-label"
              onBlur={(e) => e.target.value.trim() && e.target.value !== track.label && ws.doc.updateTrack(track.id, { label: e.target.value.trim() })}
              onKeyDown={(e) => { if (e.key === "Enter") (e.target as HTMLInputElement).blur(); }} />
          </dd>
          <dt>type</dt><dd>{typeName(track.type, types)}</dd>
          <dt>source</dt><dd data-testid="selected-source">{track.source}{track.confidence != null ? ` (${Math.round(track.confidence * 100)}%)` : ""}</dd>
          <dt>keyframes</dt><dd>{track.frames.length} ({track.frames[0].frame}–{track.frames[track.frames.length - 1].frame})</dd>
          <dt>here</dt><dd>{keyframeAt(track.frames, frame) ? (keyframeAt(track.frames, frame)!.outside ? "outside keyframe" : "keyframe") : "interpolated"}</dd>
        </dl>
      ) : <p className="muted">Click a box or a track row.</p>}
      <h3>Candidates</h3>
      <p className="muted" data-testid="candidate-count" data-count={candidates.length}>
        {candidates.length ? `${candidates.length} from detection, drawn dashed` : "none: run detection below"}
      </p>
      {candidates.length > 0 && (
        <div className="row">
          <button onClick={() => ws.doc.acceptCandidates(candidates)} data-testid="candidates-accept-all">Accept all</button>
          <button onClick={() => ws.doc.deleteTracks(candidates)} data-testid="candidates-reject-all">Reject all</button>
        </div>
      )}
    </div>
  );
}

/** Detection or tracking on the whole video or a frame range; candidates come in when the job completes. */
export function DetectPanel({ ws }: { ws: Workspace }) {
  const [kind, setKind] = useState<"detect" | "track">("detect");
  const [range, setRange] = useState<"all" | "range">("all");
  const [from, setFrom] = useState(0);
  const [to, setTo] = useState(Math.max(0, (ws.player.frameCount ?? 1) - 1));
  const [every, setEvery] = useState(kind === "detect" ? 10 : 1);
  const [confidence, setConfidence] = useState(0.25);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  const [merged, setMerged] = useState<string | null>(null);

  useEffect(() => {
    if (job.data?.status === "completed" && merged !== job.data.id) {
      setMerged(job.data.id);
      ws.refreshFromServer().catch((e) => setError(errorText(e)));
    }
  }, [job.data, merged, ws]);

  async function run() {
    setError(null);
    try {
      const frames: number[] | undefined = range === "range"
        ? Array.from({ length: Math.floor((to - from) / every) + 1 }, (_, i) => from + i * every).filter((f) => f <= to)
        : undefined;
      const params = { confidence, ...(frames ? { frames } : { sampleEvery: every }) };
      const accepted = await jobs.detect(ws.video.id, params, kind);
      setJobId(accepted.jobId);
    } catch (e) {
      setError(errorText(e));
    }
  }

  const busy = !!jobId && !isFinished(job.data);
  return (
    <div className="panel-section">
      <h3>Detection</h3>
      <div className="form-grid">
        <label>model
          <select value={kind} onChange={(e) => setKind(e.target.value as "detect" | "track")} data-testid="detect-kind">
            <option value="detect">detect (boxes per frame)</option>
            <option value="track">track (boxes linked over time)</option>
          </select>
        </label>
        <label>frames
          <select value={range} onChange={(e) => setRange(e.target.value as "all" | "range")} data-testid="detect-range">
            <option value="all">whole video</option>
            <option value="range">range</option>
          </select>
        </label>
        {range === "range" && (
          <>
            <label>from <input type="number" min={0} value={from} onChange={(e) => setFrom(Number(e.target.value))} data-testid="detect-from" /></label>
            <label>to <input type="number" min={0} value={to} onChange={(e) => setTo(Number(e.target.value))} data-testid="detect-to" /></label>
          </>
        )}
        <label>every <input type="number" min={1} value={every} onChange={(e) => setEvery(Math.max(1, Number(e.target.value)))} data-testid="detect-every" /> frames</label>
        <label>min confidence <input type="number" min={0} max={1} step={0.05} value={confidence} onChange={(e) => setConfidence(Number(e.target.value))} data-testid="detect-confidence" /></label>
      </div>
      <button className="primary" onClick={run} disabled={busy} data-testid="detect-run">{busy ? "Running…" : "Run"}</button>
      {error && <div className="error-text" data-testid="detect-error">{error}</div>}
      <JobProgress job={job.data} />
    </div>
  );
}

function keyFrameOf(k: Summary["keyFrames"][number]): number {
  return k.frame;
}

/** A summary for the selected persona: text, objects, key frames to jump to, and similar videos. */
export function SummaryPanel({ ws, personaId }: { ws: Workspace; personaId: string | null }) {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["summaries", ws.video.id], queryFn: () => summaries.list(ws.video.id) });
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  useEffect(() => {
    if (job.data?.status === "completed") {
      void queryClient.invalidateQueries({ queryKey: ["summaries", ws.video.id] });
      void queryClient.invalidateQueries({ queryKey: ["similar", ws.video.id] });
    }
  }, [job.data?.status, queryClient, ws.video.id]);

  const mine = (list.data ?? []).filter((s) => s.personaId === personaId);
  // Only the selected persona's: another persona's summary answers another information need.
  const current = mine[mine.length - 1];
  const objects = (current?.summary?.objects ?? []) as Array<{
    label?: string; count?: number; max_simultaneous?: number; first_seen_s?: number; last_seen_s?: number;
  }>;
  // Similarity ranks other summaries by this one's embedding: without a summary there is nothing to ask.
  const similar = useQuery({
    queryKey: ["similar", ws.video.id, current?.id], queryFn: () => summaries.similar(ws.video.id, current!.id),
    enabled: !!current, retry: false,
  });
  const videoList = useQuery({ queryKey: ["videos"], queryFn: videos.list });
  const nameOf = (id: string) => videoList.data?.find((v) => v.id === id)?.filename ?? id;

  return (
    <div className="panel-section" data-testid="summary-panel">
      <h3>Summary</h3>
      <button onClick={async () => {
        setError(null);
        try { setJobId((await summaries.request(ws.video.id, personaId)).jobId); } catch (e) { setError(errorText(e)); }
      }} disabled={!!jobId && !isFinished(job.data)} data-testid="summary-request">Summarise for this persona</button>
      {error && <div className="error-text">{error}</div>}
      <JobProgress job={job.data} />
      {current ? (
        <>
          <p className="summary-text" data-testid="summary-text">{current.text}</p>
          {objects.length > 0 && (
            <ul className="objects">
              {objects.map((o, i) => (
                <li key={i} data-testid="summary-object">
                  <b>{o.label}</b> × {o.count ?? "?"}{o.max_simultaneous ? ` (up to ${o.max_simultaneous} at once)` : ""}
                  {o.first_seen_s != null && <span className="muted"> {o.first_seen_s}–{o.last_seen_s} s</span>}
                </li>
              ))}
            </ul>
          )}
          <div className="keyframes">
            {current.keyFrames.map((k) => (
              <button key={keyFrameOf(k)} onClick={() => ws.player.seek(keyFrameOf(k))} data-testid="summary-keyframe" data-frame={keyFrameOf(k)}>frame {keyFrameOf(k)}</button>
            ))}
          </div>
        </>
      ) : <p className="muted" data-testid="summary-none">No summary for this persona yet.</p>}
      <h3>Similar videos</h3>
      {similar.data && similar.data.length > 0 ? (
        <ul className="similar">
          {similar.data.map((s) => (
            <li key={s.id} data-testid="similar-video"><Link to={`/videos/${s.videoId}`}>{nameOf(s.videoId)}</Link> <span className="muted">distance {s.distance?.toFixed(3)}</span></li>
          ))}
        </ul>
      ) : similar.error ? <div className="error-text" data-testid="similar-error">{errorText(similar.error)}</div>
        : !current ? <p className="muted" data-testid="similar-empty">needs a summary first</p>
        : similar.data ? <p className="muted" data-testid="similar-empty">no other summaries yet</p>
        : <p className="muted">looking…</p>}
    </div>
  );
}
