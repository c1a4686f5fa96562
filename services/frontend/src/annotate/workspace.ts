/**
 * Everything one open video needs, wired once: the document, its autosave, the player, and the UI's own
 * state (selection, hidden tracks, draw mode) in a small store so a selection change does not re-render
 * on every frame and a frame does not re-render the track list.
 */
import { useSyncExternalStore } from "react";
import { annotations, RevisionConflict, ApiError, videos, type Annotation, type Video } from "../api";
import { Autosave, SaveConflict, SaveRejected, type SaveTransport } from "../editor/autosave";
import { AnnotationDocument } from "../editor/document";
import { journalKey, keepJournal, readJournal, setAside, type KeyValueStore } from "../editor/journal";
import { changesFitScope, NO_PERSONA, splitByScope, type LoadedObjects, type PersonaScope } from "../editor/personaScope";
import { frameRate } from "../editor/time";
import type { AnnotationEvent, Relation, Size, Track } from "../editor/types";
import { Player } from "./player";

const WATCH_MS = 5000;

/** Where the person is in the video, kept on the server per user and video (reopening returns there). */
class PositionKeeper {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private saved: number;
  private stop: () => void;

  constructor(private readonly videoId: string, private readonly player: Player, start: number) {
    this.saved = start;
    this.stop = player.subscribe(() => {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), 1500);
    });
  }

  flush(keepalive = false): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const frame = this.player.frame;
    if (frame === this.saved) return;
    this.saved = frame;
    void videos.setPosition(this.videoId, frame, keepalive).catch(() => {});
  }

  dispose(): void {
    this.stop();
    this.flush(true);
  }
}

export function trackOf(a: Annotation): Track {
  return {
    id: a.id, type: a.type, label: a.label, personaId: a.personaId ?? null, source: a.source,
    confidence: a.confidence ?? null, jobId: a.jobId, frames: a.frames, version: a.version,
    entityId: a.entityId ?? null, attributes: a.attributes ?? {}, locked: a.locked ?? false,
  };
}

/** The server's event or relation as the document holds it (without the row's bookkeeping). */
function objectOf<T extends { version?: number }>(o: T & { videoId?: string; createdAt?: string; updatedAt?: string }): T {
  const { videoId: _v, createdAt: _c, updatedAt: _u, ...rest } = o;
  return rest as unknown as T;
}

export interface UiState {
  selected: string | null;
  hidden: ReadonlySet<string>;
  drawing: boolean;
  help: boolean;
  message: string | null;
  /** Why nothing can be drawn: the file (the backend's verdict) or this browser cannot show the video. */
  unplayable: string | null;
  /** The selected event (the events lane, the events panel). */
  selectedEvent: string | null;
  /** M pressed on this track: the next track picked is merged with it. */
  merging: string | null;
  /** The persona this workspace shows and saves (editor/personaScope.ts); its document is that persona's. */
  scope: PersonaScope;
  /** Every persona's tracks asked for: the others' are shown read only. */
  showAll: boolean;
  /** The other personas' tracks shown read only (none unless showAll); never in the document, never saved. */
  others: readonly Track[];
  /** Persona id → name, for saying whose a faded box is. */
  personaNames: ReadonlyMap<string, string>;
}

class UiStore {
  private state: UiState = { selected: null, hidden: new Set(), drawing: false, help: false, message: null, unplayable: null,
    selectedEvent: null, merging: null, scope: NO_PERSONA, showAll: false, others: [], personaNames: new Map() };
  private listeners = new Set<() => void>();
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  get = (): UiState => this.state;
  set(patch: Partial<UiState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }
}

/** The server's document as the editor holds it. */
function loadedOf(doc: { tracks: Annotation[]; events?: AnnotationEvent[]; relations?: Relation[] }) {
  return { tracks: doc.tracks.map(trackOf), events: (doc.events ?? []).map(objectOf), relations: (doc.relations ?? []).map(objectOf) };
}

