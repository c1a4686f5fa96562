/** Keyframes, linear interpolation and outside spans: the pure functions a track's box at a frame comes from. */
import type { Box, Keyframe, Track } from "./types";

/** Index of the last keyframe at or before `frame`, or -1 when `frame` is before the first (binary search). */
export function keyframeIndexAtOrBefore(frames: readonly Keyframe[], frame: number): number {
  return lastIndexAtOrBefore(frames, (k) => k.frame, frame);
}

/** Index of the last item whose position is at or before `at` in a list sorted by position, or -1 (binary search). */
export function lastIndexAtOrBefore<T>(items: readonly T[], position: (item: T) => number, at: number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (position(items[mid]) <= at) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

export function keyframeAt(frames: readonly Keyframe[], frame: number): Keyframe | undefined {
  const i = keyframeIndexAtOrBefore(frames, frame);
  return i >= 0 && frames[i].frame === frame ? frames[i] : undefined;
}

export interface ResolvedBox extends Box {
  /** This frame holds a keyframe of the track. */
  keyframe: boolean;
  /** The box is hidden here: the object is outside the frame (the box is the last known one). */
  outside: boolean;
  /** After the track's last keyframe: the last box, held so it can be continued (not part of the export). */
  held: boolean;
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/**
 * The track's box at `frame`: null before its first keyframe; linear between two keyframes; held after
 * the last keyframe (the object stays until marked outside, as in CVAT); `outside` from an outside keyframe
 * until the next keyframe.
 */
export function boxAt(track: Pick<Track, "frames">, frame: number): ResolvedBox | null {
  const frames = track.frames;
  const i = keyframeIndexAtOrBefore(frames, frame);
  if (i < 0) return null;
  const a = frames[i];
  const isKey = a.frame === frame;
  const next = frames[i + 1];
  if (a.outside || isKey || next === undefined) {
    const held = next === undefined && !isKey && !a.outside;
    return { x: a.x, y: a.y, width: a.width, height: a.height, keyframe: isKey, outside: !!a.outside, held };
  }
  const t = (frame - a.frame) / (next.frame - a.frame);
  return {
    x: lerp(a.x, next.x, t),
    y: lerp(a.y, next.y, t),
    width: lerp(a.width, next.width, t),
    height: lerp(a.height, next.height, t),
    keyframe: false,
    outside: false,
    held: false,
  };
}

/**
 * Whether a track's last box is held after its last keyframe. People's tracks: yes (as in CVAT, so a box drawn at
 * frame 10 can be moved at frame 40). The detector's candidates and per-frame detections (type "detection", one box
 * for one frame): no — holding them would stack stale boxes on later frames.
 */
export function holdsAfterLastKeyframe(track: Partial<Pick<Track, "source" | "type">>): boolean {
  return track.source !== "automatic" && track.type !== "detection";
}

/**
 * The last frame a track has a box at — the one rule for how long a track lasts, used by the canvas, the timeline
 * and the export (CVAT's: a track lasts until a keyframe marks it outside). A track that holds runs to the video's
 * last frame (`frameCount - 1`) unless its last keyframe is outside; one that does not hold, or whose video's length
 * is unknown, ends at its last keyframe. The backend's interpolated export (tracks.py) follows the same rule, held
 * to it by the cases in extent.cases.json.
 */
export function lastFrameOf(track: Pick<Track, "frames"> & Partial<Pick<Track, "source" | "type">>, frameCount: number | null | undefined): number {
  const last = track.frames[track.frames.length - 1];
  if (!last) return -1;
  if (last.outside || !holdsAfterLastKeyframe(track) || !frameCount) return last.frame;
  return Math.max(last.frame, frameCount - 1);
}

/** The box is drawn at this frame: it exists, is not outside, and is not a held box of a track that does not hold. */
export function visibleBoxAt(track: Pick<Track, "frames"> & Partial<Pick<Track, "source" | "type">>, frame: number): ResolvedBox | null {
  const box = boxAt(track, frame);
  if (!box || box.outside) return null;
  if (box.held && !holdsAfterLastKeyframe(track)) return null;
  return box;
}

/** The mutable attributes at `frame`: each as the last keyframe at or before it set it ("hold"). */
export function attributesAt(frames: readonly Keyframe[], frame: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const last = keyframeIndexAtOrBefore(frames, frame);
  for (let i = 0; i <= last; i++) Object.assign(out, frames[i].attributes ?? {});
  return out;
}

/** Keyframes with `kf` put in at its frame (replacing one there), still sorted. */
export function withKeyframe(frames: readonly Keyframe[], kf: Keyframe): Keyframe[] {
  const i = keyframeIndexAtOrBefore(frames, kf.frame);
  const out = frames.slice();
  if (i >= 0 && frames[i].frame === kf.frame) out[i] = kf;
  else out.splice(i + 1, 0, kf);
  return out;
}

export function withoutKeyframe(frames: readonly Keyframe[], frame: number): Keyframe[] {
  return frames.filter((kf) => kf.frame !== frame);
}

/** The nearest keyframe strictly after (`direction` 1) or before (-1) `frame` among `tracks`, or null. */
export function adjacentKeyframe(tracks: Iterable<Pick<Track, "frames">>, frame: number, direction: 1 | -1): number | null {
  let best: number | null = null;
  for (const track of tracks) {
    const frames = track.frames;
    const i = keyframeIndexAtOrBefore(frames, direction === 1 ? frame : frame - 1);
    const candidate = direction === 1 ? frames[i + 1]?.frame : frames[i]?.frame;
    if (candidate === undefined) continue;
    if (best === null || (direction === 1 ? candidate < best : candidate > best)) best = candidate;
  }
  return best;
}

/** Outside spans as [start, end) frame ranges (end = the next keyframe, or null when open to the end). */
export function outsideSpans(frames: readonly Keyframe[]): Array<[number, number | null]> {
  const spans: Array<[number, number | null]> = [];
  frames.forEach((kf, i) => {
    if (kf.outside) spans.push([kf.frame, frames[i + 1]?.frame ?? null]);
  });
  return spans;
}

/**
 * The track at every frame it lasts (`lastFrameOf`): keyframes always (with their `outside` flag), other frames
 * interpolated or held, frames where the object is outside left out. What the interpolated export holds.
 */
export function interpolatedFrames(track: Pick<Track, "frames"> & Partial<Pick<Track, "source" | "type">>,
  frameCount: number | null | undefined): Array<Keyframe & { outside: boolean; keyframe: boolean }> {
  const frames = track.frames;
  const out: Array<Keyframe & { outside: boolean; keyframe: boolean }> = [];
  if (frames.length === 0) return out;
  const end = lastFrameOf(track, frameCount);
  for (let f = frames[0].frame; f <= end; f++) {
    const box = boxAt(track, f);
    if (!box || (box.outside && !box.keyframe)) continue;
    out.push({ frame: f, x: box.x, y: box.y, width: box.width, height: box.height, outside: box.outside, keyframe: box.keyframe });
  }
  return out;
}
