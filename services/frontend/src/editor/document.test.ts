import { describe, expect, test } from "vitest";
import { AnnotationDocument, HISTORY_LIMIT } from "./document";
import { MemoryServer } from "./testServer";
import { boxAt, visibleBoxAt } from "./keyframes";
import type { Track } from "./types";

const box = (x: number) => ({ x, y: 10, width: 50, height: 40 });

function track(id: string, frame = 10, x = 0, source: Track["source"] = "manual"): Track {
  return { id, type: "person", label: id, personaId: null, source, confidence: null, jobId: null, frames: [{ frame, ...box(x) }] };
}

describe("editing", () => {
  test("editing inside an interpolated span makes a keyframe there", () => {
    const doc = new AnnotationDocument();
    doc.addTrack(track("a", 10, 0));
    doc.setBox("a", 40, box(30));
    expect(boxAt(doc.get("a")!, 25)).toMatchObject({ x: 15, keyframe: false });
    doc.setBox("a", 25, box(100));
    expect(doc.get("a")!.frames.map((f) => f.frame)).toEqual([10, 25, 40]);
    expect(boxAt(doc.get("a")!, 25)).toMatchObject({ x: 100, keyframe: true });
  });

  test("K adds the shown box as a keyframe and removes it again, never the last one", () => {
    const doc = new AnnotationDocument([track("a")]);
    doc.setBox("a", 40, box(30));
    doc.toggleKeyframe("a", 20);
    expect(doc.get("a")!.frames.find((f) => f.frame === 20)).toMatchObject({ x: 10 });
    doc.toggleKeyframe("a", 20);
    doc.toggleKeyframe("a", 40);
    doc.toggleKeyframe("a", 10);
    expect(doc.get("a")!.frames.map((f) => f.frame)).toEqual([10]);
  });

  test("O marks outside from a frame and brings the object back", () => {
    const doc = new AnnotationDocument([track("a")]);
    doc.setBox("a", 40, box(30));
    doc.toggleOutside("a", 60);
    expect(visibleBoxAt(doc.get("a")!, 59)).toMatchObject({ x: 30 });
    expect(visibleBoxAt(doc.get("a")!, 60)).toBeNull();
    expect(visibleBoxAt(doc.get("a")!, 90)).toBeNull();
    doc.toggleOutside("a", 90);
    expect(visibleBoxAt(doc.get("a")!, 90)).toMatchObject({ x: 30, keyframe: true });
    expect(visibleBoxAt(doc.get("a")!, 75)).toBeNull();
  });

  test("accepting a candidate makes it ai-assisted; manual tracks are left alone", () => {
    const doc = new AnnotationDocument([track("c", 0, 0, "automatic"), track("m")]);
    doc.acceptCandidates(["c", "m"]);
    expect(doc.get("c")!.source).toBe("ai-assisted");
    expect(doc.get("m")!.source).toBe("manual");
  });
});

describe("undo and redo", () => {
  test("every edit undoes and redoes, deletes come back in place", () => {
    const doc = new AnnotationDocument([track("a"), track("b"), track("c")]);
    doc.setBox("b", 20, box(5));
    doc.updateTrack("b", { label: "bus" });
    doc.deleteTracks(["b"]);
    expect(doc.list().map((t) => t.id)).toEqual(["a", "c"]);
    expect(doc.undo()).toBe("delete track");
    expect(doc.list().map((t) => t.id)).toEqual(["a", "b", "c"]);
    expect(doc.get("b")!.label).toBe("bus");
    doc.undo();
    doc.undo();
    expect(doc.get("b")).toEqual(track("b"));
    expect(doc.canUndo()).toBe(false);
    doc.redo();
    doc.redo();
    doc.redo();
    expect(doc.get("b")).toBeUndefined();
    expect(doc.canRedo()).toBe(false);
  });

  test("a new edit clears the redo stack", () => {
    const doc = new AnnotationDocument([track("a")]);
    doc.setBox("a", 20, box(5));
    doc.undo();
    doc.setBox("a", 30, box(5));
    expect(doc.canRedo()).toBe(false);
  });

  test(`at least 100 steps (kept: ${HISTORY_LIMIT})`, () => {
    const doc = new AnnotationDocument([track("a")]);
    for (let i = 1; i <= 150; i++) doc.setBox("a", 10, box(i));
    let undone = 0;
    while (doc.undo()) undone++;
    expect(undone).toBe(150);
    expect(doc.get("a")!.frames[0].x).toBe(0);
  });

  test("accept all is one step", () => {
    const doc = new AnnotationDocument([track("c1", 0, 0, "automatic"), track("c2", 0, 0, "automatic")]);
    doc.acceptCandidates(["c1", "c2"]);
    doc.undo();
    expect(doc.list().every((t) => t.source === "automatic")).toBe(true);
  });
});

