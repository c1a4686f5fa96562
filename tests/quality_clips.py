"""Labelled clips for tracking and detection quality, with ground truth from the generator's own geometry.

People and the bus are cut from ultralytics' `bus.jpg` (boxes drawn by hand, SOURCE_BOXES) and moved over a
background, or the whole photo is panned; where each object is in each frame, and how much of it shows, follows
from the scene's numbers. Three scenes:

- `crossing`: two people walk towards each other at one height and cross mid-clip, one in front of the other;
- `occlusion`: a person walks behind a pillar (hidden for a few frames) while another walks slowly the other way;
- `street`: the whole photo, zoomed in while panning (the bus and four people, two cut by the frame's edge).

Geometry is pure Python, so the host writes and checks the label files (`bench/quality/`: MOT `gt.txt` per clip,
one COCO json of boxes). Rendering needs numpy, OpenCV, the photo and ffmpeg, so it runs in the model-service image:

    python3 tests/quality_clips.py labels bench/quality          # on the host: (re)write the label files
    python3 tests/quality_clips.py render /out [clip ...]         # in the image: the .mp4 files

Used by bench/quality.py and tests/model_service/test_multi_object_tracking.py.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

FPS = 10
# COCO category ids, so the labels read like COCO's and the SSD's class names map straight onto them.
CATEGORIES = {"person": 1, "bus": 6}
# bus.jpg (810x1080), x1, y1, x2, y2 in pixels, drawn by hand around each object (persons to the soles).
PHOTO_SIZE = (810, 1080)
SOURCE_BOXES: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "bus": ("bus", (16, 228, 805, 740)),
    "coat": ("person", (50, 398, 245, 905)),  # the man in the light coat, left
    "black": ("person", (222, 405, 345, 862)),  # the man in the black coat, middle
    "right": ("person", (668, 392, 810, 880)),  # the walker cut by the photo's right edge
    "edge": ("person", (0, 550, 65, 875)),  # the walker cut by the photo's left edge
}
PAVEMENT = (0, 905, 810, 1080)  # the photo's empty pavement, stretched into the background of the moving scenes
# An object this hidden (by another or by the frame's edge) is `iscrowd` in the COCO labels: evaluation neither
# wants a detection of it nor counts one against the detector.
MIN_VISIBLE = 0.5

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2


@dataclass(frozen=True)
class Sprite:
    """One object of the photo moving in a straight line at constant speed; later sprites are drawn in front."""

    source: str
    height: int
    start: tuple[float, float]  # top-left corner at the first frame
    end: tuple[float, float]  # ... and at the last

    def rect(self, frame: int, frames: int) -> Rect:
        _, (x1, y1, x2, y2) = SOURCE_BOXES[self.source]
        width = round((x2 - x1) * self.height / (y2 - y1))
        t = frame / (frames - 1)
        x = self.start[0] + (self.end[0] - self.start[0]) * t
        y = self.start[1] + (self.end[1] - self.start[1]) * t
        return (x, y, x + width, y + self.height)


@dataclass(frozen=True)
class Scene:
    name: str
    width: int
    height: int
    frames: int
    sprites: tuple[Sprite, ...] = ()
    pillars: tuple[Rect, ...] = ()  # grey occluders in front of every sprite
    # The whole photo, seen through a window moving from the first rect to the second (sprites unused).
    pan: tuple[Rect, Rect] | None = None

    def window(self, frame: int) -> Rect:
        assert self.pan is not None
        t = frame / (self.frames - 1)
        return tuple(a + (b - a) * t for a, b in zip(*self.pan, strict=True))  # type: ignore[return-value]


SCENES = (
    Scene("crossing", 640, 360, 80, sprites=(
        Sprite("coat", 200, (20, 110), (540, 120)),
        Sprite("black", 190, (570, 125), (30, 120)),
    )),
    Scene("occlusion", 640, 360, 80, sprites=(
        Sprite("coat", 190, (0, 120), (560, 110)),
        Sprite("black", 200, (560, 140), (420, 135)),
    ), pillars=((280, 0, 380, 360),)),
    Scene("street", 480, 640, 60, pan=((0, 0, 810, 1080), (120, 160, 120 + 600, 160 + 800))),
)


@dataclass
class Truth:
    """One object in one frame: its box clipped to the frame (pixels), and the share of that box in view."""

    frame: int  # 0-based
    object_id: int
    category: str
    box: Rect
    visible: float


@dataclass
class SceneTruth:
    scene: Scene
    objects: list[Truth] = field(default_factory=list)


def _clip(rect: Rect, width: float, height: float) -> Rect | None:
    x1, y1, x2, y2 = max(rect[0], 0), max(rect[1], 0), min(rect[2], width), min(rect[3], height)
    return (x1, y1, x2, y2) if x2 - x1 >= 1 and y2 - y1 >= 1 else None


def _area(rect: Rect) -> float:
    return max(0.0, rect[2] - rect[0]) * max(0.0, rect[3] - rect[1])


def _covered(rect: Rect, covers: list[Rect]) -> float:
    """Area of `rect` under the union of `covers` (exact: the plane cut at every edge into cells)."""
    inside = [c for c in ((max(rect[0], c[0]), max(rect[1], c[1]), min(rect[2], c[2]), min(rect[3], c[3]))
                          for c in covers) if c[2] > c[0] and c[3] > c[1]]
    xs = sorted({v for c in inside for v in (c[0], c[2])})
    ys = sorted({v for c in inside for v in (c[1], c[3])})
    total = 0.0
    for x1, x2 in zip(xs, xs[1:], strict=False):  # neighbours: one pair fewer
        for y1, y2 in zip(ys, ys[1:], strict=False):
            if any(c[0] <= x1 and x2 <= c[2] and c[1] <= y1 and y2 <= c[3] for c in inside):
                total += (x2 - x1) * (y2 - y1)
    return total


def ground_truth(scene: Scene) -> SceneTruth:
    truth = SceneTruth(scene)
    for frame in range(scene.frames):
        if scene.pan is not None:
            wx1, wy1, wx2, wy2 = scene.window(frame)
            scale = scene.width / (wx2 - wx1)
            placed = [(name, tuple(((v - o) * scale) for v, o in zip(box, (wx1, wy1, wx1, wy1), strict=True)))
                      for name, (_, box) in SOURCE_BOXES.items()]
            # In the photo the people stand in front of the bus, whose box is amodal (its ends show either side
            # of them), and among themselves their boxes barely touch: only the window's edges hide anything.
            covers_of: dict[str, list[Rect]] = {name: [] for name, _ in placed}
        else:
            placed = [(s.source, s.rect(frame, scene.frames)) for s in scene.sprites]
            covers_of = {name: [r for _, r in placed[i + 1:]] + list(scene.pillars)
                         for i, (name, _) in enumerate(placed)}
        for object_id, (name, rect) in enumerate(placed, start=1):
            clipped = _clip(rect, scene.width, scene.height)  # type: ignore[arg-type]
            if clipped is None:
                continue
            visible = (_area(clipped) - _covered(clipped, covers_of[name])) / _area(rect)  # type: ignore[arg-type]
            truth.objects.append(Truth(frame, object_id, SOURCE_BOXES[name][0], clipped, round(visible, 3)))
    return truth


def mot_lines(truth: SceneTruth) -> list[str]:
    """MOTChallenge gt.txt: frame (1-based), id, left, top, width, height, consider (1), class (COCO id), visibility."""
    return [f"{t.frame + 1},{t.object_id},{t.box[0]:.2f},{t.box[1]:.2f},{t.box[2] - t.box[0]:.2f},"
            f"{t.box[3] - t.box[1]:.2f},1,{CATEGORIES[t.category]},{t.visible:.3f}" for t in truth.objects]


def coco_labels(truths: list[SceneTruth]) -> dict:
    """Every frame of every clip as a COCO image (id = clip index * 1000 + frame), boxes as annotations."""
    images, annotations = [], []
    for index, truth in enumerate(truths):
        scene = truth.scene
        for frame in range(scene.frames):
            images.append({"id": index * 1000 + frame, "file_name": f"{scene.name}.mp4#{frame}",
                           "width": scene.width, "height": scene.height})
        for t in truth.objects:
            x1, y1, x2, y2 = t.box
            annotations.append({"id": len(annotations) + 1, "image_id": index * 1000 + t.frame,
                                "category_id": CATEGORIES[t.category],
                                "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                                "area": round((x2 - x1) * (y2 - y1), 2), "iscrowd": int(t.visible < MIN_VISIBLE),
                                "visible": t.visible, "track": t.object_id})
    return {"info": {"description": "FOVEA quality clips (tests/quality_clips.py)", "fps": FPS},
            "images": images, "annotations": annotations,
            "categories": [{"id": i, "name": n} for n, i in CATEGORIES.items()]}


def label_files() -> dict[str, str]:
    """Path under bench/quality/ -> content, exactly as committed."""
    truths = [ground_truth(scene) for scene in SCENES]
    files = {f"{t.scene.name}/gt/gt.txt": "\n".join(mot_lines(t)) + "\n" for t in truths}
    files["coco.json"] = json.dumps(coco_labels(truths), indent=1) + "\n"
    return files


# --- rendering (in the model-service image: numpy, OpenCV, ffmpeg and ultralytics' photo) ----------------
def render(out: Path, names: list[str]) -> None:
    """Each scene (or those named) as out/<scene>.mp4, H.264 at FPS, encoded by the image's ffmpeg."""
    import os
    import subprocess

    import ultralytics

    photo_path = Path(os.path.dirname(ultralytics.__file__)) / "assets" / "bus.jpg"
    for scene in SCENES:
        if names and scene.name not in names:
            continue
        encoder = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
             f"{scene.width}x{scene.height}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
             "-pix_fmt", "yuv420p", str(out / f"{scene.name}.mp4")], stdin=subprocess.PIPE)
        assert encoder.stdin is not None
        for image in scene_frames(scene, photo_path):
            encoder.stdin.write(image.tobytes())
        encoder.stdin.close()
        if encoder.wait() != 0:
            raise SystemExit(f"ffmpeg failed on {scene.name}")


