/**
 * The annotation model beyond boxes, in the editor library: world entities behind tracks, attributes fixed and
 * held per keyframe, locking, split and merge, events with role slots checked against the persona's ontology,
 * relations with source/target constraints — each an undo step, each saved as a change set and merged like tracks.
 */
import { describe, expect, test } from "vitest";
import { AnnotationDocument, type Semantics } from "./document";
import { attributesAt, visibleBoxAt } from "./keyframes";
import { MemoryServer } from "./testServer";
import type { AnnotationEvent, Relation, Track } from "./types";

const box = (x: number) => ({ x, y: 10, width: 50, height: 40 });
const track = (id: string, frames: Array<[number, number]> = [[10, 0]], type = "person"): Track => ({
  id, type, label: id, personaId: "p", source: "manual", confidence: null, jobId: null,
  frames: frames.map(([frame, x]) => ({ frame, ...box(x) })), entityId: null, attributes: {}, locked: false,
});
const ontology = {
  entityTypes: [{ id: "person", name: "Person" }, { id: "car", name: "Car" }],
  eventTypes: [{ id: "handover", name: "Handover", roles: [{ roleTypeId: "giver" }, { roleTypeId: "taker", maxOccurrences: 1 }] },
    { id: "tag-rain", name: "Rain", roles: [] }],
  roleTypes: [{ id: "giver", name: "Giver", allowedFillerTypes: ["person"] }, { id: "taker", name: "Taker", allowedFillerTypes: ["entity"] }],
  relationTypes: [{ id: "drives", name: "drives", sourceTypes: ["person"], targetTypes: ["car"] }],
};
const semantics: Semantics = {
  ontology: (personaId) => (personaId === "p" ? ontology : null),
  entity: (id) => (id === "ann" ? { name: "Ann", typeAssignments: [{ personaId: "p", entityTypeId: "person" }] } : null),
};
const event = (id: string, roles: AnnotationEvent["roles"] = {}, type = "handover"): AnnotationEvent => ({
  id, type, label: id, personaId: "p", source: "manual", startFrame: 5, endFrame: 20, roles, attributes: {},
});
const relation = (id: string, source: string, target: string): Relation => ({
  id, type: "drives", personaId: "p", source: { kind: "track", id: source }, target: { kind: "track", id: target }, attributes: {},
});

async function save(doc: AnnotationDocument, server: MemoryServer): Promise<void> {
  const snapshot = doc.beginSave();
  doc.applySaved(snapshot, await server.save(snapshot.changes, snapshot.revision));
}

function docWith(...tracks: Track[]): AnnotationDocument {
  const doc = new AnnotationDocument(tracks);
  doc.setSemantics(semantics);
  return doc;
}

describe("tracks and world entities, attributes, locks", () => {
  test("a track links to a world entity as a field of its own: saved, undone, merged per field", async () => {
    const server = new MemoryServer([track("a")]);
    const doc = new AnnotationDocument(server.list(), server.revision);
    expect(doc.linkEntity("a", "ann")).toEqual({ ok: true });
    expect(doc.pendingChanges()).toEqual([{ op: "update", id: "a", fields: { entityId: { from: null, to: "ann" } }, keyframes: [] }]);
    await save(doc, server);
    expect(server.tracks.get("a")!.entityId).toBe("ann");
    doc.undo();
    expect(doc.get("a")!.entityId).toBeNull();
  });

  test("a mutable attribute set mid-track makes a keyframe there and holds until changed again", () => {
    const doc = docWith(track("a", [[0, 0], [40, 40]]));
    doc.setKeyframeAttribute("a", 20, "occluded", true);
    const a = doc.get("a")!;
    expect(a.frames.map((k) => k.frame)).toEqual([0, 20, 40]);
    expect(a.frames[1]).toMatchObject({ x: 20, attributes: { occluded: true } });
    expect(attributesAt(a.frames, 10)).toEqual({});
    expect(attributesAt(a.frames, 30)).toEqual({ occluded: true });
    expect(attributesAt(a.frames, 45)).toEqual({ occluded: true });
    doc.setKeyframeAttribute("a", 40, "occluded", false);
    expect(attributesAt(doc.get("a")!.frames, 45)).toEqual({ occluded: false });
    // Moving the box keeps the attributes of its keyframe.
    doc.setBox("a", 20, box(21));
    expect(doc.get("a")!.frames[1]).toMatchObject({ x: 21, attributes: { occluded: true } });
    expect(doc.pendingChanges()[0]).toMatchObject({ keyframes: [{ frame: 20, to: { attributes: { occluded: true } } }, { frame: 40 }] });
  });

  test("two people setting attributes on different keyframes both keep theirs; the same keyframe is a conflict", async () => {
    const server = new MemoryServer([track("a", [[0, 0], [40, 40]])]);
    const a = new AnnotationDocument(server.list().map((t) => structuredClone(t)), server.revision);
    const b = new AnnotationDocument(server.list().map((t) => structuredClone(t)), server.revision);
    a.setKeyframeAttribute("a", 0, "color", "red");
    await save(a, server);
    b.setKeyframeAttribute("a", 40, "color", "blue");
    await save(b, server);
    expect(attributesAt(server.tracks.get("a")!.frames, 10)).toEqual({ color: "red" });
    expect(attributesAt(server.tracks.get("a")!.frames, 40)).toEqual({ color: "blue" });
    b.setKeyframeAttribute("a", 0, "color", "green");
    a.setKeyframeAttribute("a", 0, "color", "white");
    await save(a, server);
    await save(b, server);
    expect(b.conflicts()).toMatchObject([{ part: "keyframe", frame: 0, theirs: { attributes: { color: "white" } }, mine: { attributes: { color: "green" } } }]);
  });

  test("a locked track refuses edits but unlocking; a track-wide attribute is one field", () => {
    const doc = docWith(track("a"));
    doc.setTrackAttribute("a", "plate", "B-AB 123");
    expect(doc.get("a")!.attributes).toEqual({ plate: "B-AB 123" });
    doc.setLocked("a", true);
    doc.setBox("a", 10, box(99));
    doc.deleteTracks(["a"]);
    expect(doc.updateTrack("a", { label: "x" })).toMatchObject({ ok: false, problem: { field: "locked" } });
    expect(doc.splitTrack("a", 11, "b")).toMatchObject({ ok: false });
    expect(doc.get("a")!.frames[0].x).toBe(0);
    expect(doc.setLocked("a", false)).toEqual({ ok: true });
    doc.setBox("a", 10, box(99));
    expect(doc.get("a")!.frames[0].x).toBe(99);
  });

  test("C copies the previous keyframe's box to this frame", () => {
    const doc = docWith(track("a", [[0, 0], [40, 40]]));
    expect(doc.copyPreviousBox("a", 30)).toEqual({ ok: true });
    expect(doc.get("a")!.frames.map((k) => [k.frame, k.x])).toEqual([[0, 0], [30, 0], [40, 40]]);
    expect(doc.copyPreviousBox("a", 0)).toMatchObject({ ok: false });
  });
});