/**
 * A persona's objects as the editor holds them, loaded for `scope` — or everyone's when all are shown, split here, so
 * the others' tracks (`others`, empty unless `showAll`) only ever reach the read-only list.
 */
async function loadScoped(videoId: string, scope: PersonaScope, showAll: boolean):
  Promise<{ revision: number; others: Track[] } & LoadedObjects> {
  const doc = await annotations.document(videoId, showAll ? null : scope);
  const { mine, others } = splitByScope(loadedOf(doc), scope);
  return { ...mine, revision: doc.revision, others: showAll ? others : [] };
}

/** Saves scoped to the persona worked as (the server refuses one naming another persona's object), loads of its objects. */
function transportFor(videoId: string, ui: UiStore): SaveTransport {
  return {
    async save(changes, revision) {
      try {
        const result = await annotations.save(videoId, changes, revision, { scope: ui.get().scope });
        return { ...result, annotations: result.annotations.map(trackOf), events: (result.events ?? []).map(objectOf),
          relations: (result.relations ?? []).map(objectOf) };
      } catch (error) {
        if (error instanceof RevisionConflict) throw new SaveConflict(error.revision);
        // A 4xx other than 401/408/429 will fail again the same way: stop retrying, show it.
        if (error instanceof ApiError && error.status >= 400 && error.status < 500 && ![401, 408, 429].includes(error.status)) {
          throw new SaveRejected(error.message);
        }
        throw error;
      }
    },
    async load() {
      const { scope, showAll } = ui.get();
      const loaded = await loadScoped(videoId, scope, showAll);
      // Worked as another persona meanwhile: this persona's objects must not reach that one's document.
      if (ui.get().scope !== scope) throw new Error("the persona changed while its annotations were read");
      if (ui.get().showAll === showAll) ui.set({ others: loaded.others });
      return loaded;
    },
  };
}

/** What this browser kept of a previous visit, replayed through the merge; the message says what happened. */
function restoreJournal(doc: AnnotationDocument, store: KeyValueStore, videoId: string): string | null {
  const journal = readJournal(store, videoId);
  if (!journal) return null;
  if (journal.kind === "changes") {
    const { applied, clashed } = doc.replay(journal.changes, journal.tracks, journal.conflicts);
    const waiting = doc.conflicts().length;
    if (applied + clashed === 0 && waiting === 0) return null; // all of it had reached the server after all
    return `Restored ${applied + clashed} unsaved change(s) from this browser.` +
      (clashed ? ` ${clashed} of them met a change someone else made meanwhile: not applied.` : "") +
      (waiting ? ` ${waiting} wait for your choice below.` : "");
  }
  if (journal.kind === "whole-tracks") {
    const kept = setAside(store, videoId);
    const listed = doc.replayWholeTracks(journal.upsert, journal.delete);
    return `This browser kept ${journal.upsert.length + journal.delete.length} unsaved track(s) from an older version of the` +
      ` app, made against an unknown revision: nothing was applied. ${listed} difference(s) from the server are listed` +
      ` below to choose in${kept ? ` (the original entry is kept in this browser as ${kept})` : ""}.`;
  }
  const kept = setAside(store, videoId);
  return `This browser holds unsaved changes in a format this app cannot read (version ${String(journal.version)}):` +
    ` nothing was applied, and they were left untouched${kept ? ` as ${kept}` : ""}.`;
}

/**
 * The journal of this persona's workspace of the video; failing that, one kept before workspaces had a persona (one
 * per video), replayed only if everything in it is this workspace's — else left untouched, with a message. `adopted`:
 * the old entry was replayed and should go once this persona's journal holds it.
 */
