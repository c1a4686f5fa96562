import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { annotations, personas, videos, world, type VideoView } from "../api";
import { chooseScope, NO_PERSONA, personaForNew, type PersonaScope } from "../editor/personaScope";
import type { Box } from "../editor/types";
import { abilities } from "../auth/roles";
import { useMe } from "../auth/session";
import { TopBar } from "../ui/Layout";
import { errorText, formatFps } from "../ui/format";
import { Controls, EditTools } from "./Controls";
import { EventsPanel, TrackModelSection, type ModelContext } from "./ModelPanels";
import { DetectPanel, SummaryPanel, TrackPanel } from "./SidePanels";
import { TranscriptPanel } from "../transcript/TranscriptPanel";
import { ReadTextPanel } from "./ReadTextPanel";
import { handleShortcut, SHORTCUTS } from "./shortcuts";
import { Timeline } from "./Timeline";
import { indexTypes } from "./types";
import { VideoStage } from "./VideoStage";
import { Notices } from "./Notices";
import { useDocVersion, useSaveState, useUi, Workspace } from "./workspace";

/** The persona last worked as, anywhere: a video never opened before opens as it. */
const LAST_PERSONA_KEY = "fovea.persona";
const NO_VIEW: VideoView = { hidden: [], personaId: null, allPersonas: false };

