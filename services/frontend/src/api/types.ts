/** The backend's JSON shapes (camelCase), as FRONTEND_API.md gives them. */
import type { Keyframe } from "../editor/types";
import type { components } from "./schema.gen";

/** The backend's response and request models, generated from its OpenAPI document by ../../api-types.sh
 * (tests/frontend/test_vitest.py fails while schema.gen.ts is stale); below, the names the app uses for them. */
type Schemas = components["schemas"];

/** Lowest to highest; each role may do everything the ones before it may (backend: fovea_backend/roles.py). */
export const ROLES = ["viewer", "annotator", "reviewer", "admin"] as const;
export type Role = (typeof ROLES)[number];

export type User = Schemas["UserOut"];

/** An account as admins see it. */
export type Account = Schemas["AccountOut"];

export type AccountWithPassword = Schemas["AccountWithPasswordOut"];

export type Session = Schemas["SessionOut"];

export type ApiToken = Schemas["TokenOut"];

export type Video = Schemas["VideoOut"];

export type SyncResult = Schemas["SyncOut"];

/** The editor's Keyframe for `frames`: the same JSON, with `attributes` absent where the backend's model allows null. */
export type Annotation = Omit<Schemas["AnnotationOut"], "frames"> & { frames: Keyframe[] };

export type Persona = Schemas["PersonaOut"];
export type PersonaInput = Schemas["PersonaIn"];

/** An attribute an entity or event type declares: fixed per object, or `mutable` (changing per keyframe, held). */
export interface AttributeDefinition {
  id: string;
  name: string;
  type: "text" | "number" | "choice" | "checkbox";
  options?: string[];
  mutable?: boolean;
  default?: string | number | boolean;
}

export interface OntologyType {
  id: string;
  name: string;
  description: string;
  color: string;
  attributes?: AttributeDefinition[];
  /** Event types: their role slots. */
  roles?: Array<{ roleTypeId: string; optional?: boolean; maxOccurrences?: number }>;
  /** Entity types: the detector classes they stand for ("Vehicle <- car, bus, truck"); absent: proposed per run. */
  detectorClasses?: string[];
  /** Role types: what may fill them ("entity", "event" or type ids; empty: anything). */
  allowedFillerTypes?: string[];
  /** Relation types: what their ends may be. */
  sourceTypes?: string[];
  targetTypes?: string[];
}

export type OntologyCategory = "entityTypes" | "eventTypes" | "roleTypes" | "relationTypes";
export const ONTOLOGY_CATEGORIES: OntologyCategory[] = ["entityTypes", "eventTypes", "roleTypes", "relationTypes"];

export type Ontology = Record<OntologyCategory, OntologyType[]> & { personaId?: string };

/** How one persona types a world entity (its entity type) or event (its event type): upstream's typeAssignments. */
export interface TypeAssignment {
  personaId: string;
  entityTypeId?: string;
  eventTypeId?: string;
}

/** What a world relation's end or a collection's member is. */
export type WorldRefKind = "entity" | "event" | "time" | "location";

export interface WorldItem {
  id: string;
  name: string;
  description?: string;
  /** Entities and events: the type each persona gave it. */
  typeAssignments?: TypeAssignment[];
  /** Events: when and where (world time and location ids). */
  timeId?: string;
  locationId?: string;
  /** Times: an instant (`at`) or an interval (`start`..`end`), ISO 8601, with the video and frame(s) it was seen at. */
  timeType?: "instant" | "interval";
  at?: string;
  start?: string;
  end?: string;
  videoId?: string;
  frame?: number;
  endFrame?: number;
  /** Locations: WGS 84 degrees. */
  latitude?: number;
  longitude?: number;
  /** Collections: members of one kind. */
  memberKind?: WorldRefKind;
  members?: string[];
  /** Relations: a persona's relation type between two world objects. */
  personaId?: string;
  type?: string;
  source?: { kind: WorldRefKind; id: string };
  target?: { kind: WorldRefKind; id: string };
  [key: string]: unknown;
}

export type WorldKind = "entities" | "events" | "times" | "locations" | "collections" | "relations";
export const WORLD_KINDS: WorldKind[] = ["entities", "events", "times", "locations", "collections", "relations"];
export type World = Record<WorldKind, WorldItem[]>;

export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

export type Job = Schemas["JobOut"];

/** A model of the registry (configs/models.yaml) the running model-service offers. */
export type ModelInfo = Schemas["ModelOut"];

/** The backend types a summary's key frames as free-form objects (a model writes them); the app reads these keys. */
interface SummaryKeyFrames {
  keyFrames: Array<{ frame: number; time_s?: number; timeS?: number }>;
}
export type Summary = Omit<Schemas["SummaryOut"], "keyFrames"> & SummaryKeyFrames;
export type SimilarSummary = Omit<Schemas["SimilarSummaryOut"], "keyFrames"> & SummaryKeyFrames;

export type TranscriptWord = Schemas["TranscriptWordOut"];

export type TranscriptSegment = Schemas["TranscriptSegmentOut"];

/** A transcript segment that matches a search: where in which video it was said (GET /api/transcripts/search). */
export type TranscriptHit = Schemas["TranscriptHitOut"];

/** Where in which video words were said (a transcript segment) or shown (a text track, first to last sighting). */
export type TextHit = Schemas["TextHitOut"];

/** A video's transcript: seconds on the video's own timeline; "no_audio" / "no_speech" are results, with `message`. */
export type Transcript = Schemas["TranscriptOut"];

export interface Suggestion {
  category: OntologyCategory;
  name: string;
  description: string;
  confidence: number;
  reason: string;
  /** What in the persona's videos it comes from ("bus: 12 detections in 3 videos"); null for the fixed vocabulary. */
  evidence: string | null;
  /** WordNet's definition and hypernyms, where WordNet knows the word. */
  gloss: string | null;
  hypernyms: string[];
}

export type ImportPreview = Schemas["ImportPreviewOut"];

// --- assignment and review ----------------------------------------------------------------------------
export const ASSIGNMENT_STATES = ["new", "in_progress", "submitted", "in_review", "accepted", "changes_requested"] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];

export type Assignment = Schemas["AssignmentOut"];

export type ReviewIssue = Schemas["IssueOut"];

export type ProgressRow = Schemas["ProgressRow"];

/** One content version of a track: who made it, when (GET /api/annotations/{id}/history, newest first). */
export type TrackVersion = Schemas["HistoryEntryOut"];
