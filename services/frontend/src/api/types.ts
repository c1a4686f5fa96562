/** The backend's JSON shapes (camelCase), as FRONTEND_API.md gives them. */
import type { Keyframe, Source } from "../editor/types";

/** Lowest to highest; each role may do everything the ones before it may (backend: fovea_backend/roles.py). */
export const ROLES = ["viewer", "annotator", "reviewer", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  username: string;
  isAdmin: boolean;
  /** What this session may do. */
  role: Role;
  /** The password was made by an admin: the app asks for a new one first. */
  mustChangePassword: boolean;
}

/** An account as admins see it. */
export interface Account {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  mustChangePassword: boolean;
  createdAt: string;
  lastSeenAt: string | null;
  sessions: number;
}

export interface AccountWithPassword {
  user: Account;
  /** Shown once. */
  oneTimePassword: string | null;
}

export interface Session {
  id: string;
  userId: string;
  username: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string;
  client: string;
  current: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

export interface Video {
  id: string;
  filename: string;
  path: string;
  sizeBytes: number | null;
  duration: number | null;
  fps: number | null;
  fpsNum?: number | null;
  fpsDen?: number | null;
  frameCount?: number | null;
  width: number | null;
  height: number | null;
  codec?: string | null;
  annotationCount?: number;
  annotationRevision?: number;
  /** Why the workspace cannot annotate it (the backend's ffprobe found no video stream, frame rate...). */
  problem?: string | null;
  metadata: Record<string, unknown>;
}

export interface SyncResult {
  added: string[];
  updated: string[];
  unchanged: number;
  missing: string[];
  pruned: string[];
}

export interface Annotation {
  id: string;
  videoId: string;
  personaId: string | null;
  type: string;
  label: string;
  frames: Keyframe[];
  source: Source;
  confidence: number | null;
  jobId: string | null;
  entityId?: string | null;
  attributes?: Record<string, string | number | boolean>;
  locked?: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Persona {
  id: string;
  name: string;
  role: string;
  informationNeed: string;
  hidden: boolean;
  /** Username of who edits it (with admins); null: the team's, edited by admins. */
  owner?: string | null;
}

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

export interface Job {
  id: string;
  queue: string;
  kind: "detect" | "track" | "summarize" | "augment" | "detect-types" | "track-box" | "transcribe" | "read-text";
  status: JobStatus;
  progress: number;
  videoId: string | null;
  personaId: string | null;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The worker's frames done / total and stage ("loading model", "detecting", "tracking"), as last mirrored. */
  detail?: { framesDone?: number; framesTotal?: number; stage?: string };
}

/** A model of the registry (configs/models.yaml) the running model-service offers. */
export interface ModelInfo {
  name: string;
  task: string;
  runtime: string;
  description: string;
  licence: string;
  device: string;
  classes: string[];
  default: boolean;
}

export interface Summary {
  id: string;
  videoId: string;
  personaId: string | null;
  summary: Record<string, unknown>;
  text: string;
  keyFrames: Array<{ frame: number; time_s?: number; timeS?: number }>;
  jobId: string | null;
  createdAt: string;
  distance?: number;
}

export interface TranscriptWord {
  start: number;
  end: number;
  word: string;
  probability: number;
}

export interface TranscriptSegment {
  start: number;
  end: number;
  text: string;
  words: TranscriptWord[];
}

/** A transcript segment that matches a search: where in which video it was said (GET /api/transcripts/search). */
export interface TranscriptHit {
  videoId: string;
  filename: string;
  start: number;
  end: number;
  text: string;
  rank: number;
}

/** Where in which video words were said (a transcript segment) or shown (a text track, first to last sighting). */
export interface TextHit extends TranscriptHit {
  source: "speech" | "screen";
  annotationId: string | null;
}

/** A video's transcript: seconds on the video's own timeline; "no_audio" / "no_speech" are results, with `message`. */
export interface Transcript {
  videoId: string;
  jobId: string | null;
  model: string;
  language: string | null;
  status: "ok" | "no_audio" | "no_speech";
  message: string | null;
  durationS: number;
  text: string;
  segments: TranscriptSegment[];
  createdAt: string;
  updatedAt: string;
}

export interface Suggestion {
  category: OntologyCategory;
  name: string;
  description: string;
  confidence: number;
  reason: string;
}

export interface ImportPreview {
  wouldImport: Record<string, number>;
  /** New records only; those replacing a row are the conflicts (each record is in one of the two). */
  wouldAdd: Record<string, number>;
  wouldReplace: Record<string, number>;
  conflicts: Array<{ line: number; kind: string; id: string; reason: string }>;
  errors: Array<{ line: number; field: string; message: string }>;
  /** Exact totals; the lists above hold the first 1000 of each. */
  conflictCount: number;
  errorCount: number;
}

// --- assignment and review ----------------------------------------------------------------------------
export const ASSIGNMENT_STATES = ["new", "in_progress", "submitted", "in_review", "accepted", "changes_requested"] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];

export interface Assignment {
  id: string;
  videoId: string;
  video: string;
  assignee: string;
  assigneeId: string;
  firstFrame: number | null;
  lastFrame: number | null;
  state: AssignmentState;
  reviewer: string | null;
  createdAt: string;
  updatedAt: string;
  issues: number;
  openIssues: number;
}

export interface ReviewIssue {
  id: string;
  assignmentId: string;
  frame: number;
  trackId: string | null;
  message: string;
  author: string | null;
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

export interface ProgressRow {
  name: string;
  id: string;
  states: Partial<Record<AssignmentState, number>>;
  total: number;
}

/** One content version of a track: who made it, when (GET /api/annotations/{id}/history, newest first). */
export interface TrackVersion {
  id: number;
  version: number;
  op: "create" | "update" | "delete";
  at: string;
  actor: string | null;
  label: string | null;
  type: string | null;
  keyframes: number;
}