describe("split and merge", () => {
  test("split at a frame: the first ends outside there, the second starts with the box and attributes held there", () => {
    const doc = docWith({ ...track("a", [[0, 0], [40, 40]]), entityId: "ann" });
    doc.setKeyframeAttribute("a", 0, "color", "red");
    expect(doc.splitTrack("a", 20, "b")).toEqual({ ok: true });
    const [a, b] = [doc.get("a")!, doc.get("b")!];
    expect(a.frames.map((k) => [k.frame, k.x, !!k.outside])).toEqual([[0, 0, false], [20, 20, true]]);
    expect(b.frames.map((k) => [k.frame, k.x, !!k.outside])).toEqual([[20, 20, false], [40, 40, false]]);
    expect(b.frames[0].attributes).toEqual({ color: "red" });
    expect(b).toMatchObject({ type: "person", entityId: "ann", label: "a" });
    expect(visibleBoxAt(a, 25)).toBeNull();
    expect(doc.undo()).toBe("split track");
    expect(doc.get("b")).toBeUndefined();
    expect(doc.get("a")!.frames.map((k) => k.frame)).toEqual([0, 40]);
  });

  test("merge two tracks whose spans do not overlap: one track, the later one gone, its relations follow", () => {
    const doc = docWith(track("a", [[0, 0], [10, 10]]), track("b", [[20, 20], [30, 30]]), track("car", [[0, 0]], "car"));
    doc.addRelation(relation("r", "b", "car"));
    doc.addEvent(event("e", { giver: [{ kind: "track", id: "b" }] }));
    expect(doc.mergeTracks("b", "a")).toEqual({ ok: true });
    expect(doc.get("b")).toBeUndefined();
    expect(doc.get("a")!.frames.map((k) => k.frame)).toEqual([0, 10, 20, 30]);
    expect(doc.relation("r")!.source).toEqual({ kind: "track", id: "a" });
    expect(doc.event("e")!.roles.giver).toEqual([{ kind: "track", id: "a" }]);
    doc.undo();
    expect(doc.get("b")).toBeDefined();
    expect(doc.relation("r")!.source).toEqual({ kind: "track", id: "b" });
  });

  test("a split track merges back: every frame shows the box it showed before", () => {
    const doc = docWith(track("a", [[0, 0], [40, 40]]));
    doc.setKeyframeAttribute("a", 0, "color", "red");
    const shown = (t: Track) => Array.from({ length: 45 }, (_, f) => {
      const b = visibleBoxAt(t, f);
      return b && [b.x, b.y, b.width, b.height];
    });
    const before = shown(doc.get("a")!);
    expect(doc.splitTrack("a", 20, "b")).toEqual({ ok: true });
    expect(doc.mergeTracks("b", "a")).toEqual({ ok: true });
    expect(doc.get("b")).toBeUndefined();
    const merged = doc.get("a")!;
    expect(merged.frames.map((k) => [k.frame, !!k.outside])).toEqual([[0, false], [20, false], [40, false]]);
    expect(shown(merged)).toEqual(before); // the same boxes (frame 20 is a keyframe now, with the box it had)
    expect(attributesAt(merged.frames, 30)).toEqual({ color: "red" });
  });

  test("overlapping tracks or tracks of two types do not merge, and nothing changes", () => {
    const doc = docWith(track("a", [[0, 0], [25, 10]]), track("b", [[20, 20]]), track("c", [[40, 0]], "car"));
    expect(doc.mergeTracks("a", "b")).toMatchObject({ ok: false, problem: { field: "frames" } });
    expect(doc.mergeTracks("a", "c")).toMatchObject({ ok: false, problem: { field: "type" } });
    expect(doc.canUndo()).toBe(false);
  });
});

