"""Transcripts through the queue: speech the test makes with espeak-ng, muxed into a clip by ffmpeg, comes back as
the spoken words with times on the clip's timeline; a clip with no audio stream, or with only silence, says so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from rq.job import JobStatus

from tests.model_service.test_queue import enqueue, wait_for
from tests.speech_clip import TOLERANCE_S, Spoken, make_speech_clip, plain_word

pytestmark = pytest.mark.engine
# Whisper's times for a word it is unsure of (a quiet "A" after a silence) may smear into the silence before it.
SURE = 0.5


@pytest.fixture(scope="module")
def speech_clips(video_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Spoken]:
    """speech.mp4 (two sentences) and silence.mp4 (an audio track of digital silence) in the video root."""
    if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
        pytest.fail("espeak-ng and ffmpeg are needed (.ci/setup installs them)")
    scratch = tmp_path_factory.mktemp("speech")
    spoken = make_speech_clip(video_root / "speech.mp4", scratch)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=160x120:r=5",
                    "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(video_root / "silence.mp4")], check=True, timeout=60)
    for name in ("speech.mp4", "silence.mp4"):
        (video_root / name).chmod(0o644)
    return spoken


def _transcribe(redis_url: str, clip: str) -> tuple[dict, dict]:
    job = enqueue(redis_url, "speech-transcription", "transcribe", "vid-speech", clip, {})
    assert wait_for(job, {JobStatus.FINISHED, JobStatus.FAILED}, budget=300) == JobStatus.FINISHED, job.exc_info
    return job.return_value(), job.get_meta(refresh=True)


def test_the_spoken_words_come_back_with_times_within_half_a_second(worker, redis_url: str, speech_clips,
                                                                     backend_accepts) -> None:
    result, meta = _transcribe(redis_url, "speech.mp4")
    backend_accepts("transcribe", result)
    assert result["status"] == "ok" and result["message"] is None and result["model"] == "whisper-tiny-en", result
    words = [dict(w, norm=plain_word(w["word"])) for s in result["segments"] for w in s["words"]]
    heard = [w["norm"] for w in words]
    for expected in ("car", "parked", "school", "police", "bridge"):
        assert expected in heard, (expected, result["text"])
    first, second = speech_clips
    for w in words:  # each word the model is sure of lies inside its sentence, give or take the tolerance
        sentence = first if w["start"] < (first.offset + second.onset) / 2 else second
        assert 0.0 <= w["probability"] <= 1.0
        if w["probability"] >= SURE:
            assert sentence.onset - TOLERANCE_S <= w["start"] <= w["end"] <= sentence.offset + TOLERANCE_S, (w, sentence)
    police = next(w for w in words if w["norm"] == "police")
    assert abs(police["start"] - second.onset) <= TOLERANCE_S, (police, second)
    assert [s["text"] for s in result["segments"]] == [first.text, second.text]  # the pause between splits them
    # The VAD skipped the silences, and the times still land on the clip's own timeline (checked above).
    assert result["vad"] is True and result["speech_s"] < result["duration_s"]
    assert meta["progress"] == 1.0 and meta["detail"]["stage"] == "done"


def test_a_clip_without_audio_or_without_speech_says_so_instead_of_failing(worker, redis_url: str, speech_clips,
                                                                           backend_accepts) -> None:
    no_audio, _ = _transcribe(redis_url, "bus_pan.mp4")  # the shared test clip has no audio stream
    assert (no_audio["status"], no_audio["message"], no_audio["segments"]) == ("no_audio", "no audio track", [])
    silent, _ = _transcribe(redis_url, "silence.mp4")
    assert (silent["status"], silent["message"], silent["segments"]) == ("no_speech", "no speech found", [])
    assert silent["duration_s"] == pytest.approx(3.0, abs=0.2)
    for result in (no_audio, silent):
        backend_accepts("transcribe", result)