function restoreScopedJournal(doc: AnnotationDocument, store: KeyValueStore, videoId: string, scope: PersonaScope):
  { message: string | null; adopted: boolean } {
  const scoped = `${videoId}.${scope}`;
  if (readJournal(store, scoped)) return { message: restoreJournal(doc, store, scoped), adopted: false };
  const unscoped = readJournal(store, videoId);
  if (unscoped?.kind === "changes" && !changesFitScope(unscoped.changes, unscoped.tracks, scope,
    (kind, id) => doc.serverObject(kind, id) !== undefined)) {
    const kept = setAside(store, videoId);
    return { adopted: false, message: "This browser kept unsaved changes of this video from before the workspace had a" +
      " persona, some of them to tracks this persona does not edit: nothing was applied, and they were left untouched" +
      `${kept ? ` as ${kept}` : ""}.` };
  }
  return { message: restoreJournal(doc, store, videoId), adopted: unscoped?.kind === "changes" };
}

export class Workspace {
  readonly doc: AnnotationDocument;
  readonly autosave: Autosave;
  readonly player: Player;
  readonly ui = new UiStore();
  /** Video pixels; from the backend, or from the video element when the backend does not know. */
  size: Size;

  private stopJournal: () => void;
  /** The persona a switch under way goes to: a later choice wins over an earlier one still loading. */
  private switchingTo: PersonaScope | null = null;
  private position: PositionKeeper;
  private watch: ReturnType<typeof setInterval>;

  /**
   * `loaded`: the server's document, everyone's when `view.showAll` (the others' tracks are split off here) or the
   * persona's. `view.scope`: the persona this workspace shows and saves (editor/personaScope.ts).
   */
  constructor(readonly video: Video, loaded: { revision: number; tracks: Annotation[]; events?: AnnotationEvent[]; relations?: Relation[] },
    size: Size, startFrame: number, view: { scope: PersonaScope; showAll: boolean; hidden: string[] }) {
    const { mine, others } = splitByScope(loadedOf(loaded), view.scope);
    this.doc = new AnnotationDocument(mine.tracks, loaded.revision, { events: mine.events, relations: mine.relations });
    this.ui.set({ hidden: new Set(view.hidden), scope: view.scope, showAll: view.showAll, others: view.showAll ? others : [] });
    this.autosave = new Autosave(this.doc, transportFor(video.id, this.ui));
    this.stopJournal = this.restoreJournal();
    const rate = frameRate(video.fpsNum, video.fpsDen, video.fps);
    const frameCount = video.frameCount ?? (video.duration ? Math.round((video.duration * rate.num) / rate.den) : null);
    this.player = new Player(rate, frameCount);
    this.player.seek(startFrame);
    this.position = new PositionKeeper(video.id, this.player, this.player.frame);
    this.size = size;
    if (video.problem) this.ui.set({ unplayable: `This file cannot be annotated: ${video.problem}.` });
    // What others save shows up without a reload: a look at the revision while idle (one small request), the
    // tracks read and merged only when it moved.
    this.watch = setInterval(() => void this.lookForOthers(), WATCH_MS);
  }

  private async lookForOthers(): Promise<void> {
    if (document.hidden || !this.autosave.idle()) return;
    try {
      const now = await videos.get(this.video.id);
      if (now.annotationRevision !== undefined && now.annotationRevision !== this.doc.revision && this.autosave.idle()) {
        await this.autosave.catchUp();
      }
    } catch {
      /* offline or signed out: the next save or look will tell */
    }
  }

  /** The persona this workspace shows and saves. */
  get scope(): PersonaScope {
    return this.ui.get().scope;
  }

  /**
   * Edits a previous visit could not save come back through the merge (unsaved, so the autosave sends them now). One
   * journal per persona: edits made as one persona are never replayed into (and saved as) another's. Returns the
   * journal's unsubscribe.
   */
  private restoreJournal(): () => void {
    const { message, adopted } = restoreScopedJournal(this.doc, localStorage, this.video.id, this.scope);
    if (message) this.ui.set({ message });
    const stop = keepJournal(this.doc, localStorage, `${this.video.id}.${this.scope}`);
    if (adopted) localStorage.removeItem(journalKey(this.video.id)); // this persona's journal holds it now
    return stop;
  }

