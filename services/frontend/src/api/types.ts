/** The backend's JSON shapes (camelCase), as FRONTEND_API.md gives them. */
import type { Keyframe, Source } from "../editor/types";

export interface User {
  id: string;
  username: string;
  isAdmin: boolean;
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
  createdAt: string;
  updatedAt: string;
}

export interface AnnotationUpsert {
  id: string;
  personaId: string | null;
  type: string;
  label: string;
  frames: Keyframe[];
  source: Source;
  confidence: number | null;
}

export interface Persona {
  id: string;
  name: string;
  role: string;
  informationNeed: string;
  hidden: boolean;
}

export interface OntologyType {
  id: string;
  name: string;
  description: string;
  color: string;
}

export type OntologyCategory = "entityTypes" | "eventTypes" | "roleTypes" | "relationTypes";
export const ONTOLOGY_CATEGORIES: OntologyCategory[] = ["entityTypes", "eventTypes", "roleTypes", "relationTypes"];

export type Ontology = Record<OntologyCategory, OntologyType[]> & { personaId?: string };

export interface WorldItem {
  id: string;
  name: string;
  typeId: string;
  description: string;
}

export type WorldCategory = "entities" | "events" | "locations" | "times";
export type World = Record<WorldCategory | "collections" | "relations", WorldItem[]>;

export type JobStatus = "queued" | "running" | "completed" | "failed";

export interface Job {
  id: string;
  queue: string;
  kind: "detect" | "track" | "summarize" | "augment";
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

export interface Suggestion {
  category: OntologyCategory;
  name: string;
  description: string;
  confidence: number;
  reason: string;
}

export interface ImportPreview {
  wouldImport: Record<string, number>;
  conflicts: Array<{ line: number; kind: string; id: string; reason: string }>;
  errors: Array<{ line: number; field: string; message: string }>;
}
