/**
 * The frame-exact player: owns "the current frame" for the workspace. Seeking to frame n goes to the
 * middle of the frame ((n + 0.5) / fps); while playing, the frame comes from requestVideoFrameCallback's
 * mediaTime (the frame actually presented), never from `timeupdate` (4 Hz, and not tied to a frame).
 * A small external store: components subscribe to it, so a new frame re-renders only what shows the frame.
 */
import { clampFrame, frameAtTime, seekTimeOfFrame, type FrameRate } from "../editor/time";

type VideoWithRvfc = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

export interface PlayerSnapshot {
  frame: number;
  playing: boolean;
  rate: number;
}

export class Player {
  private video: VideoWithRvfc | null = null;
  private listeners = new Set<() => void>();
  private snapshot: PlayerSnapshot = { frame: 0, playing: false, rate: 1 };
  private rvfcHandle: number | null = null;
  private rafHandle: number | null = null;
  private detach: (() => void) | null = null;

  constructor(
    readonly rate: FrameRate,
    public frameCount: number | null,
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): PlayerSnapshot => this.snapshot;

  get frame(): number {
    return this.snapshot.frame;
  }

  private set(patch: Partial<PlayerSnapshot>): void {
    const next = { ...this.snapshot, ...patch };
    if (next.frame === this.snapshot.frame && next.playing === this.snapshot.playing && next.rate === this.snapshot.rate) return;
    this.snapshot = next;
    for (const listener of this.listeners) listener();
  }

  attach(video: HTMLVideoElement): void {
    this.detach?.();
    const v = video as VideoWithRvfc;
    this.video = v;
    const onPlay = () => {
      this.set({ playing: true });
      this.watchFrames();
    };
    const onPause = () => {
      this.stopWatching();
      // Land exactly on the frame the user last saw, so the picture and the counter agree.
      this.set({ playing: false });
      this.seek(this.snapshot.frame);
    };
    const onMeta = () => {
      if (!this.frameCount && Number.isFinite(v.duration)) {
        this.frameCount = Math.max(1, Math.round((v.duration * this.rate.num) / this.rate.den));
      }
      this.seek(this.snapshot.frame);
    };
    v.addEventListener("play", onPlay);
    v.addEventListener("pause", onPause);
    v.addEventListener("loadedmetadata", onMeta);
    if (v.readyState >= 1) onMeta();
    this.detach = () => {
      v.removeEventListener("play", onPlay);
      v.removeEventListener("pause", onPause);
      v.removeEventListener("loadedmetadata", onMeta);
      this.stopWatching();
    };
  }

  dispose(): void {
    this.detach?.();
    this.detach = null;
    this.video = null;
  }

  private watchFrames(): void {
    const v = this.video;
    if (!v) return;
    this.stopWatching();
    if (v.requestVideoFrameCallback) {
      const onFrame = (_now: number, meta: { mediaTime: number }) => {
        this.set({ frame: frameAtTime(meta.mediaTime, this.rate, this.frameCount) });
        if (!v.paused) this.rvfcHandle = v.requestVideoFrameCallback!(onFrame);
      };
      this.rvfcHandle = v.requestVideoFrameCallback(onFrame);
    } else {
      // Browsers without rVFC: sample currentTime every animation frame (close, not exact).
      const tick = () => {
        this.set({ frame: frameAtTime(v.currentTime, this.rate, this.frameCount) });
        if (!v.paused) this.rafHandle = requestAnimationFrame(tick);
      };
      this.rafHandle = requestAnimationFrame(tick);
    }
  }

  private stopWatching(): void {
    if (this.rvfcHandle !== null) this.video?.cancelVideoFrameCallback?.(this.rvfcHandle);
    if (this.rafHandle !== null) cancelAnimationFrame(this.rafHandle);
    this.rvfcHandle = null;
    this.rafHandle = null;
  }

  seek(frame: number): void {
    const f = clampFrame(frame, this.frameCount);
    const v = this.video;
    if (v && !v.paused) v.pause();
    this.set({ frame: f });
    if (v && v.readyState >= 1) {
      const t = seekTimeOfFrame(f, this.rate);
      if (Math.abs(v.currentTime - t) > 1e-6) v.currentTime = t;
    }
  }

  step(delta: number): void {
    this.seek(this.snapshot.frame + delta);
  }

  play(): void {
    const v = this.video;
    if (!v) return;
    if (this.frameCount && this.snapshot.frame >= this.frameCount - 1) this.seek(0);
    void v.play().catch(() => this.set({ playing: false }));
  }

  pause(): void {
    this.video?.pause();
  }

  toggle(): void {
    if (this.snapshot.playing) this.pause();
    else this.play();
  }

  setRate(rate: number): void {
    if (this.video) this.video.playbackRate = rate;
    this.set({ rate });
  }
}
