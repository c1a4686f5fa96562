/** Every backend route the app uses, by feature. */
import type { Track } from "../editor/types";
import { ApiError, getJson, request, sendJson } from "./client";
import type {
  Annotation, AnnotationUpsert, ImportPreview, Job, Ontology, Persona, Summary, SyncResult, User, Video, World,
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
};

// --- videos -------------------------------------------------------------------------------------------
export const videos = {
  list: () => getJson<Video[]>("/api/videos"),
  get: (id: string) => getJson<Video>(`/api/videos/${enc(id)}`),
  sync: () => sendJson<SyncResult>("POST", "/api/videos/sync"),
  streamUrl: (id: string) => `/api/videos/${enc(id)}/stream`,
  thumbnailUrl: (id: string) => `/api/videos/${enc(id)}/thumbnail`,
};

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

function toUpsert(t: Track): AnnotationUpsert {
  return { id: t.id, personaId: t.personaId, type: t.type, label: t.label, frames: t.frames, source: t.source, confidence: t.confidence };
}

export const annotations = {
  async list(videoId: string): Promise<{ annotations: Annotation[]; revision: number | null }> {
    const response = await request("GET", `/api/annotations/${enc(videoId)}`);
    return { annotations: (await response.json()) as Annotation[], revision: revisionOfEtag(response.headers.get("ETag")) };
  },
  /** The bulk save: changed and deleted tracks in one transaction at a revision (409 when stale). */
  async save(videoId: string, changes: { upsert: Track[]; delete: string[] }, revision: number, keepalive = false) {
    try {
      return await sendJson<{ revision: number; annotations: Annotation[] }>(
        "PUT", `/api/videos/${enc(videoId)}/annotations`,
        { upsert: changes.upsert.map(toUpsert), delete: changes.delete },
        { headers: { "If-Match": `"${revision}"` }, keepalive },
      );
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
  create: (p: Omit<Persona, "id">) => sendJson<Persona>("POST", "/api/personas", p),
  update: (id: string, p: Omit<Persona, "id">) => sendJson<Persona>("PUT", `/api/personas/${enc(id)}`, p),
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
export const world = {
  get: () => getJson<World>("/api/world"),
  save: (w: World) => sendJson<World>("PUT", "/api/world", w),
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
};

// --- summaries ----------------------------------------------------------------------------------------
export const summaries = {
  list: (videoId: string) => getJson<Summary[]>(`/api/videos/${enc(videoId)}/summaries`),
  /** Summaries (of any video) nearest to one of this video's summaries; the backend needs which one. */
  similar: (videoId: string, summaryId: string) =>
    getJson<Summary[]>(`/api/videos/${enc(videoId)}/summaries/similar?summaryId=${enc(summaryId)}`),
  request: (videoId: string, personaId: string | null) =>
    sendJson<{ jobId: string }>("POST", `/api/videos/${enc(videoId)}/summaries`, { personaId, params: {} }),
};

// --- export and import --------------------------------------------------------------------------------
export const transfer = {
  exportUrl: (opts: { videoId?: string; interpolate?: boolean }) => {
    const q = new URLSearchParams({ format: "jsonl" });
    if (opts.videoId) q.set("videoId", opts.videoId);
    if (opts.interpolate) q.set("interpolate", "true");
    return `/api/export?${q}`;
  },
  preview: (body: string) =>
    sendJson<ImportPreview>("POST", "/api/import?dryRun=true", undefined, { body, headers: { "Content-Type": "application/x-ndjson" } }),
  importLines: (body: string) =>
    sendJson<{ imported: Record<string, number> }>("POST", "/api/import", undefined, { body, headers: { "Content-Type": "application/x-ndjson" } }),
};
