/** The annotation document's data: what the backend stores, in video pixel coordinates. */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A keyframe; `outside` hides the object from this keyframe until the next one (it still carries its box). */
export interface Keyframe extends Box {
  frame: number;
  outside?: boolean;
}

export type Source = "manual" | "ai-assisted" | "automatic";

export interface Track {
  id: string;
  type: string;
  label: string;
  personaId: string | null;
  source: Source;
  confidence: number | null;
  jobId: string | null;
  /** Sorted by frame, unique frames, at least one. */
  frames: Keyframe[];
}

export interface Size {
  width: number;
  height: number;
}
