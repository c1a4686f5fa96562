/** Every backend route the app uses, by feature. */
import type { TrackChange } from "../editor/changes";
import type { AnnotationEvent, Relation } from "../editor/types";
import type { ServerConflict, ServerRejection } from "../editor/document";
import { ApiError, getJson, request, sendJson } from "./client";
import type { components } from "./schema.gen";
import type {
  Account, AccountWithPassword, ApiToken, Assignment, AssignmentState, ProgressRow, ReviewIssue, Role, Session, TrackVersion,
  Annotation, ImportPreview, Job, ModelInfo, Ontology, Persona, PersonaInput, SimilarSummary, Summary, SyncResult, TextHit, Transcript, TranscriptHit, User, Video, World, WorldItem, WorldKind,
} from "./types";

export { ApiError, setUnauthorizedHandler } from "./client";
export * from "./types";

const enc = encodeURIComponent;

// --- auth ---------------------------------------------------------------------------------------------
export const auth = {
  login: (username: string, password: string) => sendJson<User>("POST", "/api/auth/login", { username, password }, { allow401: true }),
  logout: () => sendJson<void>("POST", "/api/auth/logout"),
  /** null when there is no session (no redirect: this is how the app finds out). */
  me: async (): Promise<User | null> => {
    try {
      return await getJson<User>("/api/auth/me", { allow401: true });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  },
  changePassword: (currentPassword: string, newPassword: string) =>
    sendJson<{ endedSessions: number }>("PUT", "/api/auth/password", { currentPassword, newPassword }),
  sessions: () => getJson<Session[]>("/api/auth/sessions"),
  endSession: (id: string) => sendJson<void>("DELETE", `/api/auth/sessions/${enc(id)}`),
  tokens: () => getJson<ApiToken[]>("/api/auth/tokens"),
  /** The answer's `token` is shown once. */
  createToken: (name: string, role: Role, expiresInDays: number | null) =>
    sendJson<ApiToken & { token: string }>("POST", "/api/auth/tokens", { name, role, expiresInDays }),
  revokeToken: (id: string) => sendJson<void>("DELETE", `/api/auth/tokens/${enc(id)}`),
};

// --- users (admins) -----------------------------------------------------------------------------------
export const users = {
  list: () => getJson<Account[]>("/api/users"),
  /** Without a password the answer carries a one-time password. */
  create: (username: string, role: Role, password: string | null) =>
    sendJson<AccountWithPassword>("POST", "/api/users", password ? { username, role, password } : { username, role }),
  update: (id: string, change: { role?: Role; disabled?: boolean }) => sendJson<Account>("PATCH", `/api/users/${enc(id)}`, change),
  resetPassword: (id: string) => sendJson<AccountWithPassword>("POST", `/api/users/${enc(id)}/reset-password`),
  sessions: () => getJson<Session[]>("/api/sessions"),
  endSession: (id: string) => sendJson<void>("DELETE", `/api/sessions/${enc(id)}`),
};

// --- assignment and review ---------------------------------------------------------------------------
export const review = {
  list: (filter: { mine?: boolean; videoId?: string; states?: AssignmentState[] } = {}) => {
    const q = new URLSearchParams();
    if (filter.mine) q.set("mine", "true");
    if (filter.videoId) q.set("videoId", filter.videoId);
    for (const state of filter.states ?? []) q.append("state", state);
    return getJson<Assignment[]>(`/api/assignments?${q}`);
  },
  assign: (videoId: string, assignee: string) => sendJson<Assignment>("POST", "/api/assignments", { videoId, assignee }),
  remove: (id: string) => sendJson<void>("DELETE", `/api/assignments/${enc(id)}`),
  move: (id: string, state: AssignmentState) => sendJson<Assignment>("PUT", `/api/assignments/${enc(id)}/state`, { state }),
  issues: (id: string) => getJson<ReviewIssue[]>(`/api/assignments/${enc(id)}/issues`),
  addIssue: (id: string, frame: number, trackId: string | null, message: string) =>
    sendJson<ReviewIssue>("POST", `/api/assignments/${enc(id)}/issues`, { frame, trackId, message }),
  resolve: (issueId: string) => sendJson<ReviewIssue>("POST", `/api/review-issues/${enc(issueId)}/resolve`),
  progress: () => getJson<{ people: ProgressRow[]; videos: ProgressRow[] }>("/api/assignments/progress"),
};

// --- videos -------------------------------------------------------------------------------------------
export const videos = {
  list: () => getJson<Video[]>("/api/videos"),
  get: (id: string) => getJson<Video>(`/api/videos/${enc(id)}`),
  sync: () => sendJson<SyncResult>("POST", "/api/videos/sync"),
  streamUrl: (id: string) => `/api/videos/${enc(id)}/stream`,
  thumbnailUrl: (id: string) => `/api/videos/${enc(id)}/thumbnail`,
  /** Admins only; a video with tracks only with `withAnnotations` (they are deleted with it). */
  remove: (id: string, withAnnotations: boolean) =>
    sendJson<{ removed: string; annotations: number }>("DELETE", `/api/videos/${enc(id)}?withAnnotations=${withAnnotations}`),
  /** The frame this user was last on in this video (null: never opened). */
  position: async (id: string) => (await getJson<{ frame: number | null }>(`/api/videos/${enc(id)}/position`)).frame,
  setPosition: (id: string, frame: number, keepalive = false) =>
    sendJson<{ frame: number }>("PUT", `/api/videos/${enc(id)}/position`, { frame }, { keepalive }),
  /** How this user looks at this video: the tracks they hid, the persona they work as, whether they see all. */
  view: (id: string) => getJson<VideoView>(`/api/videos/${enc(id)}/view`),
  /** Change some of the view; the fields left out stay. */
  setView: (id: string, change: Partial<VideoView>) => sendJson<VideoView>("PUT", `/api/videos/${enc(id)}/view`, change),
};

export interface VideoView {
  hidden: string[];
  /** A persona's id, "none" (no persona), or null (never chosen here). */
  personaId: string | null;
  /** Every persona's tracks shown, the others' read only. */
  allPersonas: boolean;
}

/** `?personaId=` of a persona scope (editor/personaScope.ts); nothing when unscoped. */
function scopeQuery(scope: string | null | undefined): string {
  return scope ? `?${new URLSearchParams({ personaId: scope })}` : "";
}

// --- annotations --------------------------------------------------------------------------------------
/** The revision number in an ETag: `"<rev>"` or the older `"<videoId>-<rev>"`. */
export function revisionOfEtag(etag: string | null): number | null {
  const m = etag?.match(/(\d+)"?$/);
  return m ? Number(m[1]) : null;
}

export class RevisionConflict extends Error {
  constructor(readonly revision: number | null) {
    super("annotations changed on the server");
  }
}

/** The answer of a merging save (see editor/changes.ts for what `changes` holds). */
export interface MergeResult {
  revision: number;
  previousRevision: number;
  annotations: Annotation[];
  events: AnnotationEvent[];
  relations: Relation[];
  conflicts: ServerConflict[];
  rejected: ServerRejection[];
}

export const annotations = {
  /** Who changed the track what and when, newest first (404 for a track never saved). */
  history: (id: string) => getJson<TrackVersion[]>(`/api/annotations/${enc(id)}/history`),
  /** Put the track back as it was at `version` (a new version by whoever restores). */
  restore: (id: string, version: number) => sendJson<Annotation>("POST", `/api/annotations/${enc(id)}/restore`, { version }),
  /** Every track, event and relation of a video at one revision (what the workspace edits); with a persona scope, only
   * that persona's and the team's (no persona). */
  document: (videoId: string, scope?: string | null) =>
    getJson<{ revision: number; tracks: Annotation[]; events: AnnotationEvent[]; relations: Relation[] }>(
      `/api/videos/${enc(videoId)}/annotations${scopeQuery(scope)}`),
  async list(videoId: string): Promise<{ annotations: Annotation[]; revision: number | null }> {
    const response = await request("GET", `/api/annotations/${enc(videoId)}`);
    return { annotations: (await response.json()) as Annotation[], revision: revisionOfEtag(response.headers.get("ETag")) };
  },
  /**
   * The merging save: what changed since `revision`, per field and keyframe, merged by the server with what others
   * saved since (their parts stay; a part both changed comes back as a conflict, not written). With a persona scope the
   * server refuses (422) a save naming another persona's object.
   */
  async save(videoId: string, changes: TrackChange[], revision: number,
    { keepalive = false, scope = null }: { keepalive?: boolean; scope?: string | null } = {}): Promise<MergeResult> {
    try {
      return await sendJson<MergeResult>("PUT", `/api/videos/${enc(videoId)}/annotations${scopeQuery(scope)}`, { changes },
        { headers: { "If-Match": `"${revision}"` }, keepalive });
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        const rev = (error.body as { revision?: unknown } | null)?.revision;
        throw new RevisionConflict(typeof rev === "number" ? rev : null);
      }
      throw error;
    }
  },
};

// --- personas and ontologies --------------------------------------------------------------------------
export const personas = {
  list: () => getJson<Persona[]>("/api/personas"),
  create: (p: PersonaInput) => sendJson<Persona>("POST", "/api/personas", p),
  update: (id: string, p: PersonaInput) => sendJson<Persona>("PUT", `/api/personas/${enc(id)}`, p),
  remove: (id: string) => sendJson<void>("DELETE", `/api/personas/${enc(id)}`),
  ontology: (id: string) => getJson<Ontology>(`/api/personas/${enc(id)}/ontology`),
  saveOntology: (id: string, o: Ontology) =>
    sendJson<Ontology>("PUT", `/api/personas/${enc(id)}/ontology`, {
      entityTypes: o.entityTypes, eventTypes: o.eventTypes, roleTypes: o.roleTypes, relationTypes: o.relationTypes,
    }),
  suggestTypes: (personaId: string, params: Record<string, unknown> = {}) =>
    sendJson<{ jobId: string }>("POST", "/api/ontology/augment", { personaId, params }),
};

// --- world --------------------------------------------------------------------------------------------
/** Where an entity appears: one of its tracks, in one video (the backend's AppearanceOut). */
export type Appearance = components["schemas"]["AppearanceOut"];

/** A field's change as the writer saw it: the value it started from and the new one (null: remove the field). */
export type FieldEdit = { from: unknown; to: unknown };

export const world = {
  get: () => getJson<World>("/api/world"),
  /** Where entities are seen (every linked track, or one entity's). */
  appearances: (entityId?: string) => getJson<Appearance[]>(`/api/world/appearances${entityId ? `?entityId=${enc(entityId)}` : ""}`),
  /** One new object, its id made here (a retry finds it). */
  create: (kind: WorldKind, item: WorldItem) => sendJson<WorldItem>("POST", `/api/world/${kind}`, item),
  /** Some fields of one object, each with the value it was changed from: someone else's change since is a 409. */
  patch: (kind: WorldKind, id: string, fields: Record<string, FieldEdit>) =>
    sendJson<WorldItem>("PATCH", `/api/world/${kind}/${enc(id)}`, { fields }),
  remove: (kind: WorldKind, id: string) => sendJson<void>("DELETE", `/api/world/${kind}/${enc(id)}`),
  /** How one persona types an entity or event (null: untyped by it); the other personas' types stay. */
  assignType: (kind: "entities" | "events", id: string, personaId: string, typeId: string | null) =>
    sendJson<WorldItem>("PUT", `/api/world/${kind}/${enc(id)}/types/${enc(personaId)}`, { typeId }),
};

// --- jobs ---------------------------------------------------------------------------------------------
export interface DetectParams {
  confidence?: number;
  frames?: number[];
  sampleEvery?: number;
  classes?: string[];
}

export const jobs = {
  list: (filter: { videoId?: string; status?: string; kind?: string; limit?: number } = {}) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== "") q.set(k, String(v));
    return getJson<Job[]>(`/api/jobs${q.size ? `?${q}` : ""}`);
  },
  get: (id: string) => getJson<Job>(`/api/jobs/${enc(id)}`),
  detect: (videoId: string, params: DetectParams, kind: "detect" | "track" = "detect") =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/${kind}`, params),
  /** Detection typed by a persona's entity types (all, or the ones named). */
  detectTypes: (videoId: string, body: { personaId: string; types?: string[]; model?: string; sampleEvery?: number; confidence?: number }) =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/detect-types`, body),
  /** Track this box: follow the track's keyframe box at `fromFrame` forward; what follows it is replaced. */
  trackBox: (videoId: string, body: { annotationId: string; fromFrame: number; keyframeEvery?: number }) =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/track-box`, body),
  /** Text in frame: OCR on sampled frames; each text becomes a "text" track labelled with its string. */
  readText: (videoId: string, body: { personaId?: string | null; framesPerSecond?: number; minConfidence?: number; model?: string }) =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/read-text`, body),
  cancel: (id: string) => sendJson<Job>("POST", `/api/jobs/${enc(id)}/cancel`, {}),
};

