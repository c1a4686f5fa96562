import { describe, expect, test } from "vitest";
import { AnnotationDocument } from "./document";
import { journalKey, keepJournal, readJournal, setAside, type KeyValueStore } from "./journal";
import { MemoryServer } from "./testServer";
import type { Track } from "./types";

class MapStore implements KeyValueStore {
  map = new Map<string, string>();
  getItem(k: string) { return this.map.get(k) ?? null; }
  setItem(k: string, v: string) { this.map.set(k, v); }
  removeItem(k: string) { this.map.delete(k); }
}

const track = (id: string): Track => ({ id, type: "t", label: id, personaId: null, source: "manual", confidence: null, jobId: null,
  frames: [{ frame: 0, x: 0, y: 0, width: 5, height: 5 }, { frame: 40, x: 10, y: 0, width: 5, height: 5 }], version: 1 });
const box = (x: number) => ({ x, y: 1, width: 3, height: 3 });

async function save(doc: AnnotationDocument, server: MemoryServer): Promise<void> {
  const snapshot = doc.beginSave();
  doc.applySaved(snapshot, await server.save(snapshot.changes, snapshot.revision));
}

/** A fresh visit: the server's tracks now, and whatever the journal kept replayed on them. */
function reopen(server: MemoryServer, store: MapStore, videoId = "v1"): AnnotationDocument {
  const doc = new AnnotationDocument(server.list().map((t) => structuredClone(t)), server.revision);
  const journal = readJournal(store, videoId);
  if (journal?.kind === "changes") doc.replay(journal.changes, journal.tracks, journal.conflicts);
  if (journal?.kind === "whole-tracks") doc.replayWholeTracks(journal.upsert, journal.delete);
  return doc;
}

describe("the local journal", () => {
  test("unsaved edits survive into a fresh visit as edits, and a save clears them", async () => {
    const store = new MapStore();
    const server = new MemoryServer([track("a"), track("b")]);
    const doc = new AnnotationDocument(server.list(), server.revision);
    keepJournal(doc, store, "v1");
    expect(store.map.has(journalKey("v1"))).toBe(false);
    doc.setBox("a", 9, box(1));
    doc.deleteTracks(["b"]);
    expect(readJournal(store, "v1")).toMatchObject({ kind: "changes", revision: 1 });

    const reloaded = reopen(server, store);
    expect(reloaded.get("a")!.frames.map((f) => f.frame)).toEqual([0, 9, 40]);
    expect(reloaded.get("b")).toBeUndefined();
    expect(reloaded.pendingChanges().map((c) => `${c.op} ${c.id}`).sort()).toEqual(["delete b", "update a"]);
    expect(reloaded.canUndo()).toBe(false);
    expect(reloaded.conflicts()).toEqual([]);

    await save(doc, server);
    expect(store.map.has(journalKey("v1"))).toBe(false);
    expect(readJournal(store, "v1")).toBeNull();
  });

  test("edits kept offline are merged with newer work: theirs stays, a clash is shown and not applied", async () => {
    const store = new MapStore();
    const server = new MemoryServer([track("t")]);
    const a = new AnnotationDocument(server.list(), server.revision);
    keepJournal(a, store, "v1");
    a.setBox("t", 40, box(7)); // A, offline: never saved; A leaves
    a.setBox("t", 20, box(2));

    const b = new AnnotationDocument(server.list(), server.revision);
    b.setBox("t", 40, box(99)); // B moves the same keyframe, and another
    b.setBox("t", 60, box(60));
    await save(b, server);

    const back = reopen(server, store); // A comes back: "Restored ..."
    expect(back.get("t")!.frames.map((f) => [f.frame, f.x])).toEqual([[0, 0], [20, 2], [40, 99], [60, 60]]);
    expect(back.conflicts()).toMatchObject([{ part: "keyframe", frame: 40, theirs: { x: 99 }, mine: { x: 7 } }]);
    await save(back, server);
    expect(server.tracks.get("t")!.frames.map((f) => [f.frame, f.x])).toEqual([[0, 0], [20, 2], [40, 99], [60, 60]]);
  });

  test("edits whose save reached the server (its answer did not) restore nothing and clash with nothing", async () => {
    const store = new MapStore();
    const server = new MemoryServer([track("t")]);
    const doc = new AnnotationDocument(server.list(), server.revision);
    keepJournal(doc, store, "v1");
    doc.setBox("t", 20, box(2));
    const snapshot = doc.beginSave();
    await server.save(snapshot.changes, snapshot.revision); // the tab closes before the answer
    const journal = readJournal(store, "v1");
    expect(journal?.kind).toBe("changes");
    const again = new AnnotationDocument(server.list(), server.revision);
    if (journal?.kind === "changes") expect(again.replay(journal.changes, journal.tracks, journal.conflicts)).toEqual({ applied: 0, clashed: 0 });
    expect(again.isDirty()).toBe(false);
    expect(again.conflicts()).toEqual([]);
  });

  test("open conflicts are kept by the journal too, and survive another reload", async () => {
    const store = new MapStore();
    const server = new MemoryServer([track("t")]);
    const a = new AnnotationDocument(server.list(), server.revision);
    const b = new AnnotationDocument(server.list(), server.revision);
    keepJournal(b, store, "v1");
    a.updateTrack("t", { label: "bus" });
    await save(a, server);
    b.updateTrack("t", { label: "van" });
    await save(b, server);
    expect(b.conflicts().length).toBe(1);
    const again = reopen(server, store);
    expect(again.conflicts()).toMatchObject([{ part: "field", field: "label", theirs: "bus", mine: "van" }]);
    expect(again.get("t")!.label).toBe("bus");
  });

  test("a journal from an older app (whole tracks, no revision) applies nothing and lists every difference", () => {
    const store = new MapStore();
    const server = new MemoryServer([track("a"), track("b")]);
    server.tracks.set("a", { ...track("a"), label: "newer", frames: [...track("a").frames, { frame: 60, x: 6, y: 0, width: 5, height: 5 }] });
    const stale = { ...track("a"), frames: [{ frame: 0, x: 3, y: 0, width: 5, height: 5 }, track("a").frames[1]] };
    store.setItem(journalKey("v1"), JSON.stringify({ version: 1, savedAt: "2024-01-01T00:00:00Z", upsert: [stale, track("new")], delete: ["b"] }));
    const doc = reopen(server, store);
    expect(doc.isDirty()).toBe(false); // nothing applied
    expect(doc.get("a")!.label).toBe("newer");
    expect(doc.conflicts().map((c) => c.key).sort()).toEqual(["a|field:label", "a|frame:0", "a|frame:60", "b|track", "new|track"]);
    const kept = setAside(store, "v1");
    expect(kept && JSON.parse(store.getItem(kept)!).upsert.length).toBe(2); // and the original is still there
  });

  test("an entry this app cannot read is reported, not applied, and set aside untouched", () => {
    const store = new MapStore();
    store.setItem(journalKey("v1"), JSON.stringify({ version: 9, whatever: true }));
    expect(readJournal(store, "v1")).toEqual({ kind: "unknown", version: 9 });
    store.setItem(journalKey("v2"), "{not json");
    expect(readJournal(store, "v2")).toEqual({ kind: "unknown", version: "unreadable" });
    const key = setAside(store, "v1")!;
    expect(store.getItem(key)).toBe(JSON.stringify({ version: 9, whatever: true }));
    expect(readJournal(store, "v1")).toBeNull();
  });
});
