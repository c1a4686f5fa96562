/**
 * Change sets: what an edit changed in an annotated object — a track, an event or a relation — per field (and, for a
 * track, per keyframe), relative to the value it started from: the unit the editor saves, undoes, journals and
 * merges. The wire format of the merging save (`PUT /api/videos/{id}/annotations` with `changes`), and the same merge
 * rule the server applies (services/backend/fovea_backend/merge.py; `merge.cases.json` holds the cases both are
 * tested against):
 *
 *   current == from  → apply `to`
 *   current == to    → already applied (a retry, or the same edit made by someone else): nothing to do
 *   otherwise        → a conflict: someone changed this part since; it is not applied
 *
 * so edits of different keyframes or fields of one object merge, and nobody replaces a part they did not change.
 * Fields are listed per kind (TRACK_FIELDS, EVENT_FIELDS, RELATION_FIELDS): a new field is one entry there and one on
 * the server, and every path (save, undo, journal, conflicts) carries it. Values compare as JSON (an attributes
 * object is one field; a keyframe's mutable attributes are part of its value). A change without `kind` is a track's.
 */
import { keyframeIndexAtOrBefore } from "./keyframes";
import type { AnnotationEvent, Attributes, Keyframe, Relation, Track } from "./types";

export type ObjectKind = "track" | "event" | "relation";

export const TRACK_FIELDS = ["type", "label", "personaId", "source", "confidence", "entityId", "attributes", "locked"] as const;
export const EVENT_FIELDS = ["type", "label", "personaId", "source", "startFrame", "endFrame", "roles", "attributes"] as const;
export const RELATION_FIELDS = ["type", "personaId", "source", "target", "attributes"] as const;
export const FIELDS: Record<ObjectKind, readonly string[]> = { track: TRACK_FIELDS, event: EVENT_FIELDS, relation: RELATION_FIELDS };
export type TrackField = (typeof TRACK_FIELDS)[number];

/** An annotated object of any kind, as the generic parts of the editor see it. */
export type AnnotationObject = Track | AnnotationEvent | Relation;
type Fields = Record<string, unknown> & { id: string; version?: number; frames?: Keyframe[] };
const fieldsOf = (o: AnnotationObject) => o as unknown as Fields;

/** What a field holds when an object predates it (a track saved before attributes existed). */
const DEFAULTS: Record<string, unknown> = { attributes: {}, locked: false, entityId: null, roles: {} };

export function fieldValue(o: AnnotationObject, field: string): unknown {
  const v = fieldsOf(o)[field];
  return v === undefined ? (DEFAULTS[field] ?? null) : v;
}

/** A keyframe's value without its frame: what a keyframe change compares and sets. */
export interface KeyBox {
  x: number;
  y: number;
  width: number;
  height: number;
  outside: boolean;
  attributes?: Attributes;
}

export interface FieldChange {
  from: unknown;
  to: unknown;
}

/** `from: null` adds a keyframe at `frame`, `to: null` removes it, both set: it changes. */
export interface KeyframeChange {
  frame: number;
  from: KeyBox | null;
  to: KeyBox | null;
}

/** A whole track as a create sends it (no id: the change carries it; no version: the server starts at 1). */
export type TrackBody = Pick<Track, TrackField | "frames">;

export type ObjectChange =
  | { op: "create"; kind?: ObjectKind; id: string; track?: TrackBody; event?: Record<string, unknown>; relation?: Record<string, unknown> }
  | { op: "update"; kind?: ObjectKind; id: string; fields: Record<string, FieldChange>; keyframes: KeyframeChange[] }
  /** `version`: the object's version as last seen from the server (absent for one never saved). */
  | { op: "delete"; kind?: ObjectKind; id: string; version?: number };
/** The name the track-only editor used; every change set of the document now. */
export type TrackChange = ObjectChange;

export const kindOf = (change: ObjectChange): ObjectKind => change.kind ?? "track";

/** A part of an object that two sides changed differently: what is there now (theirs) and what we wanted (mine). */
export type ConflictPart = { kind?: ObjectKind } & (
  | { part: "field"; field: string; theirs: unknown; mine: unknown }
  | { part: "keyframe"; frame: number; theirs: KeyBox | null; mine: KeyBox | null }
  | { part: "track"; theirs: AnnotationObject | null; mine: AnnotationObject | null });