export const models = {
  list: (task?: string) => getJson<ModelInfo[]>(`/api/models${task ? `?task=${enc(task)}` : ""}`),
};

// --- summaries ----------------------------------------------------------------------------------------
export const summaries = {
  list: (videoId: string) => getJson<Summary[]>(`/api/videos/${enc(videoId)}/summaries`),
  /** Summaries (of any video) nearest to one of this video's summaries; the backend needs which one. */
  similar: (videoId: string, summaryId: string) =>
    getJson<SimilarSummary[]>(`/api/videos/${enc(videoId)}/summaries/similar?summaryId=${enc(summaryId)}`),
  request: (videoId: string, personaId: string | null) =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/summaries`, { personaId, params: {} }),
};

// --- transcripts --------------------------------------------------------------------------------------
export const transcripts = {
  /** The video's transcript, or null while it has none (204). */
  get: async (videoId: string): Promise<Transcript | null> => {
    const response = await request("GET", `/api/videos/${enc(videoId)}/transcript`);
    return response.status === 204 ? null : ((await response.json()) as Transcript);
  },
  /** Speech to text with word times; the transcript replaces the one before when the job completes. `model`: a
   * transcript model of the registry (models.list("transcript")), the default when left out. */
  request: (videoId: string, model?: string) =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/transcribe`, model ? { model } : {}),
  /** Where in which video the words were said, best first. */
  search: (text: string) => getJson<TranscriptHit[]>(`/api/transcripts/search?text=${encodeURIComponent(text)}`),
  /** Where in which video the words were said or shown on screen, best first. */
  searchSaidOrShown: (text: string) => getJson<TextHit[]>(`/api/search/text?text=${encodeURIComponent(text)}`),
};