describe("events and relations", () => {
  test("an event with two participants; a role filled with the wrong type is refused at its place, nothing changes", () => {
    const doc = docWith(track("giver"), track("car", [[10, 0]], "car"));
    expect(doc.addEvent(event("e", { giver: [{ kind: "track", id: "giver" }], taker: [{ kind: "entity", id: "ann" }] }))).toEqual({ ok: true });
    expect(doc.event("e")!.roles).toEqual({ giver: [{ kind: "track", id: "giver" }], taker: [{ kind: "entity", id: "ann" }] });
    const wrong = doc.fillRole("e", "giver", { kind: "track", id: "car" });
    expect(wrong).toEqual({ ok: false, problem: { field: "roles.giver.1", message: "track «car» is a Car; the role Giver takes Person" } });
    expect(doc.fillRole("e", "taker", { kind: "track", id: "giver" })).toMatchObject({ ok: false, problem: { message: "the role Taker takes at most 1, got 2" } });
    expect(doc.addEvent(event("x", {}, "nope"))).toMatchObject({ ok: false, problem: { field: "type" } });
    expect(doc.events().map((e) => e.id)).toEqual(["e"]);
    expect(doc.event("e")!.roles.giver).toHaveLength(1);
  });

  test("a tag is an event without roles; bars are dragged and split, each an undo step", () => {
    const doc = docWith();
    doc.addEvent(event("rain", {}, "tag-rain"));
    expect(doc.setEventSpan("rain", 8, 30)).toEqual({ ok: true });
    expect(doc.setEventSpan("rain", 30, 8)).toMatchObject({ ok: false, problem: { field: "endFrame" } });
    expect(doc.splitEvent("rain", 15, "rain2")).toEqual({ ok: true });
    expect(doc.events().map((e) => [e.id, e.startFrame, e.endFrame])).toEqual([["rain", 8, 14], ["rain2", 15, 30]]);
    expect(doc.undo()).toBe("split event");
    expect(doc.undo()).toBe("move event");
    expect(doc.event("rain")).toMatchObject({ startFrame: 5, endFrame: 20 });
  });

  test("a relation breaking its source/target constraint is refused; deleting a track takes its relations along", () => {
    const doc = docWith(track("p"), track("c", [[10, 0]], "car"));
    expect(doc.addRelation(relation("bad", "c", "p"))).toEqual({ ok: false, problem: { field: "source",
      message: "track «c» is a Car; a drives relation's source must be Person" } });
    expect(doc.addRelation(relation("r", "p", "c"))).toEqual({ ok: true });
    doc.deleteTracks(["c"]);
    expect(doc.relations()).toEqual([]);
    doc.undo();
    expect(doc.relations().map((r) => r.id)).toEqual(["r"]);
  });

  test("events are saved as change sets of their own and merged per field by the server", async () => {
    const server = new MemoryServer([track("giver")]);
    const a = new AnnotationDocument(server.list().map((t) => structuredClone(t)), server.revision);
    a.setSemantics(semantics);
    a.addEvent(event("e"));
    expect(a.pendingChanges()).toMatchObject([{ op: "create", kind: "event", id: "e", event: { type: "handover", startFrame: 5 } }]);
    await save(a, server);
    expect(server.events.get("e")).toMatchObject({ startFrame: 5, version: 1 });
    const b = new AnnotationDocument([...server.tracks.values()], server.revision, { events: [structuredClone(server.events.get("e")!)] });
    b.setSemantics(semantics);
    a.setEventSpan("e", 5, 25); // A moves the end
    await save(a, server);
    b.fillRole("e", "giver", { kind: "track", id: "giver" }); // B fills a role: another field, both stay
    await save(b, server);
    expect(server.events.get("e")).toMatchObject({ endFrame: 25, roles: { giver: [{ kind: "track", id: "giver" }] } });
    b.setEventSpan("e", 6, 20);
    a.setEventSpan("e", 7, 25);
    await save(a, server);
    await save(b, server);
    expect(b.conflicts()).toMatchObject([{ kind: "event", part: "field", field: "startFrame", theirs: 7, mine: 6 }]);
    b.resolve(b.conflicts()[0].key, "mine");
    await save(b, server);
    expect(server.events.get("e")!.startFrame).toBe(6);
  });
});
