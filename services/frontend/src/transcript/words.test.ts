import { describe, expect, test } from "vitest";
import type { Transcript } from "../api";
import { frameAtTime, startTimeOfFrame } from "../editor/time";
import { emptyNote, wordDuring, wordsOf } from "./words";

const transcript: Transcript = {
  videoId: "v", jobId: null, model: "whisper-tiny-en", language: "en", status: "ok", message: null, durationS: 8, text: "",
  createdAt: "", updatedAt: "",
  segments: [
    { start: 1, end: 2.2, text: "The red bus", words: [
      { start: 1.0, end: 1.2, word: "The", probability: 0.9 }, { start: 1.2, end: 1.6, word: "red", probability: 0.8 },
      { start: 1.6, end: 2.2, word: "bus", probability: 0.95 }] },
    { start: 5, end: 5.8, text: "Police", words: [{ start: 5.0, end: 5.8, word: "Police", probability: 0.7 }] },
  ],
};

describe("transcript words", () => {
  test("flatten in time order across segments, numbered", () => {
    const words = wordsOf(transcript);
    expect(words.map((w) => [w.index, w.word, w.segment])).toEqual([[0, "The", 0], [1, "red", 0], [2, "bus", 0], [3, "Police", 1]]);
  });

  test("the word being said during a frame: the latest to start before the frame ends, unless it has ended", () => {
    const words = wordsOf(transcript);
    expect(wordDuring(words, 1.0, 1.04)).toBe(0);
    expect(wordDuring(words, 1.55, 1.59)).toBe(1);
    expect(wordDuring(words, 1.58, 1.62)).toBe(2); // "bus" starts inside this frame: it is the one marked
    expect(wordDuring(words, 1.56, 1.6)).toBe(1); // ... but a word starting exactly at a frame's end is the next frame's
    expect(wordDuring(words, 2.2, 2.24)).toBe(-1); // "bus" ended as the frame began
    expect(wordDuring(words, 3.0, 3.04)).toBe(-1);
    expect(wordDuring(words, 0.5, 0.54)).toBe(-1);
    expect(wordDuring(words, 5.5, 5.54)).toBe(3);
    expect(wordDuring(words, 9, 9.04)).toBe(-1);
    expect(wordDuring([], 1, 1.04)).toBe(-1);
  });

  test("a click on any word marks that word, wherever in its frame the word starts", () => {
    const rate = { num: 30000, den: 1001 };
    for (let start = 0.5; start < 2.5; start += 0.0037) {
      const words = wordsOf({ ...transcript, segments: [{ start, end: start + 0.3, text: "w", words: [
        { start: start - 0.2, end: start, word: "before", probability: 1 }, { start, end: start + 0.3, word: "w", probability: 1 }] }] });
      const frame = frameAtTime(start, rate); // what the click seeks to
      expect(wordDuring(words, startTimeOfFrame(frame, rate), startTimeOfFrame(frame + 1, rate))).toBe(1);
    }
  });

  test("no audio and no speech are said as such", () => {
    expect(emptyNote({ ...transcript, status: "no_audio", segments: [] })).toMatch(/^No audio track/);
    expect(emptyNote({ ...transcript, status: "no_speech", segments: [] })).toMatch(/^No speech found/);
    expect(emptyNote(null)).toBe("No transcript yet.");
    expect(emptyNote(transcript)).toBeNull();
  });
});
