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

/** The word whose [start, end) holds `seconds` (binary search: called on every frame while playing); -1 between
 * words and outside speech, so nothing is highlighted in a pause. */
export function wordAt(words: SpokenWord[], seconds: number): number {
  const found = lastIndexAtOrBefore(words, (w) => w.start, seconds);
  return found >= 0 && seconds < words[found].end ? found : -1;
}

/** What the panel says for a transcript that holds no words. */
export function emptyNote(transcript: Transcript | null | undefined): string | null {
  if (transcript === undefined) return null;
  if (transcript === null) return "No transcript yet.";
  if (transcript.status === "no_audio") return "No audio track: this video has no sound to transcribe.";
  if (transcript.status === "no_speech") return "No speech found: the audio holds no words.";
  return null;
}
