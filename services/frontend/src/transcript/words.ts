/**
 * The transcript as the panel uses it: one flat list of words in time order, and which word is being said at a
 * moment of the video (plain TypeScript, no DOM: transcript.test.ts checks it).
 */
import type { Transcript, TranscriptWord } from "../api";
import { lastIndexAtOrBefore } from "../editor/keyframes";

export interface SpokenWord extends TranscriptWord {
  /** Position in the flat list: the panel's key and the highlight's identity. */
  index: number;
  segment: number;
}

export function wordsOf(transcript: Transcript | null | undefined): SpokenWord[] {
  const words: SpokenWord[] = [];
  (transcript?.segments ?? []).forEach((segment, s) => {
    for (const word of segment.words) words.push({ ...word, index: words.length, segment: s });
  });
  return words.sort((a, b) => a.start - b.start || a.index - b.index).map((w, i) => ({ ...w, index: i }));
}

/** The word being said while a frame shows, the frame being [from, to) in seconds: the latest word to start before
 * the frame ends, if it has not ended when the frame begins (binary search: called on every frame while playing);
 * -1 between words and outside speech, so nothing is highlighted in a pause. A whole frame, not one instant of it:
 * a click on a word seeks to the frame its start falls in, and that word must then be the one marked, wherever in
 * the frame it starts (the frame's middle alone missed words starting in a frame's second half). */
export function wordDuring(words: SpokenWord[], from: number, to: number): number {
  const found = lastIndexAtOrBefore(words, (w) => w.start, to);
  let index = found;
  while (index >= 0 && words[index].start >= to) index -= 1;  // starts exactly at the frame's end: the next frame's
  return index >= 0 && words[index].end > from ? index : -1;
}

/** What the panel says for a transcript that holds no words. */
export function emptyNote(transcript: Transcript | null | undefined): string | null {
  if (transcript === undefined) return null;
  if (transcript === null) return "No transcript yet.";
  if (transcript.status === "no_audio") return "No audio track: this video has no sound to transcribe.";
  if (transcript.status === "no_speech") return "No speech found: the audio holds no words.";
  return null;
}
