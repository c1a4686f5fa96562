/**
 * The annotation document of one video: the tracks as the server last gave them (the base, at `revision`),
 * the local tracks (the base plus this person's unsaved edits), the commands that edit them, undo/redo, and
 * the conflicts waiting for a choice. No React, no DOM: the UI subscribes and dispatches.
 *
 * What a save sends is the difference between base and local, per field and keyframe (changes.ts). When the
 * server answers, or a reload brings what others saved, the edits not yet saved are replayed on top of the
 * server's tracks by the merge rule, so others' edits of other keyframes and fields stay. A part both sides
 * changed differently becomes a conflict: the document shows theirs and keeps mine beside it until the person
 * chooses (`resolve`). Nothing is overwritten without that choice.
 *
 * Undo steps are change sets too, applied backwards by the same rule: after a merge, undo takes back only this
 * person's own step, and leaves alone parts someone else changed since.
 */
import {
  applyChange, diffObject, FIELDS, invertChange, keyBox, partKey, partSettled, partValue,
  type AnnotationObject, type ConflictPart, type KeyBox, type ObjectChange, type ObjectKind,
} from "./changes";
import { attributesAt, boxAt, keyframeAt, keyframeIndexAtOrBefore, withKeyframe, withoutKeyframe } from "./keyframes";
import { checkEvent, checkRelation, entityTypeFor, type OntologyLike, type Problem, type Resolver } from "./semantics";
import type { AnnotationEvent, AttributeValue, Box, Keyframe, Ref, Relation, Source, Track } from "./types";
import { checkTrackPatch, type FieldProblem } from "./validate";

const KINDS: ObjectKind[] = ["track", "event", "relation"];
const keyOf = (kind: ObjectKind, id: string) => `${kind}:${id}`;
const kindOfChange = (c: ObjectChange): ObjectKind => c.kind ?? "track";

interface StepChange {
  kind: ObjectKind;
  change: ObjectChange;
  /** The object before the step (to bring back a deleted one) and its place in the list. */
  before: AnnotationObject | null;
  index: number;
}

interface Step {
  label: string;
  changes: StepChange[];
}

/** A part of an object that is not as this person left it: a conflict to choose in, or a save the server refused. */
export type Conflict = ConflictPart & {
  key: string;
  kind: ObjectKind;
  /** The object's id (a track's, an event's or a relation's). */
  trackId: string;
  message: string;
  /** The server refused this value (invalid): it can only be dropped, not chosen. */
  refused: boolean;
};

export interface ServerConflict {
  id: string;
  kind?: ObjectKind;
  part: "track" | "field" | "keyframe";
  field?: string;
  frame?: number;
  message: string;
  theirs: unknown;
  mine: unknown;
}

export interface ServerRejection {
  index: number;
  id: string;
  loc: Array<string | number>;
  message: string;
}

export interface SaveResult {
  revision: number;
  /** The revision the save was merged into; not the one it was sent at when others saved in between. */
  previousRevision: number;
  annotations: Track[];
  events?: AnnotationEvent[];
  relations?: Relation[];
  conflicts: ServerConflict[];
  rejected: ServerRejection[];
}

/** What one save sent: the change set, the revision it was made against, and the local objects it came from. */
export interface SaveSnapshot {
  revision: number;
  changes: ObjectChange[];
  /** By `kind:id`. */
  sent: Map<string, AnnotationObject | null>;
}

/** The server's events and relations, beside its tracks (absent: unchanged). */
export interface OtherObjects {
  events?: AnnotationEvent[];
  relations?: Relation[];
}

export const HISTORY_LIMIT = 500;

export type TrackPatch = Partial<Pick<Track, "type" | "label" | "personaId" | "source" | "confidence" | "entityId" | "attributes" | "locked">>;
export type EventPatch = Partial<Pick<AnnotationEvent, "type" | "label" | "personaId" | "startFrame" | "endFrame" | "roles" | "attributes">>;

export type EditResult = { ok: true } | { ok: false; problem: FieldProblem | { field: string; message: string } };

/** What the document checks events and relations against: the persona's ontology and the world's entities. */
export interface Semantics {
  ontology(personaId: string | null): OntologyLike | null;
  entity(id: string): { name?: string; typeAssignments?: Array<{ personaId: string; entityTypeId?: string }> } | null;
}

const refused = (field: string, message: string): EditResult => ({ ok: false, problem: { field, message } });
const LOCKED = "the track is locked: unlock it first";

