/**
 * For the unit tests only: a backend in memory that answers a merging save the way the real route does
 * (services/backend/fovea_backend/routes/bulk_annotations.py): one revision per save that writes, versions per
 * track, tombstones, each change merged by the rule of changes.ts. The real route is tested against the same
 * cases (merge.cases.json) and end to end in Chromium; this stands in for it where a test has no stack.
 */
import { applyChange, kindOf, type AnnotationObject, type ConflictPart, type ObjectKind, type TrackChange } from "./changes";
import type { SaveTransport } from "./autosave";
import type { SaveResult, ServerConflict } from "./document";
import type { AnnotationEvent, Relation, Track } from "./types";

export class MemoryServer implements SaveTransport {
  tracks = new Map<string, Track>();
  events = new Map<string, AnnotationEvent>();
  relations = new Map<string, Relation>();
  deleted = new Map<string, number>();
  revision = 1;
  calls: Array<{ changes: TrackChange[]; revision: number }> = [];
  /** Network errors to throw before answering. */
  failNext = 0;
  /** Apply the next save, then lose its answer (the client sees a network error). */
  loseNextAnswer = false;
  rejectNext: Error | null = null;

  constructor(initial: Track[] = []) {
    for (const t of initial) this.tracks.set(t.id, { ...t, version: t.version ?? 1 });
  }

  list(): Track[] {
    return [...this.tracks.values()];
  }

  async save(changes: TrackChange[], revision: number): Promise<SaveResult> {
    this.calls.push({ changes, revision });
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("network down");
    }
    if (this.rejectNext) {
      const error = this.rejectNext;
      this.rejectNext = null;
      throw error;
    }
    const previousRevision = this.revision;
    const conflicts: ServerConflict[] = [];
    let wrote = false;
    changes.forEach((change) => {
      const kind = kindOf(change);
      const store = this.store(kind);
      const current = store.get(change.id) ?? null;
      const tombstone = this.deleted.get(change.id);
      if (change.op === "create" && !current && tombstone !== undefined && tombstone > revision) {
        conflicts.push({ id: change.id, part: "track", message: "deleted by someone else", theirs: null, mine: change.track });
        return;
      }
      const { track, conflicts: parts } = applyChange(current, change);
      for (const part of parts) conflicts.push({ ...wire(change.id, part), kind });
      if (track === current) return;
      wrote = true;
      if (track) {
        store.set(change.id, { ...track, version: current ? (current.version ?? 1) + 1 : 1 });
        this.deleted.delete(change.id);
      } else {
        store.delete(change.id);
        this.deleted.set(change.id, this.revision + 1);
      }
    });
    if (wrote) this.revision++;
    const answer: SaveResult = {
      revision: this.revision, previousRevision,
      annotations: this.named(changes, "track") as Track[],
      events: this.named(changes, "event") as AnnotationEvent[],
      relations: this.named(changes, "relation") as Relation[],
      conflicts, rejected: [],
    };
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new Error("the answer was lost");
    }
    return answer;
  }

  private store(kind: ObjectKind): Map<string, AnnotationObject> {
    return (kind === "track" ? this.tracks : kind === "event" ? this.events : this.relations) as Map<string, AnnotationObject>;
  }

  private named(changes: TrackChange[], kind: ObjectKind): AnnotationObject[] {
    const store = this.store(kind);
    return changes.filter((c) => kindOf(c) === kind && store.has(c.id)).map((c) => structuredClone(store.get(c.id)!));
  }

  async load() {
    return { tracks: this.list().map((t) => structuredClone(t)), revision: this.revision,
      events: [...this.events.values()].map((e) => structuredClone(e)), relations: [...this.relations.values()].map((r) => structuredClone(r)) };
  }
}

function wire(id: string, part: ConflictPart): ServerConflict {
  if (part.part === "field") return { id, part: "field", field: part.field, message: "changed", theirs: part.theirs, mine: part.mine };
  if (part.part === "keyframe") return { id, part: "keyframe", frame: part.frame, message: "changed", theirs: part.theirs, mine: part.mine };
  return { id, part: "track", message: "changed", theirs: part.theirs, mine: null };
}
