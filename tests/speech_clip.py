"""A clip with speech whose timing is known: espeak-ng speaks two sentences, ffmpeg muxes them into a video with
silence before, between and after. Used by the model-service's transcript test and the end-to-end one."""

from __future__ import annotations

import array
import re
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FIRST = "A red car is parked near the school."
SECOND = "Police closed the bridge today."
LEAD_IN_S, GAP_S, TAIL_S = 1.0, 2.5, 0.5
TOLERANCE_S = 0.5
SPEECH_WPM = 140  # espeak-ng's rate: Whisper tiny.en hears these sentences word for word at it


@dataclass(frozen=True)
class Spoken:
    """Where a sentence's voice starts and ends in the clip (measured on the samples, not guessed)."""

    text: str
    onset: float
    offset: float


def _voiced_span(samples: array.array, rate: int) -> tuple[float, float]:
    """espeak pads its output with silence: the first and last sample louder than 2 % of full scale."""
    loud = [i for i, v in enumerate(samples) if abs(v) > 655]
    return loud[0] / rate, loud[-1] / rate


def _speak(text: str, folder: Path, name: str) -> tuple[array.array, int]:
    path = folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(SPEECH_WPM), "-w", str(path), text], check=True, timeout=60)
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        samples = array.array("h", wav.readframes(wav.getnframes()))
        return samples, wav.getframerate()


def make_speech_clip(out: Path, scratch: Path, sentences: Sequence[str] = (FIRST, SECOND)) -> list[Spoken]:
    """LEAD_IN_S of silence, then each sentence followed by GAP_S of silence (TAIL_S after the last): as a 5 fps
    clip with an AAC track. Returns where each sentence's voice starts and ends in the clip."""
    track = array.array("h")
    spoken: list[Spoken] = []
    rate = 0
    for number, text in enumerate(sentences):
        samples, rate = _speak(text, scratch, f"sentence-{number}")
        track += _silence(LEAD_IN_S if number == 0 else GAP_S, rate)
        onset, offset = _voiced_span(samples, rate)
        at = len(track) / rate
        spoken.append(Spoken(text, at + onset, at + offset))
        track += samples
    track += _silence(TAIL_S, rate)
    with wave.open(str(scratch / "speech.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(track.tobytes())
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=navy:s=320x240:r=5",
                    "-i", str(scratch / "speech.wav"), "-t", f"{len(track) / rate:.3f}", "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)], check=True, timeout=300)
    return spoken


def _silence(seconds: float, rate: int) -> array.array:
    return array.array("h", [0]) * int(seconds * rate)


def word_error_rate(reference: str, heard: str) -> float:
    """(substitutions + deletions + insertions) / reference words, over plain words (Levenshtein on words)."""
    ref = [w for w in map(plain_word, reference.split()) if w]
    hyp = [w for w in map(plain_word, heard.split()) if w]
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(1, len(ref))


def plain_word(word: str) -> str:
    """A transcript word as the script has it: lower case, no punctuation ("Station." -> "station")."""
    return re.sub(r"[^a-z]", "", word.lower())