  /**
   * Work as another persona, in place (player, panels and hidden tracks stay): what is pending is saved first, the
   * chosen persona's document is read, and the switch itself happens in one step with no edit in between. Edits
   * that could not be saved stay in the old persona's journal, replayed when it is chosen again. Kept for this user
   * and video.
   */
  async workAs(scope: PersonaScope): Promise<void> {
    if (scope === (this.switchingTo ?? this.scope)) return;
    this.switchingTo = scope;
    await this.autosave.saveNow().catch(() => {});
    let loaded: Awaited<ReturnType<typeof loadScoped>>;
    try {
      loaded = await loadScoped(this.video.id, scope, this.ui.get().showAll);
    } catch (error) {
      if (this.switchingTo === scope) this.switchingTo = null;
      this.ui.set({ message: `Could not read that persona's annotations (${error instanceof Error ? error.message : String(error)}):` +
        " still working as before." });
      return;
    }
    await this.autosave.saveNow().catch(() => {}); // anything edited while it loaded
    if (this.switchingTo !== scope) return; // chosen otherwise meanwhile: that switch takes over
    this.switchingTo = null;
    // From here on synchronous: nothing can be edited between leaving the old document and taking the new one.
    this.stopJournal();
    this.doc.reset(loaded.tracks, loaded.revision, { events: loaded.events, relations: loaded.relations });
    this.ui.set({ scope, selected: null, selectedEvent: null, merging: null, drawing: false, message: null,
      others: this.ui.get().showAll ? loaded.others : [] });
    this.stopJournal = this.restoreJournal();
    void videos.setView(this.video.id, { personaId: scope }).catch(() => {});
  }

  /** Hide or show a track; kept on the server for this user and video (a failure to keep it only costs that). */
  toggleHidden(id: string): void {
    const next = new Set(this.ui.get().hidden);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    this.ui.set({ hidden: next });
    void videos.setView(this.video.id, { hidden: [...next] }).catch(() => {});
  }

  /** Show every persona's tracks (the others' read only) or only this persona's; kept for this user and video. */
  async setShowAll(showAll: boolean): Promise<void> {
    this.ui.set({ showAll, others: [] });
    void videos.setView(this.video.id, { allPersonas: showAll }).catch(() => {});
    if (!showAll) return;
    const doc = await annotations.document(this.video.id);
    if (this.ui.get().showAll) this.ui.set({ others: splitByScope(loadedOf(doc), this.scope).others });
  }

  /** Take the server's tracks (a job stored candidates), keeping unsaved local edits on top. */
  async refreshFromServer(): Promise<void> {
    await this.autosave.catchUp();
  }

  /** The save for leaving the page: keepalive, so the browser finishes it after the tab is gone. */
  saveOnUnload(): void {
    this.position.flush(true);
    if (!this.doc.isDirty()) return;
    void annotations.save(this.video.id, this.doc.pendingChanges(), this.doc.revision, { keepalive: true, scope: this.scope })
      .catch(() => {});
  }

  dispose(): void {
    clearInterval(this.watch);
    this.position.dispose();
    this.stopJournal();
    this.autosave.dispose();
    this.player.dispose();
  }
}

export function usePlayer(ws: Workspace) {
  return useSyncExternalStore(ws.player.subscribe, ws.player.getSnapshot);
}

export function useDocVersion(ws: Workspace): number {
  return useSyncExternalStore(ws.doc.subscribe, ws.doc.getVersion);
}

export function useUi(ws: Workspace): UiState {
  return useSyncExternalStore(ws.ui.subscribe, ws.ui.get);
}

export function useSaveState(ws: Workspace) {
  return useSyncExternalStore(ws.autosave.subscribe, ws.autosave.getState);
}