describe("the pending change set", () => {
  test("only changed, new and deleted tracks are pending, each as what changed; a fresh load has none", () => {
    const doc = new AnnotationDocument([track("a"), track("b"), { ...track("c"), version: 4 }]);
    expect(doc.isDirty()).toBe(false);
    doc.setBox("a", 20, box(1));
    doc.deleteTracks(["c"]);
    doc.addTrack(track("n"));
    const pending = doc.pendingChanges();
    expect(pending.map((c) => `${c.op} ${c.id}`).sort()).toEqual(["create n", "delete c", "update a"]);
    expect(pending.find((c) => c.id === "a")).toEqual({
      op: "update", id: "a", fields: {}, keyframes: [{ frame: 20, from: null, to: { ...box(1), outside: false } }],
    });
    expect(pending.find((c) => c.id === "c")).toEqual({ op: "delete", id: "c", version: 4 });
  });

  test("an edit undone is no longer pending", () => {
    const doc = new AnnotationDocument([track("a")]);
    doc.setBox("a", 20, box(1));
    doc.undo();
    expect(doc.isDirty()).toBe(false);
  });
});

/** Two people (two documents) on one server; each save is what the autosave does. */
async function save(doc: AnnotationDocument, server: MemoryServer): Promise<void> {
  const snapshot = doc.beginSave();
  doc.applySaved(snapshot, await server.save(snapshot.changes, snapshot.revision));
}

function twoPeople(...tracks: Track[]) {
  const server = new MemoryServer(tracks);
  const open = () => new AnnotationDocument(server.list().map((t) => structuredClone(t)), server.revision);
  return { server, a: open(), b: open() };
}

