/**
 * The annotation document of one video: tracks, the commands that edit them, undo/redo, and the dirty
 * set (tracks changed or deleted since the last save). No React, no DOM: the UI subscribes and dispatches.
 *
 * Every command records, per touched track, the track before and after (tracks are immutable values), so
 * undo and redo are "put these values back" and any edit — a box, a label, a delete, "accept all" — is
 * one step however many tracks it touches.
 */
import { boxAt, keyframeAt, withKeyframe, withoutKeyframe } from "./keyframes";
import type { Box, Keyframe, Source, Track } from "./types";

interface Change {
  id: string;
  before: Track | null;
  after: Track | null;
  /** Position in the track order, to put a deleted track back where it was. */
  index: number;
}

interface Step {
  label: string;
  changes: Change[];
}

export const HISTORY_LIMIT = 500;

export type TrackPatch = Partial<Pick<Track, "type" | "label" | "personaId" | "source" | "confidence">>;

export class AnnotationDocument {
  private tracks = new Map<string, Track>();
  private order: string[] = [];
  private undoStack: Step[] = [];
  private redoStack: Step[] = [];
  private dirtyIds = new Set<string>();
  private listeners = new Set<() => void>();
  /** Bumped on every change: a cheap snapshot for useSyncExternalStore. */
  version = 0;

  constructor(initial: Track[] = []) {
    this.reset(initial);
  }

  // --- reading ----------------------------------------------------------------------------------------
  get(id: string): Track | undefined {
    return this.tracks.get(id);
  }

  /** Tracks in display order (creation order, as the backend lists them). */
  list(): Track[] {
    return this.order.map((id) => this.tracks.get(id)!);
  }

  get size(): number {
    return this.order.length;
  }

  canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  undoLabel(): string | null {
    return this.undoStack[this.undoStack.length - 1]?.label ?? null;
  }

  // --- subscriptions ----------------------------------------------------------------------------------
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  private emit(): void {
    this.version++;
    for (const listener of this.listeners) listener();
  }

  // --- loading and saving -----------------------------------------------------------------------------
  /** Replace everything with the server's tracks: history and dirty set start empty. */
  reset(tracks: Track[]): void {
    this.tracks = new Map(tracks.map((t) => [t.id, t]));
    this.order = tracks.map((t) => t.id);
    this.undoStack = [];
    this.redoStack = [];
    this.dirtyIds.clear();
    this.emit();
  }

  /**
   * Replace the server's side (after a 409: someone else saved) and keep our unsaved edits on top: every
   * dirty track keeps its local value (or stays deleted), every other track takes the server's. History is
   * kept, since the steps only touch our own (dirty or saved) tracks.
   */
  rebase(serverTracks: Track[]): void {
    const local = new Map(this.tracks);
    const next = new Map<string, Track>();
    const order: string[] = [];
    for (const t of serverTracks) {
      if (this.dirtyIds.has(t.id)) {
        const mine = local.get(t.id);
        if (mine) {
          next.set(t.id, mine);
          order.push(t.id);
        }
      } else {
        next.set(t.id, t);
        order.push(t.id);
      }
    }
    for (const id of this.order) {
      if (!next.has(id) && this.dirtyIds.has(id) && local.has(id)) {
        next.set(id, local.get(id)!);
        order.push(id);
      }
    }
    this.tracks = next;
    this.order = order;
    this.emit();
  }

  /** What a save must send: the dirty tracks that exist (upsert) and those that do not (delete). */
  pendingChanges(): { upsert: Track[]; delete: string[] } {
    const upsert: Track[] = [];
    const deleted: string[] = [];
    for (const id of this.dirtyIds) {
      const track = this.tracks.get(id);
      if (track) upsert.push(track);
      else deleted.push(id);
    }
    return { upsert, delete: deleted };
  }

  isDirty(): boolean {
    return this.dirtyIds.size > 0;
  }

  dirtyCount(): number {
    return this.dirtyIds.size;
  }

  /**
   * A save of `sent` succeeded: those tracks are clean unless they changed again while it was in flight
   * (their current value is no longer the very object that was sent).
   */
  markSaved(sent: { upsert: Track[]; delete: string[] }, saved?: Track[]): void {
    for (const track of sent.upsert) {
      if (this.tracks.get(track.id) === track) {
        this.dirtyIds.delete(track.id);
        // The server's copy (its timestamps) replaces ours without dirtying it again.
        const fresh = saved?.find((s) => s.id === track.id);
        if (fresh) this.tracks.set(track.id, fresh);
      }
    }
    for (const id of sent.delete) {
      if (!this.tracks.has(id)) this.dirtyIds.delete(id);
    }
    this.emit();
  }

