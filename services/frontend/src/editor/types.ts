/** The annotation document's data: what the backend stores, in video pixel coordinates. */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An attribute's value: text or a choice (string), a number, a checkbox (boolean). */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/**
 * A keyframe; `outside` hides the object from this keyframe until the next one (it still carries its box).
 * `attributes`: the mutable attributes set from this keyframe on; each holds until a later keyframe sets it again.
 */
export interface Keyframe extends Box {
  frame: number;
  outside?: boolean;
  attributes?: Attributes;
}

export type Source = "manual" | "ai-assisted" | "automatic";

export interface Track {
  id: string;
  type: string;
  label: string;
  personaId: string | null;
  source: Source;
  confidence: number | null;
  jobId: string | null;
  /** Sorted by frame, unique frames, at least one. */
  frames: Keyframe[];
  /** The world entity this track shows (null: none). */
  entityId?: string | null;
  /** Attribute values fixed for the whole track. */
  attributes?: Attributes;
  /** A locked track refuses every edit but unlocking. */
  locked?: boolean;
  /** The server's version of the track (bumped on every change there); absent until it is first saved. */
  version?: number;
}

/** What a role filler or a relation end points at: a track or event of this video, or a world entity. */
export interface Ref {
  kind: "track" | "event" | "entity";
  id: string;
}

/** An event of one of the persona's event types over frames [startFrame, endFrame]; a frame tag has no roles. */
export interface AnnotationEvent {
  id: string;
  type: string;
  label: string;
  personaId: string | null;
  source: Source;
  startFrame: number;
  endFrame: number;
  /** Role type id → its fillers. */
  roles: Record<string, Ref[]>;
  attributes: Attributes;
  version?: number;
}

/** A relation of one of the persona's relation types from one annotated object (or entity) to another. */
export interface Relation {
  id: string;
  type: string;
  personaId: string | null;
  source: Ref;
  target: Ref;
  attributes: Attributes;
  version?: number;
}

export interface Size {
  width: number;
  height: number;
}
