import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { annotations, personas, videos } from "../api";
import type { Box } from "../editor/types";
import { TopBar } from "../ui/Layout";
import { errorText, formatFps } from "../ui/format";
import { Controls, EditTools } from "./Controls";
import { DetectPanel, SummaryPanel, TrackPanel } from "./SidePanels";
import { handleShortcut, SHORTCUTS } from "./shortcuts";
import { Timeline } from "./Timeline";
import { indexTypes } from "./types";
import { VideoStage } from "./VideoStage";
import { useSaveState, useUi, Workspace } from "./workspace";

const PERSONA_KEY = "fovea.persona";

export function WorkspacePage() {
  const { videoId } = useParams();
  const [ws, setWs] = useState<Workspace | null>(null);
  const [error, setError] = useState<string | null>(null);

  // The document is loaded once per video and owned here, not by the query cache: it is being edited.
  useEffect(() => {
    let cancelled = false;
    let created: Workspace | null = null;
    setWs(null);
    setError(null);
    Promise.all([videos.get(videoId!), annotations.list(videoId!)])
      .then(([video, list]) => {
        if (cancelled) return;
        const revision = list.revision ?? video.annotationRevision ?? 0;
        created = new Workspace(video, list.annotations, revision, { width: video.width ?? 0, height: video.height ?? 0 });
        setWs(created);
      })
      .catch((e) => !cancelled && setError(errorText(e)));
    return () => {
      cancelled = true;
      if (created) {
        // Leaving the workspace inside the app: save what is pending, then let go.
        const leaving = created;
        void leaving.autosave.saveNow().finally(() => leaving.dispose());
      }
    };
  }, [videoId]);

  if (error) return <><TopBar /><div className="error-box page">{error}</div></>;
  if (!ws) return <><TopBar /><div className="page-loading">Loading video…</div></>;
  return <WorkspaceView ws={ws} />;
}

function WorkspaceView({ ws }: { ws: Workspace }) {
  const personaList = useQuery({ queryKey: ["personas"], queryFn: personas.list });
  const [personaId, setPersonaId] = useState<string | null>(() => localStorage.getItem(PERSONA_KEY));
  const visible = (personaList.data ?? []).filter((p) => !p.hidden);
  const persona = visible.find((p) => p.id === personaId) ?? visible[0];
  const ontology = useQuery({ queryKey: ["ontology", persona?.id], queryFn: () => personas.ontology(persona!.id), enabled: !!persona });
  const types = useMemo(() => indexTypes(ontology.data), [ontology.data]);
  const [typeId, setTypeId] = useState<string>("");
  const ui = useUi(ws);
  const [tab, setTab] = useState<"tracks" | "detect" | "summary">("tracks");

  const newBox = useCallback(() => ws.ui.set({ drawing: !ws.ui.get().drawing, selected: null }), [ws]);

  const create = useCallback((box: Box, frame: number) => {
    const type = types.get(typeId) ?? [...types.values()][0];
    const id = crypto.randomUUID();
    ws.doc.addTrack({
      id, type: type?.id ?? "object", label: type?.name ?? "object", personaId: persona?.id ?? null,
      source: "manual", confidence: null, jobId: null, frames: [{ frame, ...box }],
    });
    ws.ui.set({ drawing: false, selected: id });
  }, [types, typeId, persona, ws]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => handleShortcut(ws, e, { newBox });
    const onUnload = (e: BeforeUnloadEvent) => {
      if (!ws.doc.isDirty()) return;
      ws.saveOnUnload();
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("beforeunload", onUnload);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("beforeunload", onUnload);
    };
  }, [ws, newBox]);

  const v = ws.video;
  return (
    <div className="workspace" data-testid="workspace" data-video-id={v.id}>
      <TopBar>
        <Link to="/" className="muted">Videos</Link> / <b data-testid="workspace-title">{v.filename}</b>
        <span className="muted"> · {ws.size.width}×{ws.size.height} · {formatFps(v.fps, v.fpsNum, v.fpsDen)}</span>
        <SaveStatus ws={ws} />
        <label className="persona-select">persona
          <select value={persona?.id ?? ""} onChange={(e) => { setPersonaId(e.target.value); localStorage.setItem(PERSONA_KEY, e.target.value); }} data-testid="persona-select">
            {visible.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        </label>
        <label className="persona-select">new box type
          <select value={typeId} onChange={(e) => setTypeId(e.target.value)} data-testid="type-select">
            {types.size === 0 && <option value="">object (add types in Ontology)</option>}
            {[...types.values()].map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
        </label>
        <button onClick={() => ws.ui.set({ help: true })} title="Shortcuts (?)" data-testid="btn-help">?</button>
      </TopBar>
      <div className="ws-main">
        <div className="ws-left">
          <EditTools ws={ws} onNew={newBox} />
          <VideoStage ws={ws} types={types} onCreate={create} />
          <Controls ws={ws} />
        </div>
        <aside className="ws-side">
          <div className="tabs">
            {(["tracks", "detect", "summary"] as const).map((t) => (
              <button key={t} className={tab === t ? "active" : ""} onClick={() => setTab(t)} data-testid={`tab-${t}`}>{t}</button>
            ))}
          </div>
          {tab === "tracks" && <TrackPanel ws={ws} types={types} />}
          {tab === "detect" && <><DetectPanel ws={ws} /><TrackPanel ws={ws} types={types} /></>}
          {tab === "summary" && <SummaryPanel ws={ws} personaId={persona?.id ?? null} />}
        </aside>
      </div>
      {ui.message && (
        <div className="toast" data-testid="workspace-message" onClick={() => ws.ui.set({ message: null })}>{ui.message} <span className="muted">(click to close)</span></div>
      )}
      <Timeline ws={ws} types={types} />
      {ui.help && <HelpOverlay onClose={() => ws.ui.set({ help: false })} />}
    </div>
  );
}

function SaveStatus({ ws }: { ws: Workspace }) {
  const state = useSaveState(ws);
  const text = state.kind === "saved" ? "All changes saved" : state.kind === "dirty" ? "Unsaved changes" : state.kind === "saving" ? "Saving…"
    : `Save failed: ${state.message}${state.retryInMs ? ` (retrying in ${Math.round(state.retryInMs / 1000)} s)` : " (Ctrl+S to retry)"}`;
  return <span className={`save-status save-${state.kind}`} data-testid="save-status" data-state={state.kind} role="status">{text}</span>;
}

function HelpOverlay({ onClose }: { onClose: () => void }) {
  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div className="modal" onClick={(e) => e.stopPropagation()} data-testid="help-overlay" role="dialog" aria-label="Keyboard shortcuts">
        <h3>Keyboard shortcuts</h3>
        <table>
          <tbody>
            {SHORTCUTS.map((s) => <tr key={s.keys}><td><kbd>{s.keys}</kbd></td><td>{s.does}</td></tr>)}
          </tbody>
        </table>
        <p className="muted">Drag a box to move it, its handles to resize it. Editing a box between keyframes makes a keyframe there.</p>
        <button onClick={onClose}>Close</button>
      </div>
    </div>
  );
}
