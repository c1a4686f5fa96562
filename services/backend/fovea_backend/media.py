"""What ffmpeg tells about a video file: its facts (ffprobe) and a thumbnail (ffmpeg), both run as
subprocesses with timeouts. Paths are passed as `file:<absolute path>` so no file name can be read as an
option or a protocol (`-i`, `http:`...).

The frame rate is kept as the rational ffprobe reports (30000/1001): a float 29.97 maps frame 1000 to a
time that maps back to frame 999 or 1001, and the annotation workspace steps frame by frame.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

log = logging.getLogger("fovea_backend.media")

PROBE_TIMEOUT_S = 60
# Counting packets demuxes the whole file (no decoding); only for containers without a frame count (mkv, webm).
COUNT_TIMEOUT_S = 300
THUMBNAIL_TIMEOUT_S = 60
THUMBNAIL_WIDTH = 320
# Sane bounds: anything outside is a broken file or sidecar, not a fact worth storing.
MAX_FPS = 10_000.0
MAX_SIDE = 100_000
MAX_RATIONAL_TERM = 1_000_000
# The NTSC family: sidecars (yt-dlp) round 30000/1001 to 29.97; map those back to the exact rational.
NTSC_BASES = (24, 30, 48, 60, 120, 240)

_warned_missing: set[str] = set()


class ToolMissing(RuntimeError):
    """ffprobe/ffmpeg is not installed where the backend runs."""


def _run(tool: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes] | None:
    """Run a tool; None when it timed out. Raises ToolMissing when the tool is absent."""
    try:
        return subprocess.run([tool, *args], capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        if tool not in _warned_missing:
            _warned_missing.add(tool)
            log.warning("%s not found on PATH; video facts and thumbnails need ffmpeg installed", tool)
        raise ToolMissing(f"{tool} is not installed where the backend runs") from None
    except subprocess.TimeoutExpired:
        return None


def rational(num: int, den: int) -> tuple[int, int] | None:
    """A frame rate as (num, den) in lowest terms, or None when it is not a plausible rate."""
    if num <= 0 or den <= 0:
        return None
    value = Fraction(num, den)
    if value > MAX_FPS:
        return None
    if value.numerator > MAX_RATIONAL_TERM or value.denominator > MAX_RATIONAL_TERM:
        value = value.limit_denominator(100_000)  # a variable-rate file's average; keep it storable
    return value.numerator, value.denominator


def parse_rate(text: Any) -> tuple[int, int] | None:
    """ffprobe's "30000/1001" (or "25") → (30000, 1001); "0/0" and junk → None."""
    if not isinstance(text, str):
        return None
    num, _, den = text.partition("/")
    try:
        return rational(int(num), int(den or "1"))
    except ValueError:
        return None


def rate_from_float(fps: float) -> tuple[int, int] | None:
    """A sidecar's float rate as a rational: the NTSC rates exactly, others as the simplest close fraction."""
    if not 0 < fps <= MAX_FPS:
        return None
    for base in NTSC_BASES:
        if abs(fps - base * 1000 / 1001) < 0.005:
            return base * 1000, 1001
    value = Fraction(fps).limit_denominator(1001)
    return rational(value.numerator, value.denominator)


def _positive_int(value: Any, limit: int) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= limit else None


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 1e9 else None


def probe(path: Path) -> dict[str, Any]:
    """The first video stream's facts, camelCase like the API: fpsNum, fpsDen, frameCount, duration, width,
    height, codec (only those ffprobe knows). {} for a file ffprobe cannot read. Raises ToolMissing."""
    target = f"file:{path.resolve()}"
    entries = "stream=codec_name,width,height,r_frame_rate,avg_frame_rate,nb_frames,duration:format=duration"
    done = _run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "json", target],
                PROBE_TIMEOUT_S)
    if done is None or done.returncode != 0:
        return {}
    try:
        report = json.loads(done.stdout)
        stream = (report.get("streams") or [{}])[0]
        container = report.get("format") or {}
    except (ValueError, AttributeError, IndexError):
        return {}
    if not isinstance(stream, dict) or not stream:
        return {}
    facts: dict[str, Any] = {}
    # avg_frame_rate is what the frames actually average to; r_frame_rate is the container's base rate.
    rate = parse_rate(stream.get("avg_frame_rate")) or parse_rate(stream.get("r_frame_rate"))
    if rate is not None:
        facts["fpsNum"], facts["fpsDen"] = rate
    duration = _positive_float(container.get("duration")) or _positive_float(stream.get("duration"))
    if duration is not None:
        facts["duration"] = duration
    for key in ("width", "height"):
        side = _positive_int(stream.get(key), MAX_SIDE)
        if side is not None:
            facts[key] = side
    if isinstance(stream.get("codec_name"), str) and stream["codec_name"]:
        facts["codec"] = stream["codec_name"][:100]
    frames = _positive_int(stream.get("nb_frames"), 2**62) or _count_frames(target)
    if frames is not None:
        facts["frameCount"] = frames
    return facts


def _count_frames(target: str) -> int | None:
    done = _run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                            "stream=nb_read_packets", "-of", "csv=p=0", target], COUNT_TIMEOUT_S)
    if done is None or done.returncode != 0:
        return None
    return _positive_int(done.stdout.decode(errors="replace").strip().split(",")[0], 2**62)


def make_thumbnail(video: Path, destination: Path, at_s: float) -> bool:
    """Write a JPEG of the frame at `at_s` (THUMBNAIL_WIDTH wide) atomically to `destination`; False when
    ffmpeg could not decode a frame. Concurrent callers each write their own temp file; the last rename wins."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".thumb-", suffix=".jpg", dir=destination.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        # Seeking past the end of a short or oddly timed file yields no frame; the first frame may still exist.
        for seek in dict.fromkeys((at_s, 0.0)):
            args = ["-v", "error", "-nostdin", "-y", "-ss", f"{seek:.3f}", "-i", f"file:{video.resolve()}",
                    "-frames:v", "1", "-vf", f"scale={THUMBNAIL_WIDTH}:-2", "-q:v", "4", "-f", "image2", "-c:v", "mjpeg",
                    f"file:{temp}"]
            done = _run("ffmpeg", args, THUMBNAIL_TIMEOUT_S)
            if done is not None and done.returncode == 0 and temp.stat().st_size > 0:
                os.replace(temp, destination)
                return True
        return False
    finally:
        temp.unlink(missing_ok=True)