export function WorkspacePage() {
  const { videoId } = useParams();
  const queryClient = useQueryClient();
  const [ws, setWs] = useState<Workspace | null>(null);
  const [error, setError] = useState<string | null>(null);

  // The document is loaded once per video and owned here, not by the query cache: it is being edited.
  useEffect(() => {
    let cancelled = false;
    let created: Workspace | null = null;
    setWs(null);
    setError(null);
    // Where this person left the video last time (a failure to read it only means starting at frame 0).
    // A link may name the frame to open at (`?frame=`: an entity's appearance on the World page).
    const asked = Number(new URLSearchParams(window.location.search).get("frame") ?? NaN);
    Promise.all([videos.get(videoId!), videos.view(videoId!).catch(() => NO_VIEW),
      queryClient.fetchQuery({ queryKey: ["personas"], queryFn: personas.list }).catch(() => []), videos.position(videoId!).catch(() => null)])
      .then(async ([video, view, personaList, frame]) => {
        // The persona chosen here last time, else the one used last anywhere, else the first.
        const scope = chooseScope(view.personaId, localStorage.getItem(LAST_PERSONA_KEY), personaList);
        // Everyone's when all are shown (the workspace splits off the others', read only), else only this persona's.
        const doc = await annotations.document(videoId!, view.allPersonas ? null : scope);
        if (cancelled) return;
        created = new Workspace(video, doc, { width: video.width ?? 0, height: video.height ?? 0 },
          Number.isFinite(asked) ? asked : frame ?? 0, { scope, showAll: view.allPersonas, hidden: view.hidden });
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
  }, [videoId, queryClient]);

  if (error) return <><TopBar /><div className="error-box page">{error}</div></>;
  if (!ws) return <><TopBar /><div className="page-loading">Loading video…</div></>;
  return <WorkspaceView ws={ws} />;
}

function WorkspaceView({ ws }: { ws: Workspace }) {
  const personaList = useQuery({ queryKey: ["personas"], queryFn: personas.list });
  const visible = (personaList.data ?? []).filter((p) => !p.hidden);
  // The persona this workspace shows and saves (no persona: the team's tracks only, and no ontology).
  const ui = useUi(ws);
  const persona = visible.find((p) => p.id === ui.scope);
  const workAs = useCallback((scope: PersonaScope) => {
    localStorage.setItem(LAST_PERSONA_KEY, scope);
    void ws.workAs(scope);
  }, [ws]);
  useEffect(() => {
    ws.ui.set({ personaNames: new Map((personaList.data ?? []).map((p) => [p.id, p.name])) });
  }, [ws, personaList.data]);
  const ontology = useQuery({ queryKey: ["ontology", persona?.id], queryFn: () => personas.ontology(persona!.id), enabled: !!persona });
  const types = useMemo(() => indexTypes(ontology.data), [ontology.data]);
  const [typeId, setTypeId] = useState<string>("");
  const [tab, setTab] = useState<"tracks" | "events" | "detect" | "summary" | "transcript">("tracks");
  // A viewer reads: no drawing tools and no detection (the backend refuses a viewer's writes anyway).
  const can = abilities(useMe().data);
  const worldState = useQuery({ queryKey: ["world"], queryFn: world.get });
  const context: ModelContext = useMemo(() => ({ personaId: persona?.id ?? null, ontology: ontology.data,
    entities: worldState.data?.entities ?? [] }), [persona?.id, ontology.data, worldState.data]);
  // Events and relations are checked against this persona's ontology and the world's entities before an edit.
  useEffect(() => {
    ws.doc.setSemantics({
      ontology: (id) => (id === context.personaId ? context.ontology ?? null : null),
      entity: (id) => context.entities.find((e) => e.id === id) ?? null,
    });
  }, [ws, context]);
  const selectedTrack = ui.selected ? ws.doc.get(ui.selected) : undefined;
  // M, then a pick: the two tracks merge (or the message says why not).
  useEffect(() => {
    if (!ui.merging || !ui.selected || ui.selected === ui.merging) return;
    const result = ws.doc.mergeTracks(ui.merging, ui.selected);
    ws.ui.set({ merging: null, message: result.ok ? null : result.problem.message });
  }, [ws, ui.merging, ui.selected]);

  const newBox = useCallback(() => {
    if (!ws.ui.get().unplayable) ws.ui.set({ drawing: !ws.ui.get().drawing, selected: null });
  }, [ws]);

  const create = useCallback((box: Box, frame: number) => {
    const type = types.get(typeId) ?? [...types.values()][0];
    if (ws.ui.get().unplayable) return;
    const id = crypto.randomUUID();
    ws.doc.addTrack({
      id, type: type?.id ?? "object", label: type?.name ?? "object", personaId: personaForNew(ws.scope),
      source: "manual", confidence: null, jobId: null, frames: [{ frame, ...box }],
    });
    ws.ui.set({ drawing: false, selected: id });
  }, [types, typeId, ws]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => handleShortcut(ws, e, { newBox, markEvent: () => setTab("events") });
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
        <span className="ws-title"><Link to="/" className="muted">Videos</Link> / <b data-testid="workspace-title" title={v.filename}>{v.filename}</b></span>
        <span className="muted ws-facts">{ws.size.width}×{ws.size.height} · {formatFps(v.fps, v.fpsNum, v.fpsDen)}</span>
        <SaveStatus ws={ws} />
        <label className="persona-select" title="The persona whose tracks this workspace shows and saves (and the team's, which have none)">persona
          <select value={ui.scope} onChange={(e) => workAs(e.target.value)} data-testid="persona-select" data-scope={ui.scope}>
            {visible.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            {ui.scope !== NO_PERSONA && !persona && <option value={ui.scope}>(loading…)</option>}
            <option value={NO_PERSONA}>no persona</option>
          </select>
        </label>
        <label className="show-all" title="Also show the other personas' tracks, faded and read only">
          <input type="checkbox" checked={ui.showAll} onChange={(e) => void ws.setShowAll(e.target.checked)} data-testid="show-all-personas" />
          all personas
        </label>
        <label className="persona-select">new box type
          <select value={typeId} onChange={(e) => setTypeId(e.target.value)} data-testid="type-select">
            {types.size === 0 && <option value="">object (add types in Ontology)</option>}
            {[...types.values()].map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
        </label>
        <button onClick={() => ws.ui.set({ help: true })} title="Shortcuts (?)" data-testid="btn-help">?</button>
      </TopBar>
      <Notices ws={ws} />
      <div className="ws-main">
        <div className="ws-left">
          {can.annotate ? <EditTools ws={ws} onNew={newBox} />
            : <div className="muted" data-testid="read-only">Read only: a viewer does not change annotations.</div>}
          <VideoStage ws={ws} types={types} onCreate={create} />
          <Controls ws={ws} />
        </div>
        <aside className="ws-side">
          <div className="tabs">
            {(["tracks", "events", "detect", "summary", "transcript"] as const).filter((t) => can.annotate || t !== "detect").map((t) => (
              <button key={t} className={tab === t ? "active" : ""} onClick={() => setTab(t)} data-testid={`tab-${t}`}>{t}</button>
            ))}
          </div>
          {tab === "tracks" && <><TrackPanel ws={ws} types={types} />{selectedTrack && <TrackModelSection key={selectedTrack.id} ws={ws} trackId={selectedTrack.id} context={context} />}</>}
          {tab === "events" && <EventsPanel ws={ws} context={context} />}
          {tab === "detect" && <><DetectPanel ws={ws} personaId={persona?.id ?? null} ontology={ontology.data} /><ReadTextPanel ws={ws} personaId={persona?.id ?? null} /><TrackPanel ws={ws} types={types} /></>}
          {tab === "summary" && <SummaryPanel ws={ws} personaId={persona?.id ?? null} />}
          {tab === "transcript" && <TranscriptPanel ws={ws} canRun={can.annotate} />}
        </aside>
      </div>
      <Timeline ws={ws} types={types} />
      {ui.help && <HelpOverlay onClose={() => ws.ui.set({ help: false })} />}
    </div>
  );
}

function SaveStatus({ ws }: { ws: Workspace }) {
  const state = useSaveState(ws);
  useDocVersion(ws);
  const open = ws.doc.conflicts().length;
  const text = state.kind === "saved" ? "All changes saved" : state.kind === "dirty" ? "Unsaved changes" : state.kind === "saving" ? "Saving…"
    : `Save failed: ${state.message}${state.retryInMs ? ` (retrying in ${Math.round(state.retryInMs / 1000)} s)` : " (Ctrl+S to retry)"}`;
  return (
    <span className={`save-status save-${state.kind}${open ? " save-conflicts" : ""}`} data-testid="save-status" data-state={state.kind}
      data-conflicts={open} role="status" title={text}>
      {text}{open ? ` · ${open} to choose` : ""}
    </span>
  );
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
