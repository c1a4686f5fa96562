/**
 * The transcript beside the player: every word, the one being said at the current frame highlighted (and kept in
 * view while playing), a click on a word seeks the player to it. "Transcribe" runs the speech-to-text job for those
 * who may run jobs, with the model chosen beside it (the registry's transcript models, imported Whisper models too,
 * as the Detect panel offers detectors); a video with no audio track or no speech says so instead of showing an empty
 * list.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useMemo, useRef, useState } from "react";
import { models, transcripts } from "../api";
import { usePlayer, type Workspace } from "../annotate/workspace";
import { frameAtTime, startTimeOfFrame } from "../editor/time";
import { isFinished, JobProgress, useJob } from "../jobs/useJob";
import { errorText } from "../ui/format";
import { emptyNote, wordDuring, wordsOf } from "./words";

export function TranscriptPanel({ ws, canRun }: { ws: Workspace; canRun: boolean }) {
  const queryClient = useQueryClient();
  const transcript = useQuery({ queryKey: ["transcript", ws.video.id], queryFn: () => transcripts.get(ws.video.id) });
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [model, setModel] = useState<string>("");
  const offered = useQuery({ queryKey: ["models", "transcript"], queryFn: () => models.list("transcript"), enabled: canRun });
  const job = useJob(jobId);
  useEffect(() => {
    if (job.data?.status === "completed") void queryClient.invalidateQueries({ queryKey: ["transcript", ws.video.id] });
  }, [job.data?.status, queryClient, ws.video.id]);

  const words = useMemo(() => wordsOf(transcript.data), [transcript.data]);
  const { frame, playing } = usePlayer(ws);
  const current = wordDuring(words, startTimeOfFrame(frame, ws.player.rate), startTimeOfFrame(frame + 1, ws.player.rate));
  const list = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!playing || current < 0) return;
    list.current?.querySelector(`[data-index="${current}"]`)?.scrollIntoView({ block: "nearest" });
  }, [current, playing]);

  const note = emptyNote(transcript.data);
  return (
    <div className="panel-section" data-testid="transcript-panel" data-status={transcript.data?.status ?? (transcript.data === null ? "none" : "")}>
      <h3>Transcript</h3>
      {canRun && (<div className="form-grid">
        <label>model
          <select value={model} onChange={(e) => setModel(e.target.value)} data-testid="transcribe-model">
            <option value="">default</option>
            {(offered.data ?? []).map((m) => (
              <option key={m.name} value={m.name} title={`${m.description} (${m.licence})`}>{m.name}{m.default ? " (default)" : ""} · {m.licence}</option>
            ))}
          </select>
        </label>
        <button onClick={async () => {
          setError(null);
          try { setJobId((await transcripts.request(ws.video.id, model || undefined)).jobId); } catch (e) { setError(errorText(e)); }
        }} disabled={!!jobId && !isFinished(job.data)} data-testid="transcribe-request"
          title="Speech to text with word times (replaces this video's transcript)">Transcribe</button>
      </div>)}
      {error && <div className="error-text">{error}</div>}
      {transcript.error && <div className="error-text">{errorText(transcript.error)}</div>}
      <JobProgress job={job.data} />
      {note && <p className="muted" data-testid="transcript-note">{note}</p>}
      {words.length > 0 && (
        <div className="transcript-words" ref={list} data-testid="transcript-words">
          {/* A space after each word: inline spans with nothing between them never wrap. */}
          {words.map((w) => (<Fragment key={w.index}>
            <span data-index={w.index} data-start={w.start} data-testid="transcript-word"
              className={`transcript-word${w.index === current ? " current" : ""}${w.probability < 0.5 ? " unsure" : ""}`}
              aria-current={w.index === current ? "true" : undefined}
              title={`${w.start.toFixed(2)}–${w.end.toFixed(2)} s · ${Math.round(w.probability * 100)} %`}
              onClick={() => ws.player.seek(frameAtTime(w.start, ws.player.rate, ws.player.frameCount))}>{w.word}</span>{" "}
          </Fragment>))}
        </div>
      )}
      {transcript.data && <div className="muted small" data-testid="transcript-model">{transcript.data.model}{transcript.data.language ? ` · ${transcript.data.language}` : ""}</div>}
    </div>
  );
}
