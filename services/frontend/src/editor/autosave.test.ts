import { describe, expect, test } from "vitest";
import { Autosave, SaveConflict, SaveRejected, type Timers } from "./autosave";
import type { TrackChange } from "./changes";
import { AnnotationDocument } from "./document";
import { MemoryServer } from "./testServer";
import type { Track } from "./types";

function track(id: string, x = 0): Track {
  return { id, type: "person", label: id, personaId: null, source: "manual", confidence: null, jobId: null,
    frames: [{ frame: 0, x, y: 0, width: 10, height: 10 }] };
}

/** Timers run by hand, so the test decides when "800 ms later" is. */
class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  delays(): number[] {
    return [...this.pending.values()].map((p) => p.ms);
  }
  async fire(): Promise<void> {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.fn();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

function setup() {
  const server = new MemoryServer([track("a"), track("b")]);
  const doc = new AnnotationDocument(server.list(), server.revision);
  const timers = new ManualTimers();
  const autosave = new Autosave(doc, server, timers, 800);
  return { server, doc, timers, autosave };
}

const ops = (call: { changes: TrackChange[] }) => call.changes.map((c) => `${c.op} ${c.id}`).sort();

describe("autosave", () => {
  test("saves only what changed, deletes included, shortly after an edit, at the base revision", async () => {
    const { server, doc, timers, autosave } = setup();
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    doc.deleteTracks(["b"]);
    expect(autosave.state.kind).toBe("dirty");
    expect(timers.delays()).toEqual([800]);
    await timers.fire();
    expect(server.calls.map(ops)).toEqual([["delete b", "update a"]]);
    expect(server.calls[0].revision).toBe(1);
    expect(autosave.state.kind).toBe("saved");
    expect(doc.isDirty()).toBe(false);
    expect(doc.revision).toBe(2);
  });

  test("a failed save keeps the edit and retries with backoff until the backend is back", async () => {
    const { server, doc, timers, autosave } = setup();
    server.failNext = 2;
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state).toMatchObject({ kind: "failed", retryInMs: 1000 });
    expect(doc.isDirty()).toBe(true);
    await timers.fire();
    expect(autosave.state).toMatchObject({ kind: "failed", retryInMs: 2000 });
    await timers.fire();
    expect(autosave.state.kind).toBe("saved");
    expect(server.tracks.get("a")!.frames.length).toBe(2);
  });

  test("a save whose answer was lost is sent again and changes nothing twice", async () => {
    const { server, doc, timers, autosave } = setup();
    server.loseNextAnswer = true;
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state.kind).toBe("failed");
    await timers.fire();
    expect(autosave.state.kind).toBe("saved");
    expect(server.calls.length).toBe(2);
    expect(server.revision).toBe(2); // the retry found its keyframe there already
    expect(doc.conflicts()).toEqual([]);
  });

  test("when others saved meanwhile, the save is merged and their other tracks are read in", async () => {
    const { server, doc, timers, autosave } = setup();
    // Another tab saved a rename of b and a new track.
    server.tracks.set("b", { ...track("b"), label: "other tab", version: 2 });
    server.tracks.set("c", { ...track("c"), version: 1 });
    server.revision = 5;
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state.kind).toBe("saved");
    expect(server.calls.map((c) => c.revision)).toEqual([1]);
    expect(server.tracks.get("a")!.frames.length).toBe(2);
    expect(doc.get("b")!.label).toBe("other tab");
    expect(doc.get("c")).toBeDefined();
    expect(doc.revision).toBe(6);
  });

  test("a validation error stops retrying and keeps the edit for the next attempt", async () => {
    const { server, doc, timers, autosave } = setup();
    server.rejectNext = new SaveRejected("body.changes.0.keyframes: bad");
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state).toMatchObject({ kind: "failed", retryInMs: null });
    expect(timers.delays()).toEqual([]);
    await autosave.saveNow();
    expect(autosave.state.kind).toBe("saved");
  });

  test("a 409 reads the server's tracks and saves again", async () => {
    const { server, doc, timers, autosave } = setup();
    server.rejectNext = new SaveConflict(1);
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state.kind).toBe("dirty");
    await timers.fire();
    expect(autosave.state.kind).toBe("saved");
    expect(server.tracks.get("a")!.frames.length).toBe(2);
  });

  test("saveNow saves at once and an edit during a save is saved after it", async () => {
    const { server, doc, timers, autosave } = setup();
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    const saving = autosave.saveNow();
    doc.setBox("b", 5, { x: 1, y: 1, width: 5, height: 5 });
    await saving;
    expect(ops(server.calls[0])).toEqual(["update a"]);
    expect(doc.pendingChanges().map((c) => c.id)).toEqual(["b"]);
    await timers.fire();
    expect(ops(server.calls[1])).toEqual(["update b"]);
    expect(autosave.state.kind).toBe("saved");
  });
});
