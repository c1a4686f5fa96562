import { expect, test } from "vitest";
import { colorFor, formatDuration, formatFps } from "./format";

test("a name's colour is a stable #rrggbb", () => {
  expect(colorFor("Person")).toMatch(/^#[0-9a-f]{6}$/);
  expect(colorFor("Person")).toBe(colorFor("Person"));
  expect(colorFor("Person")).not.toBe(colorFor("Vehicle"));
});

test("the video card shows the rational frame rate and the duration", () => {
  expect(formatFps(29.97002997, 30000, 1001)).toBe("29.97 fps");
  expect(formatFps(25, 25, 1)).toBe("25 fps");
  expect(formatFps(null)).toBe("fps unknown");
  expect(formatDuration(3.003)).toBe("0:03");
  expect(formatDuration(125)).toBe("2:05");
});