  /**
   * Put back unsaved edits from the local journal (a reload, a lost session, a crashed tab): the tracks take
   * their journaled values and the deleted ones go, all dirty, none in the history (they are not this
   * session's steps).
   */
  restoreUnsaved(journal: { upsert: Track[]; delete: string[] }): void {
    for (const track of journal.upsert) {
      if (!this.tracks.has(track.id)) this.order.push(track.id);
      this.tracks.set(track.id, track);
      this.dirtyIds.add(track.id);
    }
    for (const id of journal.delete) {
      if (this.tracks.delete(id)) this.order.splice(this.order.indexOf(id), 1);
      this.dirtyIds.add(id);
    }
    this.emit();
  }

  // --- the history ------------------------------------------------------------------------------------
  private commit(label: string, updates: Array<{ id: string; after: Track | null }>): void {
    const changes: Change[] = [];
    for (const { id, after } of updates) {
      const before = this.tracks.get(id) ?? null;
      if (before === after) continue;
      changes.push({ id, before, after, index: this.order.indexOf(id) });
      this.apply(id, after, this.order.length);
    }
    if (changes.length === 0) return;
    this.undoStack.push({ label, changes });
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.emit();
  }

  private apply(id: string, value: Track | null, index: number): void {
    const exists = this.tracks.has(id);
    if (value) {
      this.tracks.set(id, value);
      if (!exists) this.order.splice(Math.min(Math.max(index, 0), this.order.length), 0, id);
    } else if (exists) {
      this.tracks.delete(id);
      this.order.splice(this.order.indexOf(id), 1);
    }
    this.dirtyIds.add(id);
  }

  undo(): string | null {
    const step = this.undoStack.pop();
    if (!step) return null;
    for (const change of [...step.changes].reverse()) this.apply(change.id, change.before, change.index);
    this.redoStack.push(step);
    this.emit();
    return step.label;
  }

  redo(): string | null {
    const step = this.redoStack.pop();
    if (!step) return null;
    for (const change of step.changes) this.apply(change.id, change.after, change.index);
    this.undoStack.push(step);
    this.emit();
    return step.label;
  }

  // --- commands ---------------------------------------------------------------------------------------
  addTrack(track: Track): void {
    this.commit("new box", [{ id: track.id, after: track }]);
  }

  /** Set the box at a frame: a keyframe there is replaced, otherwise one is made (editing inside a span). */
  setBox(id: string, frame: number, box: Box): void {
    const track = this.tracks.get(id);
    if (!track) return;
    const existing = keyframeAt(track.frames, frame);
    const kf: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height };
    if (existing?.outside) kf.outside = true;
    this.commit("move box", [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
  }

  /** K: make the shown box a keyframe, or remove the keyframe here (never the track's last one). */
  toggleKeyframe(id: string, frame: number): void {
    const track = this.tracks.get(id);
    if (!track) return;
    if (keyframeAt(track.frames, frame)) {
      if (track.frames.length <= 1) return;
      this.commit("remove keyframe", [{ id, after: { ...track, frames: withoutKeyframe(track.frames, frame) } }]);
      return;
    }
    const box = boxAt(track, frame);
    if (!box || box.outside) return;
    const kf: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height };
    this.commit("add keyframe", [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
  }

  /**
   * O: mark the object outside from this frame (a keyframe carrying the last box), or, where it is
   * outside, bring it back in at this frame.
   */
  toggleOutside(id: string, frame: number): void {
    const track = this.tracks.get(id);
    if (!track) return;
    const box = boxAt(track, frame);
    if (!box) return;
    const here = keyframeAt(track.frames, frame);
    const outside = !(here ? here.outside : box.outside);
    const kf: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height };
    if (outside) kf.outside = true;
    this.commit(outside ? "mark outside" : "mark inside", [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
  }

  updateTrack(id: string, patch: TrackPatch): void {
    const track = this.tracks.get(id);
    if (!track) return;
    this.commit("edit track", [{ id, after: { ...track, ...patch } }]);
  }

  deleteTracks(ids: string[]): void {
    this.commit(ids.length === 1 ? "delete track" : `delete ${ids.length} tracks`, ids.map((id) => ({ id, after: null })));
  }

  /** Accept candidates of a detection job: they become the annotator's (`ai-assisted`). */
  acceptCandidates(ids: string[]): void {
    const source: Source = "ai-assisted";
    this.commit(ids.length === 1 ? "accept candidate" : `accept ${ids.length} candidates`,
      ids.flatMap((id) => {
        const track = this.tracks.get(id);
        return track && track.source === "automatic" ? [{ id, after: { ...track, source } }] : [];
      }));
  }
}
