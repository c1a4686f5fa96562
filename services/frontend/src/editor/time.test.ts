import { describe, expect, test } from "vitest";
import { clampFrame, formatTime, frameAtTime, frameRate, seekTimeOfFrame, startTimeOfFrame } from "./time";

const ntsc = frameRate(30000, 1001, 29.97);

describe("frame <-> time", () => {
  test("a 29.97 fps clip: frame 1000 maps back to 1000, from its seek time and its start time", () => {
    expect(frameAtTime(seekTimeOfFrame(1000, ntsc), ntsc)).toBe(1000);
    expect(frameAtTime(startTimeOfFrame(1000, ntsc), ntsc)).toBe(1000);
  });

  test("every frame of an hour at 29.97 round-trips", () => {
    const wrong: number[] = [];
    for (let n = 0; n < 108_000; n++) {
      if (frameAtTime(seekTimeOfFrame(n, ntsc), ntsc) !== n || frameAtTime(startTimeOfFrame(n, ntsc), ntsc) !== n) wrong.push(n);
    }
    expect(wrong).toEqual([]);
  });

  test("media times rounded to microseconds (below the true start) still name the frame", () => {
    const t = Math.floor(startTimeOfFrame(1001, ntsc) * 1e6) / 1e6;
    expect(frameAtTime(t, ntsc)).toBe(1001);
  });

  test("seek goes to the middle of the frame", () => {
    expect(seekTimeOfFrame(0, { num: 10, den: 1 })).toBeCloseTo(0.05, 12);
    expect(seekTimeOfFrame(1000, ntsc)).toBeCloseTo((1000.5 * 1001) / 30000, 12);
  });

  test("a float 29.97 from an old row is recognised as 30000/1001", () => {
    expect(frameRate(null, null, 29.97)).toEqual({ num: 30000, den: 1001 });
    expect(frameRate(null, null, 25)).toEqual({ num: 25000, den: 1000 });
    expect(frameRate(null, null, null)).toEqual({ num: 30, den: 1 });
  });

  test("frames clamp to the clip", () => {
    expect(frameAtTime(1e6, ntsc, 300)).toBe(299);
    expect(clampFrame(-4, 300)).toBe(0);
    expect(clampFrame(400, 300)).toBe(299);
  });

  test("time is shown with milliseconds", () => {
    expect(formatTime(startTimeOfFrame(1000, ntsc))).toBe("00:33.367");
    expect(formatTime(3723.5)).toBe("1:02:03.500");
  });
});
