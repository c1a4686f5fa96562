/**
 * Autosave: shortly after the last edit, a save of what changed since the base revision (per field and keyframe,
 * see changes.ts), which the server merges with what others saved since. Plain TypeScript with injectable
 * transport and timers, so it is unit-tested.
 *
 * - A failed save (network down, backend restarting, 5xx) keeps every edit unsaved and retries with exponential
 *   backoff (1 s, 2 s, 4 s ... 30 s); a new edit or `saveNow` retries at once.
 * - The answer carries the server's copy of every track the save named; the document takes it as its base and
 *   keeps what was edited meanwhile on top. Parts someone else changed differently come back as conflicts, shown
 *   for a choice and never written over. When others saved in between (the answer says the save was merged into
 *   a later revision), the whole list is read again so their other tracks show too.
 * - A 409 (the If-Match named another video's revision, a persona vanished mid-save) reloads and saves again.
 * - A 4xx that retrying cannot fix (422 for the request as a whole) stops the retries and shows "failed" with the
 *   message; the edits stay unsaved, so the next edit or Ctrl+S tries again.
 */
import type { AnnotationDocument, OtherObjects, SaveResult } from "./document";
import type { TrackChange } from "./changes";
import type { Track } from "./types";

export type SaveState =
  | { kind: "saved" }
  | { kind: "dirty" }
  | { kind: "saving" }
  | { kind: "failed"; message: string; retryInMs: number | null };

export type { SaveResult };

export class SaveConflict extends Error {
  constructor(readonly revision: number | null) {
    super("the annotations changed on the server");
  }
}

/** An error that retrying will not fix (validation). */
export class SaveRejected extends Error {}

export interface SaveTransport {
  save(changes: TrackChange[], revision: number): Promise<SaveResult>;
  /** The server's tracks and revision now. */
  load(): Promise<{ tracks: Track[]; revision: number } & OtherObjects>;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
};

export const DEBOUNCE_MS = 800;
export const MAX_BACKOFF_MS = 30_000;

export class Autosave {
  state: SaveState = { kind: "saved" };
  private timer: unknown = null;
  private inFlight: Promise<void> | null = null;
  private failures = 0;
  private listeners = new Set<() => void>();
  private unsubscribe: () => void;
  private lastVersion: number;

  constructor(
    private readonly doc: AnnotationDocument,
    private readonly transport: SaveTransport,
    private readonly timers: Timers = realTimers,
    private readonly debounceMs = DEBOUNCE_MS,
  ) {
    this.lastVersion = doc.version;
    this.unsubscribe = doc.subscribe(() => this.onDocChange());
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): SaveState => this.state;

  dispose(): void {
    this.unsubscribe();
    this.clearTimer();
  }

  private setState(state: SaveState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  private onDocChange(): void {
    if (this.doc.version === this.lastVersion) return;
    this.lastVersion = this.doc.version;
    if (!this.doc.isDirty()) {
      if (!this.inFlight && this.state.kind !== "failed") this.setState({ kind: "saved" });
      return;
    }
    if (this.inFlight) return; // the save in flight reschedules when it ends
    if (this.state.kind !== "failed" || this.state.retryInMs === null) this.setState({ kind: "dirty" });
    this.failures = 0;
    this.schedule(this.debounceMs);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.saveNow();
    }, ms);
  }

  /** Save now (Ctrl+S, leaving the page); resolves when this save (and any it waited for) ended. */
  async saveNow(): Promise<void> {
    this.clearTimer();
    if (this.inFlight) {
      await this.inFlight;
      if (this.doc.isDirty() && !this.inFlight) return this.saveNow();
      return;
    }
    if (!this.doc.isDirty()) {
      this.setState({ kind: "saved" });
      return;
    }
    this.inFlight = this.run();
    try {
      await this.inFlight;
    } finally {
      this.inFlight = null;
    }
    if (this.doc.isDirty() && this.state.kind === "saved") {
      // Edited while the save was in flight: save those too, soon.
      this.setState({ kind: "dirty" });
      this.schedule(this.debounceMs);
    }
  }

  private async run(): Promise<void> {
    const snapshot = this.doc.beginSave();
    this.setState({ kind: "saving" });
    try {
      const result = await this.transport.save(snapshot.changes, snapshot.revision);
      this.failures = 0;
      this.doc.applySaved(snapshot, result);
      // Not fatal: what was saved is saved; tracks others changed show at the next catch-up or reload.
      if (result.previousRevision !== snapshot.revision) await this.catchUp().catch(() => {});
      this.lastVersion = this.doc.version;
      this.setState({ kind: "saved" });
    } catch (error) {
      if (error instanceof SaveConflict) {
        await this.resolveConflict();
        return;
      }
      if (error instanceof SaveRejected) {
        this.setState({ kind: "failed", message: error.message, retryInMs: null });
        return;
      }
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  private fail(message: string): void {
    this.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
    this.setState({ kind: "failed", message, retryInMs: delay });
    this.schedule(delay);
  }

  /** Nothing is being saved or waiting to be: a good moment to look for what others saved. */
  idle(): boolean {
    return !this.inFlight && this.timer === null && this.state.kind === "saved";
  }

  /** Others saved since our base: read every track again, our unsaved edits replayed on top. */
  async catchUp(): Promise<void> {
    const server = await this.transport.load();
    this.doc.rebase(server.tracks, server.revision, { events: server.events, relations: server.relations });
  }

  private async resolveConflict(): Promise<void> {
    try {
      await this.catchUp();
      this.lastVersion = this.doc.version;
      this.setState({ kind: "dirty" });
      this.schedule(0);
    } catch (error) {
      this.fail(`conflict, reload failed: ${String(error)}`);
    }
  }
}
