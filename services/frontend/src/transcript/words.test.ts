import { describe, expect, test } from "vitest";
import type { Transcript } from "../api";
import { emptyNote, wordAt, wordsOf } from "./words";

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

  test("the word being said at a moment: its start counts, its end does not; nothing in a pause", () => {
    const words = wordsOf(transcript);
    expect(wordAt(words, 1.0)).toBe(0);
    expect(wordAt(words, 1.59)).toBe(1);
    expect(wordAt(words, 1.6)).toBe(2);
    expect(wordAt(words, 3.0)).toBe(-1);
    expect(wordAt(words, 0.5)).toBe(-1);
    expect(wordAt(words, 5.5)).toBe(3);
    expect(wordAt(words, 9)).toBe(-1);
    expect(wordAt([], 1)).toBe(-1);
  });

  test("no audio and no speech are said as such", () => {
    expect(emptyNote({ ...transcript, status: "no_audio", segments: [] })).toMatch(/^No audio track/);
    expect(emptyNote({ ...transcript, status: "no_speech", segments: [] })).toMatch(/^No speech found/);
    expect(emptyNote(null)).toBe("No transcript yet.");
    expect(emptyNote(transcript)).toBeNull();
  });
});
