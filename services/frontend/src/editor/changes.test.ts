import { describe, expect, test } from "vitest";
import { applyChange, diffTrack, fieldValue, FIELDS, invertChange, keyBox, type AnnotationObject, type ObjectKind, type TrackChange } from "./changes";
import cases from "./merge.cases.json";
import type { Keyframe, Track } from "./types";

interface Case {
  name: string;
  kind?: string;
  serverOnly?: string;
  stored: (Omit<Track, "id" | "jobId">) | null;
  change: Record<string, unknown>;
  expect: { track: (Omit<Track, "id" | "jobId">) | null; conflicts: Array<Record<string, unknown>> };
}

const ID = cases.track_id;
const asTrack = (t: Case["stored"]): Track | null => (t ? { ...t, id: ID, jobId: null } as Track : null);
const comparable = (kind: ObjectKind, t: AnnotationObject | null) => {
  if (!t) return null;
  const out: Record<string, unknown> = Object.fromEntries(FIELDS[kind].map((f) => [f, fieldValue(t, f)]));
  if (kind === "track") out.frames = (t as Track).frames.map((k) => ({ frame: k.frame, ...keyBox(k) }));
  return out;
};

describe("the merge rule, on the cases the server is tested against too", () => {
  for (const c of cases.cases as unknown as Case[]) {
    test.skipIf(!!c.serverOnly)(c.name, () => {
      const kind = (c.kind ?? "track") as ObjectKind;
      const { track, conflicts } = applyChange<AnnotationObject>(asTrack(c.stored), c.change as unknown as TrackChange);
      expect(comparable(kind, track)).toEqual(comparable(kind, asTrack(c.expect.track)));
      expect(conflicts.length).toBe(c.expect.conflicts.length);
      conflicts.forEach((got, i) => {
        const want = c.expect.conflicts[i];
        expect(Object.fromEntries(Object.keys(want).map((k) => [k, (got as Record<string, unknown>)[k]]))).toEqual(want);
      });
    });
  }
});

const kf = (frame: number, x: number, outside?: boolean): Keyframe => ({ frame, x, y: 0, width: 10, height: 10, ...(outside ? { outside } : {}) });
const track = (frames: Keyframe[], label = "car"): Track =>
  ({ id: "t", type: "vehicle", label, personaId: null, source: "manual", confidence: null, jobId: null, frames, version: 3 });

describe("change sets", () => {
  test("a diff names only what changed: fields, and keyframes added, moved and removed", () => {
    const before = track([kf(10, 0), kf(20, 5), kf(30, 9)]);
    const after = { ...track([kf(10, 0), kf(20, 6), kf(40, 1, true)], "bus") };
    expect(diffTrack(before, after)).toEqual({
      op: "update", id: "t", fields: { label: { from: "car", to: "bus" } },
      keyframes: [
        { frame: 20, from: keyBox(kf(20, 5)), to: keyBox(kf(20, 6)) },
        { frame: 30, from: keyBox(kf(30, 9)), to: null },
        { frame: 40, from: null, to: keyBox(kf(40, 1, true)) },
      ],
    });
    expect(diffTrack(before, { ...before })).toBeNull();
    expect(diffTrack(null, after)).toMatchObject({ op: "create", id: "t", track: { label: "bus" } });
    expect(diffTrack(before, null)).toEqual({ op: "delete", id: "t", version: 3 });
  });

  test("applying a diff gives the new track, and its inverse the old one", () => {
    const before = track([kf(10, 0), kf(20, 5), kf(30, 9)]);
    const after = track([kf(10, 0), kf(20, 6), kf(40, 1, true)], "bus");
    const change = diffTrack(before, after)!;
    expect(diffTrack(applyChange(before, change).track, after)).toBeNull();
    expect(diffTrack(applyChange(after, invertChange(change, before)).track, before)).toBeNull();
    const deletion = diffTrack(before, null)!;
    expect(diffTrack(applyChange<Track>(null, invertChange(deletion, before)).track, before)).toBeNull();
  });

  test("nothing changes: the very same object comes back", () => {
    const t = track([kf(10, 0)]);
    expect(applyChange(t, { op: "update", id: "t", fields: { label: { from: "x", to: "car" } }, keyframes: [] }).track).toBe(t);
  });
});
