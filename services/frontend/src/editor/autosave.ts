/**
 * Autosave: a save of only the dirty tracks shortly after the last edit, with the revision the document
 * was loaded (or last saved) at. Plain TypeScript with injectable transport and timers, so it is unit-tested.
 *
 * - A failed save (network down, backend restarting, 5xx) keeps every edit dirty and retries with
 *   exponential backoff (1 s, 2 s, 4 s ... 30 s); a new edit or `saveNow` retries at once.
 * - A 409 (someone else saved this video since we loaded it) is resolved by reloading the server's
 *   tracks and re-applying our dirty tracks on top of them (`AnnotationDocument.rebase`): for a track we
 *   changed, ours wins; every other track takes the other writer's version; then we save again at the
 *   new revision. Last writer wins per track, never per video, and nothing is dropped silently.
 * - A 4xx that retrying cannot fix (422 validation) stops the retries and shows "failed" with the message;
 *   the edits stay dirty, so the next edit or Ctrl+S tries again.
 */
import type { AnnotationDocument } from "./document";
import type { Track } from "./types";

export type SaveState =
  | { kind: "saved" }
  | { kind: "dirty" }
  | { kind: "saving" }
  | { kind: "failed"; message: string; retryInMs: number | null };

export interface SaveResult {
  revision: number;
  annotations: Track[];
}

export class SaveConflict extends Error {
  constructor(readonly revision: number | null) {
    super("the annotations changed on the server");
  }
}

/** An error that retrying will not fix (validation). */
export class SaveRejected extends Error {}

export interface SaveTransport {
  save(changes: { upsert: Track[]; delete: string[] }, revision: number): Promise<SaveResult>;
  /** The server's tracks and revision now (after a conflict). */
  load(): Promise<{ tracks: Track[]; revision: number }>;
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
    public revision: number,
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
    const changes = this.doc.pendingChanges();
    this.setState({ kind: "saving" });
    try {
      const result = await this.transport.save(changes, this.revision);
      this.revision = result.revision;
      this.failures = 0;
      this.doc.markSaved(changes, result.annotations);
      this.lastVersion = this.doc.version;
      this.setState({ kind: "saved" });
    } catch (error) {
      if (error instanceof SaveConflict) {
        await this.resolveConflict(error);
        return;
      }
      if (error instanceof SaveRejected) {
        this.setState({ kind: "failed", message: error.message, retryInMs: null });
        return;
      }
      this.failures++;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
      this.setState({ kind: "failed", message: error instanceof Error ? error.message : String(error), retryInMs: delay });
      this.schedule(delay);
    }
  }

  private async resolveConflict(conflict: SaveConflict): Promise<void> {
    try {
      const server = await this.transport.load();
      this.doc.rebase(server.tracks);
      this.lastVersion = this.doc.version;
      this.revision = server.revision ?? conflict.revision;
      this.setState({ kind: "dirty" });
      this.schedule(0);
    } catch (error) {
      this.failures++;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
      this.setState({ kind: "failed", message: `conflict, reload failed: ${String(error)}`, retryInMs: delay });
      this.schedule(delay);
    }
  }
}
