import { describe, expect, test } from "vitest";
import { AnnotationDocument, HISTORY_LIMIT } from "./document";
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

describe("the dirty set", () => {
  test("only changed and deleted tracks are pending; a fresh load has none", () => {
    const doc = new AnnotationDocument([track("a"), track("b"), track("c")]);
    expect(doc.isDirty()).toBe(false);
    doc.setBox("a", 20, box(1));
    doc.deleteTracks(["c"]);
    doc.addTrack(track("n"));
    const pending = doc.pendingChanges();
    expect(pending.upsert.map((t) => t.id).sort()).toEqual(["a", "n"]);
    expect(pending.delete).toEqual(["c"]);
  });

  test("a saved track is clean unless it changed while the save was in flight", () => {
    const doc = new AnnotationDocument([track("a"), track("b")]);
    doc.setBox("a", 20, box(1));
    doc.setBox("b", 20, box(1));
    const sent = doc.pendingChanges();
    doc.setBox("b", 30, box(2)); // while in flight
    doc.markSaved(sent);
    expect(doc.pendingChanges().upsert.map((t) => t.id)).toEqual(["b"]);
  });

  test("undo after a save is a change to save again", () => {
    const doc = new AnnotationDocument([track("a")]);
    doc.deleteTracks(["a"]);
    doc.markSaved(doc.pendingChanges());
    expect(doc.isDirty()).toBe(false);
    doc.undo();
    expect(doc.pendingChanges().upsert.map((t) => t.id)).toEqual(["a"]);
  });

  test("rebase after a conflict keeps local dirty tracks and takes the server's others", () => {
    const doc = new AnnotationDocument([track("a"), track("b"), track("gone")]);
    doc.setBox("a", 20, box(7));
    doc.deleteTracks(["gone"]);
    doc.addTrack(track("mine"));
    const serverB = { ...track("b"), label: "renamed elsewhere" };
    doc.rebase([{ ...track("a"), label: "theirs" }, serverB, track("gone"), track("theirs-new")]);
    expect(doc.list().map((t) => t.id)).toEqual(["a", "b", "theirs-new", "mine"]);
    expect(doc.get("a")!.frames.length).toBe(2);
    expect(doc.get("b")!.label).toBe("renamed elsewhere");
    expect(doc.pendingChanges().delete).toEqual(["gone"]);
  });
});
