/**
 * Everything one open video needs, wired once: the document, its autosave, the player, and the UI's own
 * state (selection, hidden tracks, draw mode) in a small store so a selection change does not re-render
 * on every frame and a frame does not re-render the track list.
 */
import { useSyncExternalStore } from "react";
import { annotations, RevisionConflict, ApiError, type Annotation, type Video } from "../api";
import { Autosave, SaveConflict, SaveRejected, type SaveTransport } from "../editor/autosave";
import { AnnotationDocument } from "../editor/document";
import { keepJournal, readJournal } from "../editor/journal";
import { frameRate } from "../editor/time";
import type { Size, Track } from "../editor/types";
import { Player } from "./player";

export function trackOf(a: Annotation): Track {
  return {
    id: a.id, type: a.type, label: a.label, personaId: a.personaId, source: a.source,
    confidence: a.confidence, jobId: a.jobId, frames: a.frames,
  };
}

export interface UiState {
  selected: string | null;
  hidden: ReadonlySet<string>;
  drawing: boolean;
  help: boolean;
  message: string | null;
}

class UiStore {
  private state: UiState = { selected: null, hidden: new Set(), drawing: false, help: false, message: null };
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

function transportFor(videoId: string): SaveTransport {
  return {
    async save(changes, revision) {
      try {
        const result = await annotations.save(videoId, changes, revision);
        return { revision: result.revision, annotations: result.annotations.map(trackOf) };
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
      const list = await annotations.list(videoId);
      return { tracks: list.annotations.map(trackOf), revision: list.revision ?? 0 };
    },
  };
}

export class Workspace {
  readonly doc: AnnotationDocument;
  readonly autosave: Autosave;
  readonly player: Player;
  readonly ui = new UiStore();
  /** Video pixels; from the backend, or from the video element when the backend does not know. */
  size: Size;

  private stopJournal: () => void;

  constructor(readonly video: Video, initial: Annotation[], revision: number, size: Size) {
    this.doc = new AnnotationDocument(initial.map(trackOf));
    this.autosave = new Autosave(this.doc, transportFor(video.id), revision);
    // Edits a previous visit could not save come back (dirty, so the autosave sends them now).
    const unsaved = readJournal(localStorage, video.id);
    if (unsaved) {
      this.doc.restoreUnsaved(unsaved);
      this.ui.set({ message: `Restored ${unsaved.upsert.length + unsaved.delete.length} unsaved change(s) from this browser.` });
    }
    this.stopJournal = keepJournal(this.doc, localStorage, video.id);
    const rate = frameRate(video.fpsNum, video.fpsDen, video.fps);
    const frameCount = video.frameCount ?? (video.duration ? Math.round((video.duration * rate.num) / rate.den) : null);
    this.player = new Player(rate, frameCount);
    this.size = size;
  }

  /** Take the server's tracks (a job stored candidates), keeping unsaved local edits on top. */
  async refreshFromServer(): Promise<void> {
    const list = await annotations.list(this.video.id);
    this.doc.rebase(list.annotations.map(trackOf));
    // Our dirty tracks now sit on top of the server's state at this revision, so saving them there is right.
    if (list.revision !== null) this.autosave.revision = list.revision;
  }

  /** The save for leaving the page: keepalive, so the browser finishes it after the tab is gone. */
  saveOnUnload(): void {
    if (!this.doc.isDirty()) return;
    void annotations.save(this.video.id, this.doc.pendingChanges(), this.autosave.revision, true).catch(() => {});
  }

  dispose(): void {
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