describe("two people on one track: merged per keyframe and field by the server", () => {
  test("same track, different keyframes: both edits survive, and B sees A's after saving", async () => {
    const { server, a, b } = twoPeople(track("t"));
    a.setBox("t", 30, box(30));
    await save(a, server);
    b.setBox("t", 60, box(60)); // B has not reloaded
    await save(b, server);
    expect(server.tracks.get("t")!.frames.map((f) => [f.frame, f.x])).toEqual([[10, 0], [30, 30], [60, 60]]);
    expect(b.get("t")!.frames.map((f) => f.frame)).toEqual([10, 30, 60]);
    expect(b.conflicts()).toEqual([]);
    expect(b.isDirty()).toBe(false);
  });

  test("same keyframe: the second sees both values, theirs is kept until they choose; mine then wins", async () => {
    const { server, a, b } = twoPeople(track("t"));
    a.setBox("t", 10, box(11));
    await save(a, server);
    b.setBox("t", 10, box(22));
    await save(b, server);
    expect(server.tracks.get("t")!.frames[0].x).toBe(11); // never a silent overwrite
    expect(b.get("t")!.frames[0].x).toBe(11); // B is shown theirs...
    const [conflict] = b.conflicts();
    expect(conflict).toMatchObject({ part: "keyframe", frame: 10, theirs: { x: 11 }, mine: { x: 22 } }); // ...and both values
    expect(b.isDirty()).toBe(false); // nothing of it goes out unchosen
    b.resolve(conflict.key, "mine");
    await save(b, server);
    expect(server.tracks.get("t")!.frames[0].x).toBe(22);
    expect(b.conflicts()).toEqual([]);
  });

  test("choosing theirs drops mine", async () => {
    const { server, a, b } = twoPeople(track("t"));
    a.updateTrack("t", { label: "bus" });
    await save(a, server);
    b.updateTrack("t", { label: "van" });
    await save(b, server);
    b.resolve(b.conflicts()[0].key, "theirs");
    expect(b.get("t")!.label).toBe("bus");
    expect(b.isDirty()).toBe(false);
    expect(b.conflicts()).toEqual([]);
  });

  test("delete vs move: deleting a track someone moved since is a conflict; the track stays until chosen", async () => {
    const { server, a, b } = twoPeople({ ...track("t"), version: 1 });
    a.setBox("t", 10, box(5));
    await save(a, server);
    b.deleteTracks(["t"]);
    await save(b, server);
    expect(server.tracks.has("t")).toBe(true);
    expect(b.get("t")!.frames[0].x).toBe(5);
    expect(b.conflicts()[0]).toMatchObject({ part: "track", mine: null });
    b.resolve(b.conflicts()[0].key, "mine");
    await save(b, server);
    expect(server.tracks.has("t")).toBe(false);
  });

  test("move vs delete: editing a track someone deleted is a conflict; mine brings it back with the edit", async () => {
    const { server, a, b } = twoPeople(track("t"));
    a.deleteTracks(["t"]);
    await save(a, server);
    b.setBox("t", 40, box(40));
    await save(b, server);
    expect(server.tracks.has("t")).toBe(false);
    expect(b.get("t")).toBeUndefined();
    expect(b.conflicts()[0]).toMatchObject({ part: "track", theirs: null });
    b.resolve(b.conflicts()[0].key, "mine");
    await save(b, server);
    expect(server.tracks.get("t")!.frames.map((f) => f.frame)).toEqual([10, 40]);
  });

  test("create vs delete: a create whose answer was lost, retried after someone deleted it, does not come back", async () => {
    const server = new MemoryServer();
    const b = new AnnotationDocument([], server.revision);
    b.addTrack(track("n"));
    server.loseNextAnswer = true;
    const snapshot = b.beginSave();
    await expect(server.save(snapshot.changes, snapshot.revision)).rejects.toThrow();
    const a = new AnnotationDocument(server.list(), server.revision);
    a.deleteTracks(["n"]);
    await save(a, server);
    await save(b, server); // the retry
    expect(server.tracks.has("n")).toBe(false);
    expect(b.get("n")).toBeUndefined();
    expect(b.conflicts()[0]).toMatchObject({ part: "track", theirs: null, mine: { id: "n" } });
  });

  test("label vs type: A's type change and B's label change both stay; a written label survives a type change", async () => {
    const { server, a, b } = twoPeople({ ...track("t"), type: "person", label: "Person" });
    const defaults = (type: string) => ({ person: "Person", crowd: "Crowd" })[type] ?? type;
    b.updateTrack("t", { label: "Man with phone (id 7)" });
    await save(b, server);
    expect(a.setType("t", "crowd", defaults)).toEqual({ ok: true });
    await save(a, server);
    expect(server.tracks.get("t")).toMatchObject({ type: "crowd", label: "Man with phone (id 7)" });
    // A's label followed the type only because A still had the default: that part meets B's label, and B's stays
    // (A is shown both and may choose).
    expect(a.conflicts()).toMatchObject([{ part: "field", field: "label", theirs: "Man with phone (id 7)", mine: "Crowd" }]);
    a.resolve(a.conflicts()[0].key, "theirs");
    expect(a.get("t")).toMatchObject({ type: "crowd", label: "Man with phone (id 7)" });
    expect(a.isDirty()).toBe(false);
  });

  test("undo after a merge undoes only one's own step", async () => {
    const { server, a, b } = twoPeople(track("t"));
    b.setBox("t", 60, box(60));
    a.setBox("t", 30, box(30));
    await save(a, server);
    await save(b, server); // B's save merges A's keyframe 30 in
    expect(b.get("t")!.frames.map((f) => f.frame)).toEqual([10, 30, 60]);
    expect(b.undo()).toBe("move box");
    expect(b.get("t")!.frames.map((f) => f.frame)).toEqual([10, 30]);
    await save(b, server);
    expect(server.tracks.get("t")!.frames.map((f) => [f.frame, f.x])).toEqual([[10, 0], [30, 30]]);
    b.redo();
    await save(b, server);
    expect(server.tracks.get("t")!.frames.map((f) => f.frame)).toEqual([10, 30, 60]);
  });

  test("an edit made while a save is in flight stays pending, on top of the server's answer", async () => {
    const { server, a } = twoPeople(track("t"));
    a.setBox("t", 20, box(1));
    const snapshot = a.beginSave();
    const answer = server.save(snapshot.changes, snapshot.revision);
    a.setBox("t", 30, box(2)); // while in flight
    a.applySaved(snapshot, await answer);
    expect(a.pendingChanges()).toEqual([{ op: "update", id: "t", fields: {}, keyframes: [{ frame: 30, from: null, to: { ...box(2), outside: false } }] }]);
    expect(a.get("t")!.frames.map((f) => f.frame)).toEqual([10, 20, 30]);
  });

  test("a reload's rebase keeps unsaved edits on top of the server's tracks and takes theirs for the rest", () => {
    const doc = new AnnotationDocument([track("a"), track("b"), track("gone")]);
    doc.setBox("a", 20, box(7));
    doc.deleteTracks(["gone"]);
    doc.addTrack(track("mine"));
    const serverB = { ...track("b"), label: "renamed elsewhere" };
    doc.rebase([{ ...track("a"), label: "theirs" }, serverB, track("gone"), track("theirs-new")], 9);
    expect(doc.list().map((t) => t.id)).toEqual(["a", "b", "theirs-new", "mine"]);
    expect(doc.get("a")!.frames.length).toBe(2);
    expect(doc.get("a")!.label).toBe("theirs");
    expect(doc.get("b")!.label).toBe("renamed elsewhere");
    expect(doc.pendingChanges().map((c) => `${c.op} ${c.id}`).sort()).toEqual(["create mine", "delete gone", "update a"]);
    expect(doc.revision).toBe(9);
  });
});

