import { describe, expect, test } from "vitest";
import { AnnotationDocument } from "./document";
import { journalKey, keepJournal, readJournal, type KeyValueStore } from "./journal";
import type { Track } from "./types";

class MapStore implements KeyValueStore {
  map = new Map<string, string>();
  getItem(k: string) { return this.map.get(k) ?? null; }
  setItem(k: string, v: string) { this.map.set(k, v); }
  removeItem(k: string) { this.map.delete(k); }
}

const track = (id: string): Track => ({ id, type: "t", label: id, personaId: null, source: "manual", confidence: null, jobId: null,
  frames: [{ frame: 0, x: 0, y: 0, width: 5, height: 5 }] });

describe("the local journal", () => {
  test("unsaved edits survive into a fresh document, and a save clears them", () => {
    const store = new MapStore();
    const doc = new AnnotationDocument([track("a"), track("b")]);
    keepJournal(doc, store, "v1");
    expect(store.map.has(journalKey("v1"))).toBe(false);
    doc.setBox("a", 9, { x: 1, y: 1, width: 3, height: 3 });
    doc.deleteTracks(["b"]);

    // The page reloads: the server still has the old a and b.
    const reloaded = new AnnotationDocument([track("a"), track("b")]);
    reloaded.restoreUnsaved(readJournal(store, "v1")!);
    expect(reloaded.get("a")!.frames.length).toBe(2);
    expect(reloaded.get("b")).toBeUndefined();
    expect(reloaded.pendingChanges()).toMatchObject({ delete: ["b"] });
    expect(reloaded.canUndo()).toBe(false);

    doc.markSaved(doc.pendingChanges());
    expect(store.map.has(journalKey("v1"))).toBe(false);
    expect(readJournal(store, "v1")).toBeNull();
  });

  test("a corrupt entry is ignored", () => {
    const store = new MapStore();
    store.setItem(journalKey("v1"), "{not json");
    expect(readJournal(store, "v1")).toBeNull();
  });
});