// --- export and import --------------------------------------------------------------------------------
export type StandardFormat = "mot" | "coco" | "yolo" | "cvat";

export interface FormatImportResult extends ImportPreview {
  dryRun: boolean;
  typesAdded: string[];
  notes: string[];
}

export const transfer = {
  /** A standard format of one video's accepted work (or every video's). */
  formatUrl: (format: StandardFormat, opts: { videoId?: string; personaId?: string }) => {
    const q = new URLSearchParams({ format });
    if (opts.personaId) q.set("personaId", opts.personaId);
    return opts.videoId ? `/api/videos/${enc(opts.videoId)}/export?${q}` : `/api/export?${q}`;
  },
  /** CVAT for video XML or MOT gt.txt into a persona's tracks of a video; `dryRun` reports and writes nothing. */
  importFormat: (videoId: string, format: "cvat" | "mot", personaId: string, body: string, dryRun: boolean) =>
    sendJson<FormatImportResult>("POST", `/api/videos/${enc(videoId)}/import?${new URLSearchParams({ format, personaId, dryRun: String(dryRun) })}`,
      undefined, { body, headers: { "Content-Type": format === "cvat" ? "application/xml" : "text/csv" } }),
  exportUrl: (opts: { videoId?: string; interpolate?: boolean; acceptedOnly?: boolean }) => {
    const q = new URLSearchParams({ format: "jsonl" });
    if (opts.videoId) q.set("videoId", opts.videoId);
    if (opts.interpolate) q.set("interpolate", "true");
    if (opts.acceptedOnly) q.set("acceptedOnly", "true");
    return `/api/export?${q}`;
  },
  preview: (body: string) =>
    sendJson<ImportPreview>("POST", "/api/import?dryRun=true", undefined, { body, headers: { "Content-Type": "application/x-ndjson" } }),
  importLines: (body: string) =>
    sendJson<{ imported: Record<string, number> }>("POST", "/api/import", undefined, { body, headers: { "Content-Type": "application/x-ndjson" } }),
};
