import { describe, expect, test } from "vitest";
import { clampBox, clientToVideo, fitRect, resizeBox, videoToDisplay } from "./coords";

describe("video pixels <-> display", () => {
  const video = { width: 1920, height: 1080 };

  test("a 16:9 video letterboxed into a square container", () => {
    expect(fitRect(video, { width: 960, height: 960 })).toEqual({ left: 0, top: 210, width: 960, height: 540 });
  });

  test("client -> video -> display round-trips at any display size", () => {
    for (const size of [{ width: 480, height: 270 }, { width: 3840, height: 2160 }, { width: 700, height: 900 }]) {
      const drawn = fitRect(video, size);
      const p = clientToVideo(drawn.left + drawn.width / 4, drawn.top + drawn.height / 2, drawn, video);
      expect(p.x).toBeCloseTo(480, 9);
      expect(p.y).toBeCloseTo(540, 9);
      const shown = videoToDisplay({ x: 480, y: 540, width: 192, height: 108 }, drawn, video);
      expect(shown.x).toBeCloseTo(drawn.left + drawn.width / 4, 9);
      expect(shown.width).toBeCloseTo(drawn.width / 10, 9);
    }
  });

  test("boxes are kept inside the frame and normalised", () => {
    expect(clampBox({ x: 1900, y: -5, width: 100, height: 50 }, video)).toEqual({ x: 1820, y: 0, width: 100, height: 50 });
    expect(clampBox({ x: 100, y: 100, width: -40, height: -20 }, video)).toEqual({ x: 60, y: 80, width: 40, height: 20 });
  });

  test("resize handles move only their edges", () => {
    const box = { x: 10, y: 10, width: 100, height: 50 };
    expect(resizeBox(box, "se", 5, 6)).toEqual({ x: 10, y: 10, width: 105, height: 56 });
    expect(resizeBox(box, "nw", 5, 6)).toEqual({ x: 15, y: 16, width: 95, height: 44 });
    expect(resizeBox(box, "e", 5, 6)).toEqual({ x: 10, y: 10, width: 105, height: 50 });
  });
});