export class AnnotationDocument {
  private base: Record<ObjectKind, Map<string, AnnotationObject>> = { track: new Map(), event: new Map(), relation: new Map() };
  private local: Record<ObjectKind, Map<string, AnnotationObject>> = { track: new Map(), event: new Map(), relation: new Map() };
  private order: Record<ObjectKind, string[]> = { track: [], event: [], relation: [] };
  private undoStack: Step[] = [];
  private redoStack: Step[] = [];
  /** `kind:id` of every object that differs from the base. */
  private dirtyKeys = new Set<string>();
  private open = new Map<string, Conflict>();
  private listeners = new Set<() => void>();
  private semantics: Semantics | null = null;
  /** The server revision the base is at: a save's If-Match. */
  revision = 0;
  /** Bumped on every change: a cheap snapshot for useSyncExternalStore. */
  version = 0;

  constructor(initial: Track[] = [], revision = 0, others: OtherObjects = {}) {
    this.reset(initial, revision, others);
  }

  // --- reading ----------------------------------------------------------------------------------------
  get(id: string): Track | undefined {
    return this.local.track.get(id) as Track | undefined;
  }

  /** Tracks in display order (creation order, as the backend lists them). */
  list(): Track[] {
    return this.order.track.map((id) => this.local.track.get(id) as Track);
  }

  event(id: string): AnnotationEvent | undefined {
    return this.local.event.get(id) as AnnotationEvent | undefined;
  }

  events(): AnnotationEvent[] {
    return this.order.event.map((id) => this.local.event.get(id) as AnnotationEvent);
  }

  relation(id: string): Relation | undefined {
    return this.local.relation.get(id) as Relation | undefined;
  }

  relations(): Relation[] {
    return this.order.relation.map((id) => this.local.relation.get(id) as Relation);
  }

  object(kind: ObjectKind, id: string): AnnotationObject | undefined {
    return this.local[kind].get(id);
  }