/** JSON equality (object keys in any order); null and undefined are the same absence. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b || (a == null && b == null)) return true;
  if (a == null || b == null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameValue(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)].filter((k) => ao[k] !== undefined || bo[k] !== undefined));
  for (const k of keys) if (!sameValue(ao[k], bo[k])) return false;
  return true;
}

export function keyBox(kf: Keyframe | KeyBox): KeyBox {
  const out: KeyBox = { x: kf.x, y: kf.y, width: kf.width, height: kf.height, outside: !!kf.outside };
  if (kf.attributes && Object.keys(kf.attributes).length) out.attributes = { ...kf.attributes };
  return out;
}

export function sameBox(a: KeyBox | Keyframe | null | undefined, b: KeyBox | Keyframe | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height && !!a.outside === !!b.outside
    && sameValue(a.attributes ?? {}, b.attributes ?? {});
}

/** Keyframes by frame: the two sorted lists walked side by side. */
function keyframeChanges(before: readonly Keyframe[], after: readonly Keyframe[]): KeyframeChange[] {
  const out: KeyframeChange[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    if (b === undefined || (a !== undefined && a.frame < b.frame)) {
      out.push({ frame: a.frame, from: keyBox(a), to: null });
      i++;
    } else if (a === undefined || b.frame < a.frame) {
      out.push({ frame: b.frame, from: null, to: keyBox(b) });
      j++;
    } else {
      if (!sameBox(a, b)) out.push({ frame: a.frame, from: keyBox(a), to: keyBox(b) });
      i++;
      j++;
    }
  }
  return out;
}

/** The body of a create: every field of the kind the object has (absent ones take their defaults), a track's keyframes. */
export function objectBody(kind: ObjectKind, o: AnnotationObject): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of FIELDS[kind]) if (fieldsOf(o)[f] !== undefined) body[f] = fieldsOf(o)[f];
  if (kind === "track") body.frames = (o as Track).frames;
  return body;
}

export function trackBody(track: Track): TrackBody {
  return objectBody("track", track) as TrackBody;
}

function createChange(kind: ObjectKind, o: AnnotationObject): ObjectChange {
  return kind === "track" ? { op: "create", id: o.id, track: trackBody(o as Track) } : { op: "create", kind, id: o.id, [kind]: objectBody(kind, o) };
}

const withKind = (kind: ObjectKind) => (kind === "track" ? {} : { kind });

/** What turns `before` into `after` (null: nothing). Same id; either may be null (created / deleted). */
export function diffObject(kind: ObjectKind, before: AnnotationObject | null | undefined, after: AnnotationObject | null | undefined): ObjectChange | null {
  if (!before && !after) return null;
  if (!before) return createChange(kind, after!);
  if (!after) return { op: "delete", ...withKind(kind), id: before.id, ...(before.version !== undefined ? { version: before.version } : {}) };
  if (before === after) return null;
  const fields: Record<string, FieldChange> = {};
  let any = false;
  for (const f of FIELDS[kind]) {
    const from = fieldValue(before, f);
    const to = fieldValue(after, f);
    if (!sameValue(from, to)) {
      fields[f] = { from, to };
      any = true;
    }
  }
  const bf = fieldsOf(before).frames;
  const af = fieldsOf(after).frames;
  const keyframes = kind !== "track" || bf === af ? [] : keyframeChanges(bf ?? [], af ?? []);
  if (!any && keyframes.length === 0) return null;
  return { op: "update", ...withKind(kind), id: after.id, fields, keyframes };
}

export function diffTrack(before: Track | null | undefined, after: Track | null | undefined): ObjectChange | null {
  return diffObject("track", before, after);
}

/** The change that undoes `change` (applied with the same rule, so parts others changed since are left alone). */
export function invertChange(change: ObjectChange, before: AnnotationObject | null): ObjectChange {
  const kind = kindOf(change);
  if (change.op === "create") return { op: "delete", ...withKind(kind), id: change.id };
  if (change.op === "delete") return before ? createChange(kind, before) : change;
  const fields: Record<string, FieldChange> = {};
  for (const [f, c] of Object.entries(change.fields)) fields[f] = { from: c.to, to: c.from };
  return { op: "update", ...withKind(kind), id: change.id, fields, keyframes: change.keyframes.map((k) => ({ frame: k.frame, from: k.to, to: k.from })) };
}

export interface Applied<T extends AnnotationObject = AnnotationObject> {
  /** The object after the change (null: absent). The same object as `current` when nothing changed. */
  track: T | null;
  /** Parts not applied because the current value is neither the change's `from` nor its `to`. */
  conflicts: ConflictPart[];
}

