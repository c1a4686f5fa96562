/**
 * The local journal: the unsaved changes of a video kept in the browser's storage until a save takes them, so
 * an edit survives a lost session (401 -> login -> back), a reload while the backend is down, or a closed tab.
 *
 * It keeps what changed (per field and keyframe, changes.ts) with the revision it was made against, the local
 * tracks those changes led to, and the conflicts still waiting for a choice — not the undo history. Replayed on
 * the next visit through the same merge rule as a save (AnnotationDocument.replay): what others changed since
 * stays, and a part both changed becomes a conflict to choose in, never a silent overwrite.
 *
 * Entries of another format are never applied blindly and never dropped: version 1 (whole tracks, no revision,
 * written by an older app) becomes conflicts for every difference; an unknown version is left where it is, with
 * a message.
 */
import type { AnnotationObject, ObjectChange } from "./changes";
import type { AnnotationDocument, Conflict } from "./document";
import type { Track } from "./types";

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** 3: changes of tracks, events and relations, objects by `kind:id`. 2 (tracks only, by id) is read the same way. */
export const JOURNAL_VERSION = 3;

interface Entry {
  version: 2 | 3;
  savedAt: string;
  /** The revision the changes were made against. */
  revision: number;
  changes: ObjectChange[];
  /** The local value of each changed object (null: deleted), by `kind:id` (version 2: a track's id). */
  tracks: Record<string, AnnotationObject | null>;
  conflicts: Conflict[];
}

export type Journal =
  | { kind: "changes"; revision: number; changes: ObjectChange[]; tracks: Record<string, AnnotationObject | null>; conflicts: Conflict[]; savedAt: string }
  /** Written by an older app: whole tracks, made against an unknown revision. */
  | { kind: "whole-tracks"; upsert: Track[]; delete: string[]; savedAt: string | null }
  /** A format this app does not know (a newer app wrote it): kept, not read. */
  | { kind: "unknown"; version: unknown };

export function journalKey(videoId: string): string {
  return `fovea.unsaved.${videoId}`;
}

/** Where an entry this app cannot apply is moved, so the live key is free and the entry is still there. */
export function keptKey(videoId: string, savedAt: string): string {
  return `fovea.unsaved-kept.${videoId}.${savedAt}`;
}

const isArray = Array.isArray;

export function readJournal(store: KeyValueStore, videoId: string): Journal | null {
  let raw: string | null;
  let entry: Record<string, unknown>;
  try {
    raw = store.getItem(journalKey(videoId));
    if (!raw) return null;
    entry = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return { kind: "unknown", version: "unreadable" };
  }
  if (!entry || typeof entry !== "object") return { kind: "unknown", version: "unreadable" };
  if (entry.version === 1 && isArray(entry.upsert) && isArray(entry.delete)) {
    if (!entry.upsert.length && !entry.delete.length) return null;
    return { kind: "whole-tracks", upsert: entry.upsert as Track[], delete: entry.delete as string[],
      savedAt: typeof entry.savedAt === "string" ? entry.savedAt : null };
  }
  if ((entry.version === JOURNAL_VERSION || entry.version === 2) && typeof entry.revision === "number" && isArray(entry.changes) && isArray(entry.conflicts)) {
    const e = entry as unknown as Entry;
    if (!e.changes.length && !e.conflicts.length) return null;
    return { kind: "changes", revision: e.revision, changes: e.changes, tracks: e.tracks ?? {}, conflicts: e.conflicts, savedAt: e.savedAt };
  }
  return { kind: "unknown", version: entry.version };
}

/** Move an entry out of the way without losing it (an unknown format, or an old one being replaced). */
export function setAside(store: KeyValueStore, videoId: string): string | null {
  try {
    const raw = store.getItem(journalKey(videoId));
    if (raw === null) return null;
    const key = keptKey(videoId, new Date().toISOString());
    store.setItem(key, raw);
    store.removeItem(journalKey(videoId));
    return key;
  } catch {
    return null;
  }
}

/** Keep the journal in step with the document; returns the unsubscribe. */
export function keepJournal(doc: AnnotationDocument, store: KeyValueStore, videoId: string): () => void {
  const write = () => {
    try {
      const conflicts = doc.conflicts();
      if (!doc.isDirty() && conflicts.length === 0) {
        store.removeItem(journalKey(videoId));
        return;
      }
      const snapshot = doc.beginSave();
      const entry: Entry = {
        version: JOURNAL_VERSION, savedAt: new Date().toISOString(), revision: snapshot.revision,
        changes: snapshot.changes, tracks: Object.fromEntries(snapshot.sent), conflicts,
      };
      store.setItem(journalKey(videoId), JSON.stringify(entry));
    } catch {
      // Storage full or disabled: the autosave still runs; the journal is a second line only.
    }
  };
  write();
  return doc.subscribe(write);
}