  get size(): number {
    return this.order.track.length;
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

  /** Open conflicts and refusals, in the order they arose. */
  conflicts(): Conflict[] {
    return [...this.open.values()];
  }

  /** The server's copy of a track (what a conflict's "theirs" is). */
  serverTrack(id: string): Track | undefined {
    return this.base.track.get(id) as Track | undefined;
  }

  serverObject(kind: ObjectKind, id: string): AnnotationObject | undefined {
    return this.base[kind].get(id);
  }

  /** The ontology and world the event and relation commands check against (set by the workspace). */
  setSemantics(semantics: Semantics | null): void {
    this.semantics = semantics;
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

  // --- the local state --------------------------------------------------------------------------------
  /** Put a local value in place (keeping the list order), and recompute whether the object is dirty. */
  private place(kind: ObjectKind, id: string, value: AnnotationObject | null, index = this.order[kind].length): void {
    const map = this.local[kind];
    const order = this.order[kind];
    const exists = map.has(id);
    if (value) {
      map.set(id, value);
      if (!exists) order.splice(Math.min(Math.max(index, 0), order.length), 0, id);
    } else if (exists) {
      map.delete(id);
      order.splice(order.indexOf(id), 1);
    }
    this.recheck(kind, id);
  }

  private recheck(kind: ObjectKind, id: string): void {
    if (diffObject(kind, this.base[kind].get(id), this.local[kind].get(id))) this.dirtyKeys.add(keyOf(kind, id));
    else this.dirtyKeys.delete(keyOf(kind, id));
  }

  /** Replace everything with the server's objects: history, dirty set and conflicts start empty. */
  reset(tracks: Track[], revision = this.revision, others: OtherObjects = {}): void {
    const lists: Record<ObjectKind, AnnotationObject[]> = { track: tracks, event: others.events ?? [], relation: others.relations ?? [] };
    for (const kind of KINDS) {
      this.base[kind] = new Map(lists[kind].map((o) => [o.id, o]));
      this.local[kind] = new Map(this.base[kind]);
      this.order[kind] = lists[kind].map((o) => o.id);
    }
    this.undoStack = [];
    this.redoStack = [];
    this.dirtyKeys.clear();
    this.open.clear();
    this.revision = revision;
    this.emit();
  }

  // --- saving -----------------------------------------------------------------------------------------
  /** What a save must send: per dirty object, what changed since the base. */
  pendingChanges(): ObjectChange[] {
    const out: ObjectChange[] = [];
    for (const key of this.dirtyKeys) {
      const [kind, id] = splitKey(key);
      const change = diffObject(kind, this.base[kind].get(id), this.local[kind].get(id));
      if (change) out.push(change);
    }
    return out;
  }

  isDirty(): boolean {
    return this.dirtyKeys.size > 0;
  }

  dirtyCount(): number {
    return this.dirtyKeys.size;
  }

  beginSave(): SaveSnapshot {
    const sent = new Map<string, AnnotationObject | null>();
    for (const key of this.dirtyKeys) {
      const [kind, id] = splitKey(key);
      sent.set(key, this.local[kind].get(id) ?? null);
    }
    return { revision: this.revision, changes: this.pendingChanges(), sent };
  }

  /**
   * The server answered a save: its objects become the base, and what was edited while the save was in flight is
   * replayed on top of them. Parts the server did not write (conflicts, refusals) become open conflicts with the
   * value we sent as "mine"; the document shows the server's.
   */
  applySaved(snapshot: SaveSnapshot, result: SaveResult): void {
    const stored = new Map<string, AnnotationObject>();
    for (const t of result.annotations) stored.set(keyOf("track", t.id), t);
    for (const e of result.events ?? []) stored.set(keyOf("event", e.id), e);
    for (const r of result.relations ?? []) stored.set(keyOf("relation", r.id), r);
    for (const c of result.conflicts) {
      const kind = c.kind ?? "track";
      const key = keyOf(kind, c.id);
      const part = this.serverPart(kind, c, snapshot.sent.get(key) ?? null, stored.get(key) ?? null);
      if (part) this.raise(c.id, part, conflictMessage(part), false);
    }
    for (const r of result.rejected) {
      const change = snapshot.changes[r.index];
      const kind = change ? kindOfChange(change) : "track";
      const key = keyOf(kind, r.id);
      const part = this.refusedPart(kind, r, change, snapshot.sent.get(key) ?? null, stored.get(key) ?? null);
      if (part) this.raise(r.id, part, `refused by the server: ${r.message}`, true);
    }
    for (const [key, sentValue] of snapshot.sent) {
      const [kind, id] = splitKey(key);
      this.rebaseObject(kind, id, sentValue, stored.get(key) ?? null);
    }
    this.revision = result.revision;
    this.emit();
  }

  private serverPart(kind: ObjectKind, c: ServerConflict, sent: AnnotationObject | null, theirs: AnnotationObject | null): ConflictPart | null {
    const tag = { kind };
    if (c.part === "track") return { ...tag, part: "track", theirs, mine: sent };
    if (c.part === "field" && FIELDS[kind].includes(c.field ?? "")) return { ...tag, part: "field", field: c.field!, theirs: c.theirs, mine: c.mine };
    if (c.part === "keyframe" && c.frame !== undefined) {
      const box = (v: unknown) => (v && typeof v === "object" ? keyBox(v as KeyBox) : null);
      return { ...tag, part: "keyframe", frame: c.frame, theirs: box(c.theirs), mine: box(c.mine) };
    }
    return null;
  }

  /** Which part a refusal's `loc` (["body", "changes", i, ...]) points at, with the value we sent. */
  private refusedPart(kind: ObjectKind, r: ServerRejection, change: ObjectChange | undefined, sent: AnnotationObject | null,
    theirs: AnnotationObject | null): ConflictPart | null {
    const [, , , part, at] = r.loc;
    if (change?.op === "update" && part === "fields" && FIELDS[kind].includes(String(at))) {
      const field = String(at);
      return { kind, part: "field", field, theirs: theirs ? partValue(theirs, { part: "field", field, theirs: null, mine: null }) : null, mine: change.fields[field]?.to ?? null };
    }
    if (change?.op === "update" && part === "keyframes" && typeof at === "number" && change.keyframes[at]) {
      const k = change.keyframes[at];
      return { kind, part: "keyframe", frame: k.frame, theirs: theirs ? (partValue(theirs, { part: "keyframe", frame: k.frame, theirs: null, mine: null }) as KeyBox | null) : null, mine: k.to };
    }
    return { kind, part: "track", theirs, mine: sent };
  }

  /**
   * The server's objects now (a reload, or after others saved): each object's unsaved edits are replayed on top
   * of the server's copy by the merge rule. Events and relations are left as they are when `others` lacks them.
   */
  rebase(serverTracks: Track[], revision: number, others: OtherObjects = {}): void {
    const lists: Partial<Record<ObjectKind, AnnotationObject[]>> = { track: serverTracks, event: others.events, relation: others.relations };
    for (const kind of KINDS) {
      const list = lists[kind];
      if (!list) continue;
      const server = new Map(list.map((o) => [o.id, o]));
      for (const id of new Set([...this.base[kind].keys(), ...server.keys()])) {
        const from = this.base[kind].get(id) ?? null;
        const theirs = server.get(id) ?? null;
        if (from !== theirs) this.rebaseObject(kind, id, from, theirs);
      }
      // The server's order, then the objects only we have (new, unsaved).
      const localOnly = this.order[kind].filter((id) => !server.has(id) && this.local[kind].has(id));
      this.order[kind] = [...list.filter((o) => this.local[kind].has(o.id)).map((o) => o.id), ...localOnly];
    }
    this.revision = revision;
    this.emit();
  }

  /** `theirs` is the server's object now; our edits are those from `from` (what the base or a save had) to local. */
  private rebaseObject(kind: ObjectKind, id: string, from: AnnotationObject | null, theirs: AnnotationObject | null): void {
    const mine = this.local[kind].get(id) ?? null;
    const pending = diffObject(kind, from, mine);
    if (theirs) this.base[kind].set(id, theirs);
    else this.base[kind].delete(id);
    const applied = pending ? applyChange(theirs, pending) : { track: theirs, conflicts: [] as ConflictPart[] };
    for (const part of applied.conflicts) {
      // Our edit of an object someone deleted: "mine" is our whole object, to bring back if chosen.
      const full = part.part === "track" && part.mine === null && pending?.op === "update" ? { ...part, mine } : part;
      this.raise(id, { ...full, kind }, conflictMessage(full), false);
    }
    const index = this.order[kind].indexOf(id);
    this.place(kind, id, applied.track, index >= 0 ? index : this.order[kind].length);
    this.settle(kind, id);
  }

  /** Open conflicts of an object follow the server's value; one whose "mine" is there now is over. */
  private settle(kind: ObjectKind, id: string): void {
    const server = this.base[kind].get(id) ?? null;
    for (const [key, c] of this.open) {
      if (c.trackId !== id || c.kind !== kind) continue;
      if (partSettled(server, c)) {
        this.open.delete(key);
        continue;
      }
      const theirs = partValue(server, c);
      if (theirs !== undefined) this.open.set(key, { ...c, theirs } as Conflict);
    }
  }

  private raise(id: string, part: ConflictPart, message: string, refusedByServer: boolean): void {
    const kind = part.kind ?? "track";
    const key = partKey(id, { ...part, kind });
    this.open.delete(key); // the newer one, last in the list
    this.open.set(key, { ...part, kind, key, trackId: id, message, refused: refusedByServer } as Conflict);
  }

  // --- the local journal ------------------------------------------------------------------------------
  /**
   * Replay changes kept by this browser (made against an older revision) on the server's objects now, by the
   * merge rule: what merges becomes unsaved edits, what does not becomes a conflict (shown, not applied). Not
   * undo steps: they are not this session's. `objects` is keyed by `kind:id` (or, as older journals kept it, by a
   * track's id).
   */
  replay(changes: ObjectChange[], objects: Record<string, AnnotationObject | null>, conflicts: Conflict[]): { applied: number; clashed: number } {
    let applied = 0;
    let clashed = 0;
    for (const change of changes) {
      const kind = kindOfChange(change);
      const current = this.local[kind].get(change.id) ?? null;
      const result = applyChange(current, change);
      for (const part of result.conflicts) {
        const kept = objects[keyOf(kind, change.id)] ?? (kind === "track" ? objects[change.id] : null) ?? null;
        const full = part.part === "track" && part.mine === null && change.op === "update" ? { ...part, mine: kept } : part;
        this.raise(change.id, { ...full, kind }, conflictMessage(full), false);
        clashed += part.part === "track" ? partCount(change) : 1;
      }
      // Parts already on the server (a save whose answer never came) restore nothing.
      applied += partCount(diffObject(kind, current, result.track));
      this.place(kind, change.id, result.track);
    }
    for (const c of conflicts) {
      const conflict = { ...c, kind: c.kind ?? "track" } as Conflict;
      this.open.set(conflict.key, conflict);
      this.settle(conflict.kind, conflict.trackId);
    }
    this.emit();
    return { applied, clashed };
  }

  /**
   * Whole tracks kept by an older version of the app, with no revision to merge from: every difference from the
   * server's tracks is a conflict to choose in (nothing is applied, nothing is dropped).
   */
  replayWholeTracks(upsert: Track[], deleted: string[]): number {
    const message = "kept by an older version of this app (its revision is unknown): choose";
    const before = this.open.size;
    for (const mine of upsert) {
      const theirs = (this.base.track.get(mine.id) as Track | undefined) ?? null;
      const change = diffObject("track", theirs, mine);
      if (!change) continue;
      if (change.op !== "update") {
        this.raise(mine.id, { part: "track", theirs, mine }, message, false);
        continue;
      }
      for (const [f, c] of Object.entries(change.fields)) {
        this.raise(mine.id, { part: "field", field: f, theirs: partValue(theirs, { part: "field", field: f, theirs: null, mine: null }), mine: c.to }, message, false);
      }
      for (const k of change.keyframes) this.raise(mine.id, { part: "keyframe", frame: k.frame, theirs: k.from, mine: k.to }, message, false);
    }
    for (const id of deleted) {
      const theirs = this.base.track.get(id);
      if (theirs) this.raise(id, { part: "track", theirs, mine: null }, message, false);
    }
    this.emit();
    return this.open.size - before;
  }

  // --- conflicts --------------------------------------------------------------------------------------
  /** Keep theirs (drop ours), or put ours in as a new edit (an undo step; saved like any edit). */
  resolve(key: string, choice: "theirs" | "mine"): void {
    const c = this.open.get(key);
    if (!c) return;
    this.open.delete(key);
    if (choice === "theirs" || c.refused) {
      this.emit();
      return;
    }
    const current = this.local[c.kind].get(c.trackId) ?? null;
    let after: AnnotationObject | null = current;
    if (c.part === "track") after = c.mine ? ({ ...c.mine, version: current?.version ?? c.mine.version } as AnnotationObject) : null;
    else if (!current) after = null;
    else if (c.part === "field") after = { ...current, [c.field]: c.mine } as AnnotationObject;
    else {
      const frames = (current as Track).frames;
      after = { ...current, frames: c.mine ? withKeyframe(frames, { frame: c.frame, ...boxOf(c.mine) }) : withoutKeyframe(frames, c.frame) } as Track;
    }
    if (after && c.kind === "track" && (after as Track).frames.length === 0) after = current; // never a track without keyframes
    this.commit("use my version", [{ kind: c.kind, id: c.trackId, after }]);
    this.emit();
  }

  resolveAll(choice: "theirs" | "mine"): void {
    for (const key of [...this.open.keys()]) this.resolve(key, choice);
  }

  // --- the history ------------------------------------------------------------------------------------
  private commit(label: string, updates: Array<{ kind?: ObjectKind; id: string; after: AnnotationObject | null }>): void {
    const changes: StepChange[] = [];
    for (const { kind = "track", id, after } of updates) {
      const before = this.local[kind].get(id) ?? null;
      const change = diffObject(kind, before, after);
      if (!change) continue;
      changes.push({ kind, change, before, index: this.order[kind].indexOf(id) });
      this.place(kind, id, after);
    }
    if (changes.length === 0) return;
    this.undoStack.push({ label, changes });
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.emit();
  }

  /** A step's changes, forwards or backwards, by the merge rule: parts changed since by others stay as they are. */
  private replayStep(step: Step, backwards: boolean): void {
    const list = backwards ? [...step.changes].reverse() : step.changes;
    for (const { kind, change, before, index } of list) {
      const current = this.local[kind].get(change.id) ?? null;
      const { track } = applyChange(current, backwards ? invertChange(change, before) : change);
      if (track !== current) this.place(kind, change.id, track, index);
    }
  }

  undo(): string | null {
    const step = this.undoStack.pop();
    if (!step) return null;
    this.replayStep(step, true);
    this.redoStack.push(step);
    this.emit();
    return step.label;
  }

  redo(): string | null {
    const step = this.redoStack.pop();
    if (!step) return null;
    this.replayStep(step, false);
    this.undoStack.push(step);
    this.emit();
    return step.label;
  }

  // --- track commands ---------------------------------------------------------------------------------
  /** The track, when it may be edited (exists and is not locked). */
  private editable(id: string): Track | undefined {
    const track = this.get(id);
    return track && !track.locked ? track : undefined;
  }

  addTrack(track: Track): void {
    this.commit("new box", [{ id: track.id, after: track }]);
  }

  /** Set the box at a frame: a keyframe there is replaced, otherwise one is made (editing inside a span). */
  setBox(id: string, frame: number, box: Box): void {
    const track = this.editable(id);
    if (!track) return;
    const existing = keyframeAt(track.frames, frame);
    const kf: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height };
    if (existing?.outside) kf.outside = true;
    if (existing?.attributes) kf.attributes = existing.attributes;
    this.commit("move box", [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
  }

  /** K: make the shown box a keyframe, or remove the keyframe here (never the track's last one). */
  toggleKeyframe(id: string, frame: number): void {
    const track = this.editable(id);
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
    const track = this.editable(id);
    if (!track) return;
    const box = boxAt(track, frame);
    if (!box) return;
    const here = keyframeAt(track.frames, frame);
    const outside = !(here ? here.outside : box.outside);
    const kf: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height };
    if (outside) kf.outside = true;
    if (here?.attributes) kf.attributes = here.attributes;
    this.commit(outside ? "mark outside" : "mark inside", [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
  }

  /** C: the previous keyframe's box, copied to this frame (a keyframe here). */
  copyPreviousBox(id: string, frame: number): EditResult {
    const track = this.get(id);
    if (!track) return { ok: true };
    if (track.locked) return refused("locked", LOCKED);
    const i = keyframeIndexAtOrBefore(track.frames, frame - 1);
    if (i < 0) return refused("frames", `no keyframe before frame ${frame} to copy`);
    const previous = track.frames[i];
    const here = keyframeAt(track.frames, frame);
    const kf: Keyframe = { frame, x: previous.x, y: previous.y, width: previous.width, height: previous.height };
    if (here?.attributes) kf.attributes = here.attributes;
    this.commit("copy previous box", [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
    return { ok: true };
  }

  /** Change fields of a track; an invalid value (an empty or over-long label...) is refused, nothing changes. */
  updateTrack(id: string, patch: TrackPatch): EditResult {
    const problem = checkTrackPatch(patch);
    if (problem) return { ok: false, problem };
    const track = this.get(id);
    if (!track) return { ok: true };
    const onlyLock = Object.keys(patch).every((k) => k === "locked");
    if (track.locked && !onlyLock) return refused("locked", LOCKED);
    this.commit(onlyLock ? (patch.locked ? "lock track" : "unlock track") : "edit track", [{ id, after: { ...track, ...patch } }]);
    return { ok: true };
  }

  setLocked(id: string, locked: boolean): EditResult {
    return this.updateTrack(id, { locked });
  }

  /** Link a track to a world entity (null: unlink). */
  linkEntity(id: string, entityId: string | null): EditResult {
    return this.updateTrack(id, { entityId });
  }

  /** An attribute fixed for the whole track (null removes it). */
  setTrackAttribute(id: string, name: string, value: AttributeValue | null): EditResult {
    const track = this.get(id);
    if (!track) return { ok: true };
    const attributes = { ...(track.attributes ?? {}) };
    if (value === null) delete attributes[name];
    else attributes[name] = value;
    return this.updateTrack(id, { attributes });
  }

  /**
   * A mutable attribute changed at `frame`: set on the keyframe there (made, with the box shown, when there is none),
   * held from there until a later keyframe sets it again.
   */
  setKeyframeAttribute(id: string, frame: number, name: string, value: AttributeValue): EditResult {
    const track = this.get(id);
    if (!track) return { ok: true };
    if (track.locked) return refused("locked", LOCKED);
    const box = boxAt(track, frame);
    if (!box) return refused("frames", `the track starts at frame ${track.frames[0].frame}: no box at frame ${frame}`);
    const here = keyframeAt(track.frames, frame);
    const kf: Keyframe = here ? { ...here } : { frame, x: box.x, y: box.y, width: box.width, height: box.height, ...(box.outside ? { outside: true } : {}) };
    kf.attributes = { ...(here?.attributes ?? {}), [name]: value };
    this.commit(`set ${name}`, [{ id, after: { ...track, frames: withKeyframe(track.frames, kf) } }]);
    return { ok: true };
  }

  /**
   * Change a track's type. The label follows only while it is the old type's default (`defaultLabel`): a label
   * someone wrote ("Man with phone (id 7)") stays.
   */
  setType(id: string, type: string, defaultLabel: (type: string) => string): EditResult {
    const track = this.get(id);
    if (!track || track.type === type) return { ok: true };
    const labelIsDefault = track.label === defaultLabel(track.type) || track.label === track.type;
    return this.updateTrack(id, labelIsDefault ? { type, label: defaultLabel(type) } : { type });
  }

  /** Delete tracks; relations from or to them go too, and they leave the events' roles they filled (one step). */
  deleteTracks(ids: string[]): void {
    const deletable = ids.filter((id) => !this.get(id)?.locked);
    const updates: Array<{ kind?: ObjectKind; id: string; after: AnnotationObject | null }> = deletable.map((id) => ({ id, after: null }));
    updates.push(...this.dropReferences(deletable.map((id) => ({ kind: "track" as const, id }))));
    this.commit(deletable.length === 1 ? "delete track" : `delete ${deletable.length} tracks`, updates);
  }

  /** What deleting `gone` does to the events and relations that point at it. */
  private dropReferences(gone: Ref[], replaceWith: Ref | null = null): Array<{ kind: ObjectKind; id: string; after: AnnotationObject | null }> {
    const hit = (r: Ref) => gone.some((g) => g.kind === r.kind && g.id === r.id);
    const out: Array<{ kind: ObjectKind; id: string; after: AnnotationObject | null }> = [];
    for (const r of this.relations()) {
      if (!hit(r.source) && !hit(r.target)) continue;
      out.push({ kind: "relation", id: r.id, after: replaceWith
        ? { ...r, source: hit(r.source) ? replaceWith : r.source, target: hit(r.target) ? replaceWith : r.target } : null });
    }
    for (const e of this.events()) {
      if (!Object.values(e.roles).some((fillers) => fillers.some(hit))) continue;
      const roles: Record<string, Ref[]> = {};
      for (const [role, fillers] of Object.entries(e.roles)) {
        const kept = fillers.flatMap((f) => (hit(f) ? (replaceWith && !fillers.some((o) => o.kind === replaceWith.kind && o.id === replaceWith.id) ? [replaceWith] : []) : [f]));
        if (kept.length) roles[role] = kept;
      }
      out.push({ kind: "event", id: e.id, after: { ...e, roles } });
    }
    return out;
  }

  /** Accept candidates of a detection job: they become the annotator's (`ai-assisted`). */
  acceptCandidates(ids: string[]): void {
    const source: Source = "ai-assisted";
    this.commit(ids.length === 1 ? "accept candidate" : `accept ${ids.length} candidates`,
      ids.flatMap((id) => {
        const track = this.get(id);
        return track && track.source === "automatic" ? [{ id, after: { ...track, source } }] : [];
      }));
  }

  /**
   * Split a track at `frame` into two: the first ends there (an outside keyframe with the box shown), the second
   * (`newId`) starts there with that box and the attributes held there, and takes the later keyframes.
   */
  splitTrack(id: string, frame: number, newId: string): EditResult {
    const track = this.get(id);
    if (!track) return { ok: true };
    if (track.locked) return refused("locked", LOCKED);
    const box = boxAt(track, frame);
    if (!box || frame <= track.frames[0].frame) return refused("frames", `split inside the track: after its first keyframe (${track.frames[0].frame})`);
    if (box.outside) return refused("frames", `the object is outside at frame ${frame}: split where it is shown`);
    const before = track.frames.filter((k) => k.frame < frame);
    const after = track.frames.filter((k) => k.frame > frame);
    const here = keyframeAt(track.frames, frame);
    const held = attributesAt(track.frames, frame);
    const start: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height, ...(Object.keys(held).length ? { attributes: held } : {}) };
    const end: Keyframe = { frame, x: box.x, y: box.y, width: box.width, height: box.height, outside: true };
    const second: Track = { ...track, id: newId, version: undefined, jobId: null, frames: [here && !here.outside ? { ...start, ...here, attributes: start.attributes } : start, ...after] };
    delete second.version;
    this.commit("split track", [{ id, after: { ...track, frames: [...before, end] } }, { id: newId, after: second }]);
    return { ok: true };
  }

  /**
   * Merge two tracks of one type whose keyframe spans do not overlap into the earlier one: it takes the later's
   * keyframes (the gap between them interpolates, or stays hidden where the earlier ends outside); the later is
   * deleted, and the events and relations that named it name the earlier.
   */
  mergeTracks(aId: string, bId: string): EditResult {
    const a = this.get(aId);
    const b = this.get(bId);
    if (!a || !b || aId === bId) return refused("tracks", "pick two different tracks to merge");
    if (a.locked || b.locked) return refused("locked", LOCKED);
    const [first, second] = a.frames[0].frame <= b.frames[0].frame ? [a, b] : [b, a];
    if (first.type !== second.type) return refused("type", `only tracks of one type merge: ${first.type} and ${second.type}`);
    // A first track that ends outside is shown up to the frame before (a split leaves it so): the second may start there.
    const last = first.frames[first.frames.length - 1];
    const firstEnd = last.outside ? last.frame - 1 : last.frame;
    const secondStart = second.frames[0].frame;
    if (firstEnd >= secondStart) {
      return refused("frames", `the tracks overlap: «${first.label}» lasts to frame ${firstEnd}, «${second.label}» starts at ${secondStart}`);
    }
    if (first.entityId && second.entityId && first.entityId !== second.entityId) return refused("entityId", "the tracks show different world entities");
    const head = last.outside && last.frame === secondStart ? first.frames.slice(0, -1) : first.frames;
    const merged: Track = { ...first, entityId: first.entityId ?? second.entityId ?? null, frames: [...head, ...second.frames] };
    this.commit("merge tracks", [{ id: first.id, after: merged }, { id: second.id, after: null },
      ...this.dropReferences([{ kind: "track", id: second.id }], { kind: "track", id: first.id })]);
    return { ok: true };
  }

  // --- events -----------------------------------------------------------------------------------------
  private resolver(personaId: string | null): Resolver {
    return (ref) => {
      if (ref.kind === "entity") {
        const entity = this.semantics?.entity(ref.id);
        return entity ? { kind: "entity", typeId: entityTypeFor(entity, personaId), description: `entity «${entity.name || ref.id}»` } : null;
      }
      const o = this.local[ref.kind].get(ref.id) as Track | AnnotationEvent | undefined;
      return o ? { kind: ref.kind === "track" ? "entity" : "event", typeId: o.type, description: `${ref.kind} «${o.label}»` } : null;
    };
  }

  private checkSemantics(kind: "event" | "relation", o: AnnotationEvent | Relation): Problem[] {
    if (!this.semantics) return [];
    const ontology = this.semantics.ontology(o.personaId);
    const resolve = this.resolver(o.personaId);
    return kind === "event" ? checkEvent(o as AnnotationEvent, ontology, resolve) : checkRelation(o as Relation, ontology, resolve);
  }

  private eventProblem(e: AnnotationEvent): EditResult | null {
    if (e.startFrame < 0 || e.endFrame < e.startFrame) return refused("endFrame", `an event ends at or after it starts: ${e.endFrame} < ${e.startFrame}`);
    if (!e.label.trim()) return refused("label", "the label must not be empty");
    const [problem] = this.checkSemantics("event", e);
    return problem ? refused(problem.where.join("."), problem.message) : null;
  }

  addEvent(e: AnnotationEvent): EditResult {
    const problem = this.eventProblem(e);
    if (problem) return problem;
    this.commit(Object.keys(e.roles).length ? "new event" : "new tag", [{ kind: "event", id: e.id, after: e }]);
    return { ok: true };
  }

  /** Change an event's fields (its span, roles, type...); one that breaks the ontology's rules is refused. */
  updateEvent(id: string, patch: EventPatch, label = "edit event"): EditResult {
    const e = this.event(id);
    if (!e) return { ok: true };
    const next = { ...e, ...patch };
    const problem = this.eventProblem(next);
    if (problem) return problem;
    this.commit(label, [{ kind: "event", id, after: next }]);
    return { ok: true };
  }

  /** Drag an end of an event's bar. */
  setEventSpan(id: string, startFrame: number, endFrame: number): EditResult {
    return this.updateEvent(id, { startFrame, endFrame }, "move event");
  }

  /** Fill a role slot (appended to its fillers), checked against the role's allowed types. */
  fillRole(id: string, roleTypeId: string, filler: Ref): EditResult {
    const e = this.event(id);
    if (!e) return { ok: true };
    const fillers = e.roles[roleTypeId] ?? [];
    if (fillers.some((f) => f.kind === filler.kind && f.id === filler.id)) return { ok: true };
    return this.updateEvent(id, { roles: { ...e.roles, [roleTypeId]: [...fillers, filler] } }, "fill role");
  }

  unfillRole(id: string, roleTypeId: string, filler: Ref): EditResult {
    const e = this.event(id);
    if (!e) return { ok: true };
    const kept = (e.roles[roleTypeId] ?? []).filter((f) => !(f.kind === filler.kind && f.id === filler.id));
    const roles = { ...e.roles };
    if (kept.length) roles[roleTypeId] = kept;
    else delete roles[roleTypeId];
    return this.updateEvent(id, { roles }, "empty role");
  }

  /** Split an event's bar at `frame`: the first keeps [start, frame - 1], the second (`newId`) [frame, end]. */
  splitEvent(id: string, frame: number, newId: string): EditResult {
    const e = this.event(id);
    if (!e) return { ok: true };
    if (frame <= e.startFrame || frame > e.endFrame) return refused("startFrame", `split inside the event: frames ${e.startFrame + 1}–${e.endFrame}`);
    const second: AnnotationEvent = { ...e, id: newId, startFrame: frame };
    delete second.version;
    this.commit("split event", [{ kind: "event", id, after: { ...e, endFrame: frame - 1 } }, { kind: "event", id: newId, after: second }]);
    return { ok: true };
  }

  deleteEvents(ids: string[]): void {
    this.commit(ids.length === 1 ? "delete event" : `delete ${ids.length} events`, [
      ...ids.map((id) => ({ kind: "event" as const, id, after: null })),
      ...this.dropReferences(ids.map((id) => ({ kind: "event" as const, id }))).filter((u) => !ids.includes(u.id)),
    ]);
  }

  // --- relations --------------------------------------------------------------------------------------
  addRelation(r: Relation): EditResult {
    const [problem] = this.checkSemantics("relation", r);
    if (problem) return refused(problem.where.join("."), problem.message);
    this.commit("new relation", [{ kind: "relation", id: r.id, after: r }]);
    return { ok: true };
  }

  deleteRelations(ids: string[]): void {
    this.commit(ids.length === 1 ? "delete relation" : `delete ${ids.length} relations`, ids.map((id) => ({ kind: "relation" as const, id, after: null })));
  }
}

function splitKey(key: string): [ObjectKind, string] {
  const at = key.indexOf(":");
  return [key.slice(0, at) as ObjectKind, key.slice(at + 1)];
}

function boxOf(b: KeyBox): Omit<Keyframe, "frame"> {
  const out: Omit<Keyframe, "frame"> = { x: b.x, y: b.y, width: b.width, height: b.height };
  if (b.outside) out.outside = true;
  if (b.attributes && Object.keys(b.attributes).length) out.attributes = b.attributes;
  return out;
}

/** How many parts (fields, keyframes; a whole track counts one) a change touches. */
function partCount(change: ObjectChange | null): number {
  if (!change) return 0;
  return change.op === "update" ? Object.keys(change.fields).length + change.keyframes.length : 1;
}

function conflictMessage(part: ConflictPart): string {
  if (part.part === "field") return `${part.field} was changed by someone else`;
  if (part.part === "keyframe") return `the keyframe at frame ${part.frame} was ${part.theirs ? "changed" : "removed"} by someone else`;
  const what = part.kind ?? "track";
  return part.theirs ? `the ${what} was changed by someone else` : `the ${what} was deleted by someone else`;
}
