import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { annotations, jobs, models, personas, summaries, videos, type Ontology, type Summary } from "../api";
import { abilities } from "../auth/roles";
import { useMe } from "../auth/session";
import { keyframeAt, visibleBoxAt } from "../editor/keyframes";
import type { Track } from "../editor/types";
import { isFinished, JobProgress, useJob, useWhenCompleted } from "../jobs/useJob";
import { colorFor, errorText, formatDateTime } from "../ui/format";
import { textAuthor, type TextSource } from "./summaryAuthor";
import { typeName, type TypeIndex } from "./types";
import { useDocVersion, usePlayer, useUi, type Workspace } from "./workspace";

/**
 * A track's label, edited in place. The editor refuses a value the server would (empty, over 500 characters):
 * the message stands at the field and the text stays for fixing; Esc puts the saved label back.
 */
export function LabelField({ ws, trackId, label, testId, autoFocus, onDone }: {
  ws: Workspace; trackId: string; label: string; testId: string; autoFocus?: boolean; onDone?: () => void;
}) {
  const [problem, setProblem] = useState<string | null>(null);
  function commit(input: HTMLInputElement) {
    const value = input.value.trim();
    if (value === label) {
      setProblem(null);
      onDone?.();
      return;
    }
    const result = ws.doc.updateTrack(trackId, { label: value });
    if (result.ok) onDone?.();
    else setProblem(result.problem.message);
  }
  return (
    <span className="field">
      <input defaultValue={label} data-testid={testId} autoFocus={autoFocus} aria-invalid={problem ? true : undefined}
        className={problem ? "invalid" : undefined}
        onBlur={(e) => commit(e.target)}
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === "Enter") commit(e.target as HTMLInputElement);
          if (e.key === "Escape") { (e.target as HTMLInputElement).value = label; setProblem(null); onDone?.(); }
        }} />
      {problem && <span className="field-error" data-testid="label-error" role="alert">{problem}</span>}
    </span>
  );
}

/** What the selected track's box is at this frame, in a word or two. */
function hereIs(track: Track, frame: number): string {
  const key = keyframeAt(track.frames, frame);
  if (key) return key.outside ? "outside keyframe" : "keyframe";
  const box = visibleBoxAt(track, frame);
  if (!box) return frame < track.frames[0].frame ? "not yet shown" : "outside";
  return box.held ? "held (after the last keyframe)" : "interpolated";
}

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
            <LabelField key={track.id + track.label} ws={ws} trackId={track.id} label={track.label} testId="selected-label" />
          </dd>
          <dt>type</dt><dd>{typeName(track.type, types)}</dd>
          <dt>source</dt><dd data-testid="selected-source">{track.source}{track.confidence != null ? ` (${Math.round(track.confidence * 100)}%)` : ""}</dd>
          <dt>keyframes</dt><dd>{track.frames.length} ({track.frames[0].frame}–{track.frames[track.frames.length - 1].frame})</dd>
          <dt>here</dt><dd data-testid="selected-here">{hereIs(track, frame)}</dd>
        </dl>
      ) : <p className="muted">Click a box or a track row.</p>}
      {ui.showAll && (
        <p className="muted" data-testid="others-count" data-count={ui.others.length}>
          {ui.others.length} track(s) of other personas shown faded and dotted: read only (choose their persona to edit them)
        </p>
      )}
      {track && <TrackThisBoxIfAllowed key={track.id} ws={ws} track={track} frame={frame} />}
      {track && <TrackHistory trackId={track.id} version={track.version} />}
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

/** What a typed detection reported: the classes each type searched and the classes no type maps to, each of which
 * can become a type of the persona ("add as type": an entity type standing for that class). */
function TypedReport({ result, personaId }: { result: Record<string, unknown> | null; personaId: string | null }) {
  const queryClient = useQueryClient();
  const [added, setAdded] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  if (!result) return null;
  const searched = (result.classes_searched ?? {}) as Record<string, string[]>;
  const unmapped = (result.unmapped ?? []) as Array<{ class: string; detections: number }>;
  async function addAsType(name: string) {
    if (!personaId) return;
    setError(null);
    try {
      const fresh = await personas.ontology(personaId);  // the latest, so nobody's edit since is overwritten
      const id = `${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}-${crypto.randomUUID().slice(0, 4)}`;
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      const saved = await personas.saveOntology(personaId, { ...fresh, entityTypes: [...fresh.entityTypes,
        { id, name: title, description: `A ${name}, as the detector names it`, color: colorFor(title), detectorClasses: [name] }] });
      queryClient.setQueryData(["ontology", personaId], saved);
      setAdded((old) => [...old, name]);
    } catch (e) { setError(errorText(e)); }
  }
  return (
    <div className="typed-report" data-testid="typed-report">
      <ul className="plain-list">
        {Object.entries(searched).map(([type, classes]) => (
          <li key={type} data-testid="typed-searched" data-type={type}>{type} ← {classes.length ? classes.join(", ") : <span className="muted">no class of this model</span>}</li>
        ))}
      </ul>
      {unmapped.length > 0 && (
        <div data-testid="typed-unmapped">
          <span className="muted">unmapped: {unmapped.map((u) => `${u.class} × ${u.detections}`).join(", ")}</span>
          <div className="row tight">
            {unmapped.slice(0, 8).map((u) => (
              <button key={u.class} disabled={!personaId || added.includes(u.class)} onClick={() => void addAsType(u.class)}
                data-testid="typed-add-type" data-class={u.class} title="A new entity type of this persona that stands for this class">
                {added.includes(u.class) ? `${u.class} added` : `add ${u.class} as type`}</button>
            ))}
          </div>
        </div>
      )}
      {error && <div className="error-text">{error}</div>}
    </div>
  );
}