def scene_frames(scene: Scene, photo_path: Path):  # noqa: ANN201 - yields BGR numpy frames (numpy: image only)
    import cv2
    import numpy as np

    photo = cv2.imread(str(photo_path))
    px1, py1, px2, py2 = PAVEMENT
    ground = cv2.resize(photo[py1:py2, px1:px2], (scene.width, scene.height), interpolation=cv2.INTER_AREA)
    for frame in range(scene.frames):
        if scene.pan is not None:
            wx1, wy1, wx2, _ = scene.window(frame)
            # Crop and scale as one affine map with sub-pixel offsets: exactly the labels' arithmetic.
            scale = scene.width / (wx2 - wx1)
            matrix = np.float32([[scale, 0, -wx1 * scale], [0, scale, -wy1 * scale]])
            image = cv2.warpAffine(photo, matrix, (scene.width, scene.height), flags=cv2.INTER_LINEAR)
        else:
            image = ground.copy()
            for sprite in scene.sprites:
                _paste(image, photo, sprite, sprite.rect(frame, scene.frames), cv2, np)
            for x1, y1, x2, y2 in scene.pillars:
                image[int(y1):int(y2), int(x1):int(x2)] = (118, 124, 128)
        yield np.ascontiguousarray(image)


def _paste(image, photo, sprite: Sprite, rect: Rect, cv2, np) -> None:  # noqa: ANN001 - numpy/cv2 in the image only
    """Draw the sprite's source box at `rect`, sub-pixel placed (an affine warp of the photo onto the frame)."""
    _, (sx1, sy1, sx2, sy2) = SOURCE_BOXES[sprite.source]
    scale_x = (rect[2] - rect[0]) / (sx2 - sx1)
    scale_y = (rect[3] - rect[1]) / (sy2 - sy1)
    patch = photo[sy1:sy2, sx1:sx2]
    matrix = np.float32([[scale_x, 0, rect[0]], [0, scale_y, rect[1]]])
    height, width = image.shape[:2]
    warped = cv2.warpAffine(patch, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full(patch.shape[:2], 255, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST)
    image[mask > 0] = warped[mask > 0]


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "labels":
        root = Path(argv[1])
        for name, content in label_files().items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(content)
    elif len(argv) >= 2 and argv[0] == "render":
        render(Path(argv[1]), argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