function setKeyframe(frames: Keyframe[], frame: number, value: KeyBox | null): void {
  const i = keyframeIndexAtOrBefore(frames, frame);
  const here = i >= 0 && frames[i].frame === frame;
  if (value === null) {
    if (here) frames.splice(i, 1);
    return;
  }
  const kf: Keyframe = { frame, x: value.x, y: value.y, width: value.width, height: value.height };
  if (value.outside) kf.outside = true;
  if (value.attributes && Object.keys(value.attributes).length) kf.attributes = { ...value.attributes };
  if (here) frames[i] = kf;
  else frames.splice(i + 1, 0, kf);
}

function keyframeValue(frames: readonly Keyframe[], frame: number): KeyBox | null {
  const i = keyframeIndexAtOrBefore(frames, frame);
  return i >= 0 && frames[i].frame === frame ? keyBox(frames[i]) : null;
}

/** An object made from a create's body. */
function created(kind: ObjectKind, change: Extract<ObjectChange, { op: "create" }>): AnnotationObject {
  const body = (kind === "track" ? change.track : change[kind]) as Record<string, unknown>;
  return (kind === "track" ? { ...body, id: change.id, jobId: null } : { ...body, id: change.id }) as unknown as AnnotationObject;
}

/**
 * `change` applied to `current` by the merge rule. `track` in a conflict of part "track" is what we know of
 * ours (a whole object for a create; for an update of a deleted object the caller knows better).
 */
export function applyChange<T extends AnnotationObject>(current: T | null, change: ObjectChange): Applied<T> {
  const kind = kindOf(change);
  const tag = kind === "track" ? {} : { kind };
  if (change.op === "create") {
    // Present already: made by an earlier try of the same save (ids are made by their creator).
    if (current) return { track: current, conflicts: [] };
    return { track: created(kind, change) as T, conflicts: [] };
  }
  if (change.op === "delete") {
    if (!current) return { track: null, conflicts: [] };
    if (change.version !== undefined && current.version !== undefined && current.version !== change.version) {
      return { track: current, conflicts: [{ ...tag, part: "track", theirs: current, mine: null }] };
    }
    return { track: null, conflicts: [] };
  }
  if (!current) return { track: null, conflicts: [{ ...tag, part: "track", theirs: null, mine: null }] };
  const conflicts: ConflictPart[] = [];
  let next: T = current;
  const edit = (): Fields => fieldsOf(next === current ? (next = { ...current }) : next);
  for (const [f, c] of Object.entries(change.fields)) {
    const now = fieldValue(current, f);
    if (sameValue(now, c.to)) continue;
    if (sameValue(now, c.from)) edit()[f] = c.to;
    else conflicts.push({ ...tag, part: "field", field: f, theirs: now ?? null, mine: c.to });
  }
  const currentFrames = fieldsOf(current).frames;
  if (currentFrames && change.keyframes.length) {
    let frames: Keyframe[] | null = null;
    const removed: KeyframeChange[] = [];
    for (const k of change.keyframes) {
      const now = keyframeValue(frames ?? currentFrames, k.frame);
      if (sameBox(now, k.to)) continue;
      if (sameBox(now, k.from)) {
        frames ??= currentFrames.slice();
        setKeyframe(frames, k.frame, k.to);
        if (k.to === null) removed.push(k);
      } else {
        conflicts.push({ part: "keyframe", frame: k.frame, theirs: now, mine: k.to });
      }
    }
    if (frames) {
      // A track keeps at least one keyframe: removals that would leave none are left out (the server refuses them).
      if (frames.length === 0) for (const k of removed) setKeyframe(frames, k.frame, k.from);
      edit().frames = frames;
    }
  }
  return { track: next, conflicts };
}

/** The value of one part of an object now (for showing a conflict, and checking whether it is still one). */
export function partValue(track: AnnotationObject | null, part: ConflictPart): unknown {
  if (part.part === "track") return track;
  if (!track) return undefined;
  return part.part === "field" ? fieldValue(track, part.field) : keyframeValue(fieldsOf(track).frames ?? [], part.frame);
}

export function partKey(id: string, part: ConflictPart): string {
  const prefix = part.kind && part.kind !== "track" ? `${part.kind}:` : "";
  return prefix + (part.part === "track" ? `${id}|track` : part.part === "field" ? `${id}|field:${part.field}` : `${id}|frame:${part.frame}`);
}

/** `mine` is what is there already: the conflict has gone away (someone made the same edit, or we chose it). */
export function partSettled(track: AnnotationObject | null, part: ConflictPart): boolean {
  const now = partValue(track, part);
  if (part.part === "track") {
    return part.mine === null ? track === null : track !== null && diffObject(part.kind ?? "track", part.mine, track) === null;
  }
  if (now === undefined) return false;
  return part.part === "field" ? sameValue(now, part.mine) : sameBox(now as KeyBox | null, part.mine);
}
