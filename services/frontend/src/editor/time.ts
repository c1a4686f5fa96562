/**
 * Frame <-> media time with a rational frame rate. Seeking goes to the middle of a frame, (n + 0.5) / fps,
 * because browsers seek to "a frame near t" (video.js #5142): the middle is the one time that is
 * unambiguously inside frame n. Reading goes the other way from the presented frame's media time
 * (requestVideoFrameCallback), which is the frame's start: floor with a little tolerance for timebase rounding.
 */

export interface FrameRate {
  num: number;
  den: number;
}

/** Tolerance in frames: media times come rounded to the container's timebase (µs or 1/90000 s). */
const EPSILON_FRAMES = 0.01;

export function frameRate(fpsNum: number | null | undefined, fpsDen: number | null | undefined, fps: number | null | undefined): FrameRate {
  if (fpsNum && fpsDen && fpsNum > 0 && fpsDen > 0) return { num: fpsNum, den: fpsDen };
  if (fps && fps > 0) {
    // A float from an old row: recognise the NTSC rates (29.97 = 30000/1001, ...) instead of drifting.
    for (const base of [24, 30, 48, 60, 120]) {
      if (Math.abs(fps - (base * 1000) / 1001) < 0.005) return { num: base * 1000, den: 1001 };
    }
    return { num: Math.round(fps * 1000), den: 1000 };
  }
  return { num: 30, den: 1 };
}

export function fpsValue(rate: FrameRate): number {
  return rate.num / rate.den;
}

/** The time to seek to for frame n: its middle. */
export function seekTimeOfFrame(frame: number, rate: FrameRate): number {
  return ((frame + 0.5) * rate.den) / rate.num;
}

/** The start time of frame n (its presentation timestamp). */
export function startTimeOfFrame(frame: number, rate: FrameRate): number {
  return (frame * rate.den) / rate.num;
}

/** The frame shown at media time t (a presented frame's mediaTime, or a currentTime inside a frame). */
export function frameAtTime(time: number, rate: FrameRate, frameCount?: number | null): number {
  const frame = Math.max(0, Math.floor((time * rate.num) / rate.den + EPSILON_FRAMES));
  return frameCount && frameCount > 0 ? Math.min(frame, frameCount - 1) : frame;
}

export function clampFrame(frame: number, frameCount: number | null | undefined): number {
  const f = Math.max(0, Math.round(frame));
  return frameCount && frameCount > 0 ? Math.min(f, frameCount - 1) : f;
}

/** "mm:ss.mmm" (or h:mm:ss.mmm) for the counter. */
export function formatTime(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const rest = String(ms % 1000).padStart(3, "0");
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}.${rest}` : `${mm}:${ss}.${rest}`;
}
