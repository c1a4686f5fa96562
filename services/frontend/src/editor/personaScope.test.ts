import { describe, expect, test } from "vitest";
import { changesFitScope, chooseScope, inScope, NO_PERSONA, othersCaption, personaForNew, splitByScope } from "./personaScope";
import type { AnnotationEvent, Relation, Track } from "./types";

const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";

const track = (id: string, personaId: string | null): Track => ({
  id, type: "person", label: id, personaId, source: "manual", confidence: null, jobId: null,
  frames: [{ frame: 0, x: 1, y: 1, width: 10, height: 10 }],
});
const event = (id: string, personaId: string | null): AnnotationEvent => ({
  id, type: "rain", label: id, personaId, source: "manual", startFrame: 0, endFrame: 5, roles: {}, attributes: {},
});
const relation = (id: string, personaId: string | null): Relation => ({
  id, type: "drives", personaId, source: { kind: "track", id: "a" }, target: { kind: "track", id: "b" }, attributes: {},
});

describe("the persona scope", () => {
  test("a persona's workspace edits its own and the team's (no persona) objects, never another persona's", () => {
    expect(inScope(track("a", A), A)).toBe(true);
    expect(inScope(track("n", null), A)).toBe(true);
    expect(inScope(track("b", B), A)).toBe(false);
    expect(inScope(track("n", null), NO_PERSONA)).toBe(true);
    expect(inScope(track("a", A), NO_PERSONA)).toBe(false);
  });

  test("a loaded document splits into what is edited and the others' tracks, shown read only", () => {
    const loaded = {
      tracks: [track("a", A), track("b", B), track("n", null)],
      events: [event("ea", A), event("eb", B)],
      relations: [relation("ra", A), relation("rb", B)],
      revision: 7,
    };
    const { mine, others } = splitByScope(loaded, A);
    expect(mine.tracks.map((t) => t.id)).toEqual(["a", "n"]);
    expect(mine.events.map((e) => e.id)).toEqual(["ea"]);
    expect(mine.relations.map((r) => r.id)).toEqual(["ra"]);
    expect(others.map((t) => t.id)).toEqual(["b"]);
    const fromB = splitByScope(loaded, B);
    expect(fromB.mine.tracks.map((t) => t.id)).toEqual(["b", "n"]);
    expect(fromB.others.map((t) => t.id)).toEqual(["a"]);
  });

  test("new work gets the chosen persona, or none", () => {
    expect(personaForNew(A)).toBe(A);
    expect(personaForNew(NO_PERSONA)).toBeNull();
  });

  test("a video opens as chosen there, else as last used, else the first persona; stale choices are passed over", () => {
    const personas = [{ id: A }, { id: B }];
    expect(chooseScope(B, A, personas)).toBe(B);
    expect(chooseScope(null, B, personas)).toBe(B);
    expect(chooseScope(null, null, personas)).toBe(A);
    expect(chooseScope(NO_PERSONA, A, personas)).toBe(NO_PERSONA);
    expect(chooseScope("deleted-since", B, personas)).toBe(B);
    expect(chooseScope(B, null, [{ id: A }, { id: B, hidden: true }])).toBe(A);
    expect(chooseScope(null, null, [])).toBe(NO_PERSONA);
  });

  test("another persona's box says whose it is", () => {
    const names = new Map([[B, "Traffic"]]);
    expect(othersCaption(track("bus", B), names)).toBe("bus · Traffic");
    expect(othersCaption(track("bus", "gone"), names)).toBe("bus · another persona");
  });
});

describe("a journal kept before workspaces had a persona", () => {
  const held = new Set(["track:a", "track:n"]);
  const has = (kind: string, id: string) => held.has(`${kind}:${id}`);

  test("is replayed when everything it touches is this persona's or the team's", () => {
    const changes = [{ op: "update" as const, id: "a" }, { op: "create" as const, id: "new" }, { op: "delete" as const, id: "n" }];
    const objects = { "track:a": track("a", A), "track:new": track("new", null), "track:n": null };
    expect(changesFitScope(changes, objects, A, has)).toBe(true);
  });

  test("is left alone when it touches another persona's track, or would give a track to one", () => {
    expect(changesFitScope([{ op: "update", id: "b" }], { "track:b": track("b", B) }, A, has)).toBe(false);
    expect(changesFitScope([{ op: "delete", id: "b" }], { "track:b": null }, A, has)).toBe(false);
    expect(changesFitScope([{ op: "update", id: "a" }], { a: track("a", B) }, A, has)).toBe(false);
    expect(changesFitScope([{ op: "create", id: "x" }], { "track:x": track("x", B) }, A, has)).toBe(false);
  });
});
