import { describe, expect, test } from "vitest";
import { Autosave, SaveConflict, SaveRejected, type SaveTransport, type Timers } from "./autosave";
import { AnnotationDocument } from "./document";
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

/** A backend in memory: revision checks like the real route (this is the unit under the real e2e test). */
class MemoryServer implements SaveTransport {
  tracks = new Map<string, Track>();
  revision = 1;
  calls: Array<{ upsert: string[]; delete: string[]; revision: number }> = [];
  failNext = 0;
  rejectNext = false;
  async save(changes: { upsert: Track[]; delete: string[] }, revision: number) {
    this.calls.push({ upsert: changes.upsert.map((t) => t.id), delete: changes.delete, revision });
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("network down");
    }
    if (this.rejectNext) {
      this.rejectNext = false;
      throw new SaveRejected("upsert[0].frames[0].x: bad");
    }
    if (revision !== this.revision) throw new SaveConflict(this.revision);
    for (const t of changes.upsert) this.tracks.set(t.id, t);
    for (const id of changes.delete) this.tracks.delete(id);
    this.revision++;
    return { revision: this.revision, annotations: changes.upsert };
  }
  async load() {
    return { tracks: [...this.tracks.values()], revision: this.revision };
  }
}

function setup() {
  const server = new MemoryServer();
  const doc = new AnnotationDocument([track("a"), track("b")]);
  server.tracks.set("a", track("a"));
  server.tracks.set("b", track("b"));
  const timers = new ManualTimers();
  const autosave = new Autosave(doc, server, server.revision, timers, 800);
  return { server, doc, timers, autosave };
}

describe("autosave", () => {
  test("saves only the dirty tracks, deletes included, shortly after an edit", async () => {
    const { server, doc, timers, autosave } = setup();
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    doc.deleteTracks(["b"]);
    expect(autosave.state.kind).toBe("dirty");
    expect(timers.delays()).toEqual([800]);
    await timers.fire();
    expect(server.calls).toEqual([{ upsert: ["a"], delete: ["b"], revision: 1 }]);
    expect(autosave.state.kind).toBe("saved");
    expect(doc.isDirty()).toBe(false);
    expect(autosave.revision).toBe(2);
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

  test("a 409 reloads the server state, re-applies local dirty tracks and saves again", async () => {
    const { server, doc, timers, autosave } = setup();
    // Another tab saved a rename of b and a new track.
    server.tracks.set("b", { ...track("b"), label: "other tab" });
    server.tracks.set("c", track("c"));
    server.revision = 5;
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state.kind).toBe("dirty");
    await timers.fire();
    expect(autosave.state.kind).toBe("saved");
    expect(server.calls.map((c) => c.revision)).toEqual([1, 5]);
    expect(server.tracks.get("a")!.frames.length).toBe(2);
    expect(doc.get("b")!.label).toBe("other tab");
    expect(doc.get("c")).toBeDefined();
  });

  test("a validation error stops retrying and keeps the edit for the next attempt", async () => {
    const { server, doc, timers, autosave } = setup();
    server.rejectNext = true;
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    await timers.fire();
    expect(autosave.state).toMatchObject({ kind: "failed", retryInMs: null });
    expect(timers.delays()).toEqual([]);
    await autosave.saveNow();
    expect(autosave.state.kind).toBe("saved");
  });

  test("saveNow saves at once and an edit during a save is saved after it", async () => {
    const { server, doc, timers, autosave } = setup();
    doc.setBox("a", 5, { x: 1, y: 1, width: 5, height: 5 });
    const saving = autosave.saveNow();
    doc.setBox("b", 5, { x: 1, y: 1, width: 5, height: 5 });
    await saving;
    expect(server.calls[0].upsert).toEqual(["a"]);
    expect(doc.pendingChanges().upsert.map((t) => t.id)).toEqual(["b"]);
    await timers.fire();
    expect(server.calls[1].upsert).toEqual(["b"]);
    expect(autosave.state.kind).toBe("saved");
  });
});