/** Detection typed by the persona's ontology (its entity types, or the ones ticked, with the chosen model), or the
 * older per-frame detection and tracking on the whole video or a frame range; candidates come in when the job
 * completes. */
export function DetectPanel({ ws, personaId, ontology }: { ws: Workspace; personaId: string | null; ontology: Ontology | undefined }) {
  const [kind, setKind] = useState<"types" | "detect" | "track">(personaId ? "types" : "detect");
  const [range, setRange] = useState<"all" | "range">("all");
  const [from, setFrom] = useState(0);
  const [to, setTo] = useState(Math.max(0, (ws.player.frameCount ?? 1) - 1));
  const [every, setEvery] = useState(10);
  const [confidence, setConfidence] = useState(0.4);
  const [model, setModel] = useState<string>("");
  const [unticked, setUnticked] = useState<Set<string>>(new Set());
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  const offered = useQuery({ queryKey: ["models", "detection"], queryFn: () => models.list("detection") });
  const entityTypes = ontology?.entityTypes ?? [];

  useWhenCompleted(job.data, () => ws.refreshFromServer().catch((e) => setError(errorText(e))));

  async function run() {
    setError(null);
    try {
      if (kind === "types") {
        if (!personaId) throw new Error("choose a persona first: its entity types are what detection looks for");
        const types = entityTypes.map((t) => t.id).filter((id) => !unticked.has(id));
        const accepted = await jobs.detectTypes(ws.video.id, { personaId, types, sampleEvery: every, confidence,
          ...(model ? { model } : {}) });
        setJobId(accepted.jobId);
        return;
      }
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
        <label>mode
          <select value={kind} onChange={(e) => setKind(e.target.value as "types" | "detect" | "track")} data-testid="detect-kind">
            <option value="types">the persona's types (tracks)</option>
            <option value="detect">detect (boxes per frame)</option>
            <option value="track">track (boxes linked over time)</option>
          </select>
        </label>
        {kind === "types" ? (
          <label>model
            <select value={model} onChange={(e) => setModel(e.target.value)} data-testid="detect-model">
              <option value="">default</option>
              {(offered.data ?? []).map((m) => (
                <option key={m.name} value={m.name} title={`${m.description} (${m.licence})`}>{m.name}{m.default ? " (default)" : ""} · {m.classes.length} classes</option>
              ))}
            </select>
          </label>
        ) : (
          <label>frames
            <select value={range} onChange={(e) => setRange(e.target.value as "all" | "range")} data-testid="detect-range">
              <option value="all">whole video</option>
              <option value="range">range</option>
            </select>
          </label>
        )}
        {kind !== "types" && range === "range" && (
          <>
            <label>from <input type="number" min={0} value={from} onChange={(e) => setFrom(Number(e.target.value))} data-testid="detect-from" /></label>
            <label>to <input type="number" min={0} value={to} onChange={(e) => setTo(Number(e.target.value))} data-testid="detect-to" /></label>
          </>
        )}
        <label>every <input type="number" min={1} value={every} onChange={(e) => setEvery(Math.max(1, Number(e.target.value)))} data-testid="detect-every" /> frames</label>
        <label>min confidence <input type="number" min={0} max={1} step={0.05} value={confidence} onChange={(e) => setConfidence(Number(e.target.value))} data-testid="detect-confidence" /></label>
      </div>
      {kind === "types" && (
        <fieldset className="type-choice" data-testid="detect-types">
          <legend>types to look for</legend>
          {entityTypes.length === 0 && <span className="muted">this persona has no entity types yet</span>}
          {entityTypes.map((t) => (
            <label key={t.id} title={t.detectorClasses ? `← ${t.detectorClasses.join(", ")}` : "classes proposed from its name and description"}>
              <input type="checkbox" checked={!unticked.has(t.id)} data-testid="detect-type" data-type={t.id}
                onChange={(e) => setUnticked((old) => { const next = new Set(old); if (e.target.checked) next.delete(t.id); else next.add(t.id); return next; })} />
              {t.name || t.id}
            </label>
          ))}
        </fieldset>
      )}
      <button className="primary" onClick={run} disabled={busy} data-testid="detect-run">{busy ? "Running…" : "Run"}</button>
      {error && <div className="error-text" data-testid="detect-error">{error}</div>}
      <JobProgress job={job.data} />
      {job.data?.kind === "detect-types" && job.data.status === "completed" && <TypedReport result={job.data.result} personaId={personaId} />}
    </div>
  );
}

/** Track this box: from the selected track's keyframe at this frame, follow the box forward; what follows is replaced. */
/** Tracking is an AI job: an annotator's (the backend refuses a viewer's anyway). */
function TrackThisBoxIfAllowed(props: { ws: Workspace; track: Track; frame: number }) {
  return abilities(useMe().data).annotate ? <TrackThisBox {...props} /> : null;
}

function TrackThisBox({ ws, track, frame }: { ws: Workspace; track: Track; frame: number }) {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  useWhenCompleted(job.data, () => ws.refreshFromServer().catch((e) => setError(errorText(e))));
  const key = keyframeAt(track.frames, frame);
  async function run() {
    setError(null);
    try {
      await ws.autosave.saveNow();  // the server tracks what it has: the box as drawn must be saved first
      setJobId((await jobs.trackBox(ws.video.id, { annotationId: track.id, fromFrame: frame, keyframeEvery: 5 })).jobId);
    } catch (e) { setError(errorText(e)); }
  }
  return (
    <div className="row" data-testid="track-this-box">
      <button onClick={run} disabled={!key || key.outside || track.locked || (!!jobId && !isFinished(job.data))}
        title={key ? "Follow this keyframe's box forward; keyframes after it are replaced" : "Go to a keyframe of the track first"}
        data-testid="track-box-run">Track this box</button>
      {error && <span className="error-text">{error}</span>}
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
  // A persona's summary lists its types (automatic and annotated tracks); the generic one lists detected objects.
  const personaTypes = (current?.summary?.types ?? []) as Array<{
    type_name: string; automatic_tracks: number; annotator_tracks: number; max_simultaneous: number;
    first_seen_s: number; last_seen_s: number; classes: Record<string, number>;
  }>;
  const objects = personaTypes.length ? personaTypes.map((t) => ({
    label: t.type_name, count: t.automatic_tracks + t.annotator_tracks, max_simultaneous: t.max_simultaneous,
    first_seen_s: t.first_seen_s, last_seen_s: t.last_seen_s,
  })) : (current?.summary?.objects ?? []) as Array<{
    label?: string; count?: number; max_simultaneous?: number; first_seen_s?: number; last_seen_s?: number;
  }>;
  const builtFrom = current?.summary?.built_from as ({ detector?: string; frames_sampled?: number; annotator_tracks?: number } & TextSource) | undefined;
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
          {builtFrom && (
            <p className="muted" data-testid="summary-built-from">built from {builtFrom.detector} on {builtFrom.frames_sampled} sampled frames
              and {builtFrom.annotator_tracks} annotator track(s)</p>
          )}
          <p className="muted" data-testid="summary-author">{textAuthor(builtFrom)}</p>
          {/* A model's prose can be wrong (a small one echoes or invents): the facts it was given stay one click away. */}
          {typeof current.summary?.evidence_text === "string" && (
            <details data-testid="summary-evidence"><summary>Evidence the model was given</summary>
              <p className="muted">{current.summary.evidence_text}</p></details>
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

/** Who changed the selected track what and when; an annotator restores an earlier version (the server makes it a new
 * version, which the workspace picks up like anyone else's save). */
function TrackHistory({ trackId, version }: { trackId: string; version: number | undefined }) {
  const can = abilities(useMe().data);
  const history = useQuery({ queryKey: ["track-history", trackId, version], queryFn: () => annotations.history(trackId),
                             enabled: version !== undefined, retry: false });
  const [error, setError] = useState<string | null>(null);
  if (version === undefined) return null;
  return (
    <details className="track-history" data-testid="track-history">
      <summary>History{history.data ? ` (${history.data.length})` : ""}</summary>
      <ul className="plain-list">
        {history.data?.map((h) => (
          <li key={h.id} data-testid="track-version" data-version={h.version}>
            v{h.version} {h.op} by {h.actor ?? "nobody"}, {formatDateTime(h.at)}: {h.label} ({h.keyframes} keyframes)
            {can.annotate && h.op !== "delete" && h.version !== version && (
              <button className="link" data-testid="track-restore" onClick={async () => {
                setError(null);
                try { await annotations.restore(trackId, h.version); } catch (e) { setError(errorText(e)); }
              }}>restore</button>
            )}
          </li>
        ))}
      </ul>
      {error && <div className="error-text">{error}</div>}
    </details>
  );
}
