"""A clip with text in frame for the OCR tests, drawn by the model-service image's own ffmpeg (drawtext) with the
DejaVu font the image carries (fonts-dejavu-core): nothing on the host but Docker is needed.

4 s at 10 fps, 640x360: a sign SIGN at (60, 80) that leaves at SIGN_GONE_S, and LINE drifting right 10 px/s the whole
time (so its boxes overlap from one sample to the next: one track).
"""

from __future__ import annotations

SIGN, LINE = "HARBOUR", "cero emisiones"
SIGN_X, SIGN_Y, SIGN_SIZE = 60, 80, 48
SIGN_GONE_S = 2.3
FPS, SECONDS, WIDTH, HEIGHT = 10, 4, 640, 360
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def text_clip_script(output: str, seconds: int = SECONDS) -> str:
    """The `sh -c` script that writes the clip to `output` inside the image (longer than 4 s for benchmarks: the
    line then drifts on, the sign is still gone from SIGN_GONE_S)."""
    draw = (f"drawtext=fontfile={FONT}:text='{SIGN}':fontsize={SIGN_SIZE}:fontcolor=white:x={SIGN_X}:y={SIGN_Y}"
            f":enable='lt(t,{SIGN_GONE_S})',"
            f"drawtext=fontfile={FONT}:text='{LINE}':fontsize=40:fontcolor=yellow:x=60+10*t:y=230")
    return (f'set -eu\nffmpeg -loglevel error -y -f lavfi -i color=c=0x203040:s={WIDTH}x{HEIGHT}:r={FPS} -t {seconds}'
            f' -vf "{draw}" -c:v libx264 -preset veryfast -pix_fmt yuv420p {output}\n')


def squash(text: str) -> str:
    """A string read, compared without spaces or case: OCR may drop the narrow space drawtext leaves between words."""
    return "".join(text.split()).upper()