describe("what the server refused", () => {
  test("a refused part is listed with the reason and our value, the rest of the save is taken", () => {
    const doc = new AnnotationDocument([{ ...track("t"), version: 1 }], 1);
    doc.setBox("t", 20, box(9));
    const snapshot = doc.beginSave();
    const stored = { ...track("t"), version: 1 };
    doc.applySaved(snapshot, {
      revision: 1, previousRevision: 1, annotations: [stored], conflicts: [],
      rejected: [{ index: 0, id: "t", loc: ["body", "changes", 0, "keyframes", 0, "to", "width"], message: "box exceeds the video width" }],
    });
    expect(doc.isDirty()).toBe(false); // not sent again and again
    expect(doc.get("t")!.frames.map((f) => f.frame)).toEqual([10]);
    expect(doc.conflicts()).toMatchObject([{ part: "keyframe", frame: 20, refused: true, mine: { x: 9 },
      message: "refused by the server: box exceeds the video width" }]);
    doc.resolve(doc.conflicts()[0].key, "mine"); // only dismissing is possible
    expect(doc.conflicts()).toEqual([]);
    expect(doc.isDirty()).toBe(false);
  });
});

describe("validation at the field", () => {
  test("an over-long or empty label is refused with a message, and nothing changes", () => {
    const doc = new AnnotationDocument([track("a")]);
    const result = doc.updateTrack("a", { label: "x".repeat(501) });
    expect(result).toEqual({ ok: false, problem: { field: "label", message: "the label is 501 characters long; at most 500 are kept" } });
    expect(doc.updateTrack("a", { label: "  " })).toMatchObject({ ok: false, problem: { field: "label" } });
    expect(doc.isDirty()).toBe(false);
    expect(doc.updateTrack("a", { label: "x".repeat(500) })).toEqual({ ok: true });
  });

  test("a type change keeps a label someone wrote, and follows the type's default", () => {
    const defaults = (type: string) => ({ person: "Person", crowd: "Crowd" })[type] ?? type;
    const doc = new AnnotationDocument([{ ...track("w"), type: "person", label: "Man with phone (id 7)" },
      { ...track("d"), type: "person", label: "Person" }]);
    doc.setType("w", "crowd", defaults);
    doc.setType("d", "crowd", defaults);
    expect(doc.get("w")).toMatchObject({ type: "crowd", label: "Man with phone (id 7)" });
    expect(doc.get("d")).toMatchObject({ type: "crowd", label: "Crowd" });
  });
});
