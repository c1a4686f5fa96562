/** Video pixels <-> display: the video is letterboxed into its container; boxes live in video pixels. */
import type { Box, Size } from "./types";

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where a video of `video` size is drawn inside a container (object-fit: contain), in container pixels. */
export function fitRect(video: Size, container: Size): Rect {
  if (video.width <= 0 || video.height <= 0) return { left: 0, top: 0, width: container.width, height: container.height };
  const scale = Math.min(container.width / video.width, container.height / video.height);
  const width = video.width * scale;
  const height = video.height * scale;
  return { left: (container.width - width) / 2, top: (container.height - height) / 2, width, height };
}

/** A client (mouse) point to video pixels, given the on-screen rect the video is drawn in. */
export function clientToVideo(clientX: number, clientY: number, drawn: Rect, video: Size): { x: number; y: number } {
  return {
    x: ((clientX - drawn.left) * video.width) / drawn.width,
    y: ((clientY - drawn.top) * video.height) / drawn.height,
  };
}

export function videoToDisplay(box: Box, drawn: Rect, video: Size): Box {
  const sx = drawn.width / video.width;
  const sy = drawn.height / video.height;
  return { x: drawn.left + box.x * sx, y: drawn.top + box.y * sy, width: box.width * sx, height: box.height * sy };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** A box kept inside the frame (the backend rejects boxes that leave it), at least `min` pixels, rounded. */
export function clampBox(box: Box, video: Size, min = 1): Box {
  let width = Math.min(Math.max(Math.abs(box.width), min), video.width);
  let height = Math.min(Math.max(Math.abs(box.height), min), video.height);
  let x = box.width < 0 ? box.x + box.width : box.x;
  let y = box.height < 0 ? box.y + box.height : box.y;
  x = Math.min(Math.max(x, 0), video.width - width);
  y = Math.min(Math.max(y, 0), video.height - height);
  width = round3(width);
  height = round3(height);
  x = Math.min(round3(x), video.width - width);
  y = Math.min(round3(y), video.height - height);
  return { x, y, width, height };
}

/** The box from two corner points (any order). */
export function boxFromCorners(a: { x: number; y: number }, b: { x: number; y: number }): Box {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(a.x - b.x), height: Math.abs(a.y - b.y) };
}

export type Handle = "nw" | "n" | "ne" | "e" | "se" | "s" | "sw" | "w";
export const HANDLES: Handle[] = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

/** The box after dragging `handle` by (dx, dy) video pixels. */
export function resizeBox(box: Box, handle: Handle, dx: number, dy: number): Box {
  let { x, y, width, height } = box;
  if (handle.includes("w")) {
    x += dx;
    width -= dx;
  }
  if (handle.includes("e")) width += dx;
  if (handle.includes("n")) {
    y += dy;
    height -= dy;
  }
  if (handle.includes("s")) height += dy;
  return { x, y, width, height };
}

export function handlePoint(box: Box, handle: Handle): { x: number; y: number } {
  const x = handle.includes("w") ? box.x : handle.includes("e") ? box.x + box.width : box.x + box.width / 2;
  const y = handle.includes("n") ? box.y : handle.includes("s") ? box.y + box.height : box.y + box.height / 2;
  return { x, y };
}
