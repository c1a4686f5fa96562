/**
 * The local journal: the unsaved changes of a video kept in the browser's storage until a save succeeds,
 * so an edit survives a lost session (401 -> login -> back), a reload while the backend is down, or a
 * closed tab. Only the pending changes are kept (not the history), and the entry goes when nothing is dirty.
 */
import type { AnnotationDocument } from "./document";
import type { Track } from "./types";

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface Entry {
  version: 1;
  savedAt: string;
  upsert: Track[];
  delete: string[];
}

export function journalKey(videoId: string): string {
  return `fovea.unsaved.${videoId}`;
}

export function readJournal(store: KeyValueStore, videoId: string): { upsert: Track[]; delete: string[] } | null {
  try {
    const raw = store.getItem(journalKey(videoId));
    if (!raw) return null;
    const entry = JSON.parse(raw) as Entry;
    if (entry.version !== 1 || !Array.isArray(entry.upsert) || !Array.isArray(entry.delete)) return null;
    return entry.upsert.length || entry.delete.length ? { upsert: entry.upsert, delete: entry.delete } : null;
  } catch {
    return null; // unreadable: not ours to interpret
  }
}

/** Keep the journal in step with the document; returns the unsubscribe. */
export function keepJournal(doc: AnnotationDocument, store: KeyValueStore, videoId: string): () => void {
  const write = () => {
    try {
      if (!doc.isDirty()) {
        store.removeItem(journalKey(videoId));
        return;
      }
      const pending = doc.pendingChanges();
      const entry: Entry = { version: 1, savedAt: new Date().toISOString(), ...pending };
      store.setItem(journalKey(videoId), JSON.stringify(entry));
    } catch {
      // Storage full or disabled: the autosave still runs; the journal is a second line only.
    }
  };
  write();
  return doc.subscribe(write);
}
