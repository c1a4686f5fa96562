"""A faster-whisper model imported as a transcriber (`models_import --task transcriber`) in the model-service's
registry: catalogued beside models.yaml's models, loaded once, and loaded again when a forced re-import replaces it;
detectors shipped with models.yaml say they were never replaced (the Detector protocol's `replaced()`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.model_service.conftest import MODELS_YAML

pytestmark = pytest.mark.engine

SHIPPED_WHISPER = "/opt/models/speech/whisper-tiny-en"

# In the image, with the scratch folder as the model cache: import, load, load again, force a re-import, load.
SCRIPT = f"""
import json, subprocess, sys
from model_service.models import registry

def run_import(*extra):
    done = subprocess.run([sys.executable, "-m", "model_service.models_import", "{SHIPPED_WHISPER}", "--task",
                           "transcriber", "--name", "whisper-mine", "--licence", "MIT", *extra], capture_output=True,
                          text=True)
    return done.returncode, (done.stdout or done.stderr).strip().splitlines()[-1]

first = run_import()
r = registry()
entry = next(e for e in r.catalog() if e.name == "whisper-mine")
loaded, _ = r.speech_model("whisper-mine")
kept, _ = r.speech_model("whisper-mine")
again = run_import()
forced = run_import("--force")
reloaded, _ = r.speech_model("whisper-mine")
print(json.dumps({{"first": first, "again": again, "forced": forced[0],
                  "entry": [entry.task, entry.runtime, entry.weights, entry.licence],
                  "kept": kept is loaded, "reloaded": reloaded is not loaded,
                  "detector_replaced": r.general_detector().replaced()}}))
"""


def test_an_imported_transcriber_is_catalogued_kept_loaded_and_reloaded_when_replaced(
        run_in_image, scratch_dir: Path) -> None:
    done = run_in_image("python3", "-c", SCRIPT, mounts={scratch_dir: "/models", MODELS_YAML: "/etc/fovea/models.yaml:ro"},
                        timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    code, answer = outcome["first"]
    assert code == 0, answer
    assert json.loads(answer)["imported"] == "transcriber/whisper-mine"
    assert outcome["entry"] == ["transcript", "ctranslate2", "transcriber/whisper-mine", "MIT"]
    assert outcome["again"][0] == 1 and "--force" in outcome["again"][1]
    assert outcome["forced"] == 0
    assert outcome["kept"], "a second use loads nothing"
    assert outcome["reloaded"], "a model replaced by a forced import is loaded again"
    assert outcome["detector_replaced"] is False
    assert (scratch_dir / "transcriber" / "whisper-mine" / "model.bin").stat().st_size > 10_000_000
    assert (scratch_dir / "catalog" / "whisper-mine.json").is_file()


def test_a_file_or_an_incomplete_folder_is_refused_as_a_transcriber_and_nothing_is_copied(
        run_in_image, scratch_dir: Path) -> None:
    done = run_in_image("sh", "-c", f"""
        python3 -m model_service.models_import {SHIPPED_WHISPER}/model.bin --task transcriber; echo "code $?"
        mkdir /tmp/half && cp {SHIPPED_WHISPER}/model.bin {SHIPPED_WHISPER}/config.json /tmp/half
        python3 -m model_service.models_import /tmp/half --task transcriber; echo "code $?"
    """, mounts={scratch_dir: "/models"})
    lines = done.stdout.strip().splitlines() + done.stderr.strip().splitlines()
    assert [line for line in done.stdout.splitlines() if line.startswith("code")] == ["code 1", "code 1"], lines
    errors = [json.loads(line)["error"] for line in done.stderr.splitlines() if line.startswith("{")]
    assert "a transcriber is a faster-whisper (CTranslate2) model folder" in errors[0]
    assert "lacks tokenizer.json, vocabulary.txt or vocabulary.json" in errors[1]
    assert not (scratch_dir / "transcriber").exists() and not (scratch_dir / "catalog").exists()
