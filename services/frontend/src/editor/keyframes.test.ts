import { describe, expect, test } from "vitest";
import extentCases from "./extent.cases.json";
import { adjacentKeyframe, boxAt, interpolatedFrames, keyframeIndexAtOrBefore, lastFrameOf, outsideSpans, visibleBoxAt } from "./keyframes";
import type { Keyframe, Track } from "./types";

const kf = (frame: number, x: number, outside = false): Keyframe => ({ frame, x, y: x / 2, width: 10 + x, height: 20, outside });

describe("interpolation", () => {
  const track = { frames: [kf(10, 0), kf(40, 30)] };

  test("nothing before the first keyframe", () => {
    expect(boxAt(track, 9)).toBeNull();
  });

  test("keyframes are exact and marked", () => {
    expect(boxAt(track, 10)).toMatchObject({ x: 0, keyframe: true, outside: false });
    expect(boxAt(track, 40)).toMatchObject({ x: 30, keyframe: true });
  });

  test("linear between keyframes in every coordinate", () => {
    expect(boxAt(track, 25)).toEqual({ x: 15, y: 7.5, width: 25, height: 20, keyframe: false, outside: false, held: false });
  });

  test("held after the last keyframe until marked outside", () => {
    expect(boxAt(track, 500)).toMatchObject({ x: 30, keyframe: false, outside: false, held: true });
    expect(boxAt(track, 40)).toMatchObject({ held: false });
  });

  test("people's tracks are held, the detector's candidates and per-frame detections are not", () => {
    const manual = { ...track, source: "manual" as const, type: "person" };
    expect(visibleBoxAt(manual, 41)).toMatchObject({ held: true });
    expect(visibleBoxAt({ ...manual, source: "automatic" }, 41)).toBeNull();
    expect(visibleBoxAt({ ...manual, source: "automatic" }, 25)).toMatchObject({ x: 15 });
    expect(visibleBoxAt({ ...manual, source: "ai-assisted", type: "detection" }, 41)).toBeNull();
    expect(visibleBoxAt({ ...manual, source: "ai-assisted", type: "detection" }, 40)).toMatchObject({ keyframe: true });
  });

  test("binary search finds the keyframe at or before a frame", () => {
    const frames = Array.from({ length: 100 }, (_, i) => kf(i * 10, i));
    expect(keyframeIndexAtOrBefore(frames, -1)).toBe(-1);
    expect(keyframeIndexAtOrBefore(frames, 0)).toBe(0);
    expect(keyframeIndexAtOrBefore(frames, 555)).toBe(55);
    expect(keyframeIndexAtOrBefore(frames, 99_999)).toBe(99);
  });
});

describe("outside spans", () => {
  const track = { frames: [kf(10, 0), kf(40, 30), kf(60, 30, true), kf(80, 50)] };

  test("an outside keyframe hides the box until the next keyframe", () => {
    expect(visibleBoxAt(track, 59)).not.toBeNull();
    expect(boxAt(track, 60)).toMatchObject({ outside: true, keyframe: true });
    expect(visibleBoxAt(track, 60)).toBeNull();
    expect(visibleBoxAt(track, 79)).toBeNull();
    expect(visibleBoxAt(track, 80)).toMatchObject({ x: 50, keyframe: true });
  });

  test("the outside span is not interpolated into", () => {
    expect(boxAt(track, 70)).toMatchObject({ x: 30, outside: true });
  });

  test("spans are listed, the last open-ended", () => {
    expect(outsideSpans(track.frames)).toEqual([[60, 80]]);
    expect(outsideSpans([kf(0, 0), kf(5, 0, true)])).toEqual([[5, null]]);
  });

  test("the interpolated export leaves outside frames out and marks keyframes", () => {
    const frames = interpolatedFrames(track, null);
    expect(frames[0]).toMatchObject({ frame: 10, keyframe: true });
    expect(frames.find((f) => f.frame === 25)).toMatchObject({ x: 15, keyframe: false });
    expect(frames.some((f) => f.frame > 60 && f.frame < 80)).toBe(false);
    expect(frames.find((f) => f.frame === 60)).toMatchObject({ outside: true, keyframe: true });
    expect(frames.length).toBe(50 + 1 + 1);
  });
});

describe("how long a track lasts: one rule for the canvas, the timeline and the export", () => {
  for (const c of extentCases.cases) {
    test(c.name, () => {
      const t = c.track as unknown as Pick<Track, "frames" | "source" | "type">;
      const exported = interpolatedFrames(t, c.frameCount);
      expect(exported.map((f) => [f.frame, f.x, f.keyframe, f.outside])).toEqual(c.expect);
      expect(lastFrameOf(t, c.frameCount)).toBe(c.expect[c.expect.length - 1][0]);
      // The canvas draws a box on exactly the frames the export has one on (an outside keyframe hides it).
      if (c.frameCount === null) return;
      const drawn = [];
      for (let f = 0; f < c.frameCount; f++) if (visibleBoxAt(t, f)) drawn.push(f);
      expect(drawn).toEqual(exported.filter((f) => !f.outside).map((f) => f.frame));
    });
  }
});

describe("keyframe navigation", () => {
  const tracks = [{ frames: [kf(10, 0), kf(40, 0)] }, { frames: [kf(25, 0)] }];
  test("next and previous keyframe over all tracks", () => {
    expect(adjacentKeyframe(tracks, 10, 1)).toBe(25);
    expect(adjacentKeyframe(tracks, 25, 1)).toBe(40);
    expect(adjacentKeyframe(tracks, 40, 1)).toBeNull();
    expect(adjacentKeyframe(tracks, 40, -1)).toBe(25);
    expect(adjacentKeyframe(tracks, 10, -1)).toBeNull();
  });
});
