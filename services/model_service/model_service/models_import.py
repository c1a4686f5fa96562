"""Copy weights into the model cache: the container side of `fovea models import FILE`.

Run inside the model-service image with the cache volume and the file mounted, e.g.

    docker run --rm -v <project>_model-cache:/models -v /abs/path/best.pt:/import/best.pt:ro \\
        fovea/model-service:<tag> python3 -m model_service.models_import /import/best.pt --task detector

It checks that the file loads as what the task needs (a YOLO detection model, an ONNX detector whose output matches
its class list, a faster-whisper (CTranslate2) Whisper folder, or a sentence-transformers folder), copies it
atomically to <cache>/<task>/<name>, and prints one JSON line: where it landed and the models.yaml lines that select
it (a catalogued model: how to choose it). It never edits models.yaml (that file is the user's, in git).

An ONNX detector (`--classes '["person", ...]'`) and a Whisper transcriber (`--task transcriber`) also get a catalog
entry, written last (so a half-done import is never offered) to <cache>/catalog/<name>.json: the service adds these
to models.yaml's catalog, so the model is offered in the Detect panel or the transcript panel and by `fovea models
list` (which runs `--list` here) without editing models.yaml.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

TASKS = ("detector", "embedder", "transcriber")
IMPORTED_CATALOG = "catalog"  # <cache>/catalog/<name>.json: one entry per imported ONNX detector or transcriber
# What faster-whisper reads from a converted model folder (`ct2-transformers-converter --copy_files tokenizer.json`):
# without tokenizer.json it would fetch the tokenizer from the Hugging Face hub, which an offline service cannot.
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")
WHISPER_VOCABULARIES = ("vocabulary.txt", "vocabulary.json")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")  # config.ModelEntry.name's


class ImportFailed(Exception):
    pass


def verify_onnx(source: Path, classes: list[str]) -> dict:
    """An ONNX detector: loads in ONNX Runtime, its output layout is one we read, with one class per name."""
    from model_service.onnx_detector import UnsupportedModel, open_session, read_layout

    if not classes:
        raise ImportFailed(f"{source.name}: an ONNX detector needs its class list (--classes), one name per class "
                           "in the model's order")
    if len(set(classes)) != len(classes) or not all(c.strip() for c in classes):
        raise ImportFailed("the class list has blank or repeated names")
    try:
        layout = read_layout(open_session(source), len(classes))
    except UnsupportedModel as exc:
        raise ImportFailed(f"{source.name}: {exc}") from None
    return {"classes": classes, "input_size": [layout.height, layout.width], "layout": "yolov8"}


def verify_whisper(source: Path) -> dict:
    """A faster-whisper transcriber: a CTranslate2 Whisper folder with its tokenizer, and CTranslate2 loads it."""
    if not source.is_dir():
        raise ImportFailed(f"{source.name}: a transcriber is a faster-whisper (CTranslate2) model folder "
                           f"({', '.join(WHISPER_FILES)}, {WHISPER_VOCABULARIES[0]}), not a file")
    missing = [name for name in WHISPER_FILES if not (source / name).is_file()]
    if not any((source / name).is_file() for name in WHISPER_VOCABULARIES):
        missing.append(" or ".join(WHISPER_VOCABULARIES))
    if missing:
        raise ImportFailed(f"{source.name}: not a faster-whisper model folder, it lacks {', '.join(missing)} (convert "
                           "with `ct2-transformers-converter --model openai/whisper-… --copy_files tokenizer.json`)")
    from faster_whisper import WhisperModel

    try:
        # int8 on one thread: the smallest load that still makes CTranslate2 read every weight of model.bin.
        model = WhisperModel(str(source), device="cpu", compute_type="int8", cpu_threads=1, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any load error means: not a usable Whisper model
        raise ImportFailed(f"{source.name} does not load in CTranslate2 as a Whisper model: {str(exc)[:300]}") from None
    return {"multilingual": bool(model.model.is_multilingual), "mel_bins": int(model.model.n_mels)}


def catalog_entry(name: str, weights: str, info: dict, licence: str) -> dict:
    """The registry entry (config.ModelEntry's fields) an imported ONNX detector or transcriber is offered under."""
    if "mel_bins" in info:
        languages = "multilingual" if info["multilingual"] else "English-only"
        return {"name": name, "task": "transcript", "runtime": "ctranslate2",
                "description": f"imported faster-whisper (CTranslate2) Whisper model, {languages}, "
                               f"{info['mel_bins']} mel bins",
                "weights": weights, "licence": licence, "device": "any"}
    height, width = info["input_size"]
    return {"name": name, "task": "detection", "runtime": "onnxruntime",
            "description": f"imported ONNX detector ({info['layout']} layout, {height}x{width} input, "
                           f"{len(info['classes'])} classes)",
            "weights": weights, "classes": dict(enumerate(info["classes"])), "input_size": max(height, width),
            "licence": licence, "device": "any"}


def imported_entries(cache_dir: Path) -> list[dict]:
    """The catalog entries of imported models, as written (the service validates them)."""
    folder = cache_dir / IMPORTED_CATALOG
    if not folder.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def verify(source: Path, task: str, classes: list[str] | None = None) -> dict:
    if task == "detector" and source.suffix == ".onnx":
        return verify_onnx(source, classes or [])
    if classes:
        raise ImportFailed("--classes is for ONNX detectors; a .pt checkpoint names its own classes")
    if task == "transcriber":
        return verify_whisper(source)
    if task == "detector":
        if not (source.is_file() and source.suffix == ".pt"):
            hint = " (a faster-whisper folder: --task transcriber)" if (source / "model.bin").is_file() else ""
            raise ImportFailed(f"{source}: a detector is one PyTorch weights file (.pt) or an ONNX model (.onnx)"
                               + hint)
        from ultralytics import YOLO

        try:
            model = YOLO(str(source), task="detect")
            classes = [str(n) for n in model.names.values()]  # other formats load lazily, here
        except Exception as exc:  # noqa: BLE001 - any load error means: not usable weights
            raise ImportFailed(f"{source.name} does not load as a YOLO model: {str(exc)[:300]}") from None
        if model.task != "detect":
            raise ImportFailed(f"{source.name} is a YOLO {model.task} model; the detector needs task 'detect'")
        return {"classes": classes}
    if not (source.is_dir() and (source / "modules.json").is_file()):
        raise ImportFailed(f"{source}: an embedder is a sentence-transformers folder (with modules.json)")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    return {"dimensions": model.get_sentence_embedding_dimension()}


def import_weights(source: Path, task: str, cache_dir: Path, name: str | None = None, force: bool = False,
                   check: bool = True, classes: list[str] | None = None, licence: str | None = None) -> dict:
    """Copy `source` into `cache_dir/<task>/<name>`; returns what a caller prints."""
    if task not in TASKS:
        raise ImportFailed(f"task {task!r}: want one of {', '.join(TASKS)}")
    if not source.exists():
        raise ImportFailed(f"{source} does not exist (is it mounted into the container?)")
    onnx = task == "detector" and source.suffix == ".onnx"
    catalogued = onnx or task == "transcriber"  # models chosen per run by name, from the catalog
    if catalogued and not check:
        raise ImportFailed("an ONNX detector or a transcriber is always checked: its catalog entry comes from it")
    filename, model_name = name or source.name, ""
    if onnx:
        filename = filename if filename.endswith(".onnx") else f"{filename}.onnx"
        model_name = filename[:-len(".onnx")].lower()
    elif catalogued:
        filename = model_name = filename.lower()
    if catalogued:
        if not NAME_PATTERN.match(model_name):
            raise ImportFailed(f"{model_name!r} cannot name a model: lower-case letters, digits, '.', '_', '-' "
                               "(pass --name)")
    info = verify(source, task, classes) if check else {}
    relative = Path(task) / filename
    target = cache_dir / relative
    entry_path = cache_dir / IMPORTED_CATALOG / f"{model_name}.json" if catalogued else None
    if (target.exists() or (entry_path and entry_path.exists())) and not force:
        raise ImportFailed(f"{relative} is already in the model cache; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Copy next to the target, then rename: a running service never sees half a file.
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=target.parent))
    try:
        staged = staging / target.name
        if source.is_dir():
            shutil.copytree(source, staged)
        else:
            shutil.copyfile(source, staged)
        if target.is_dir() and force:
            shutil.rmtree(target)
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if entry_path is not None:
        entry = catalog_entry(model_name, str(relative), info, licence or "supplied by the operator")
        _write_atomically(entry_path, json.dumps(entry, indent=1))
        # No models.yaml lines: its defaults must name models of its own catalog; this one is chosen per run.
        panel, route = ("transcript panel", "transcribe") if task == "transcriber" else ("Detect panel", "detect-types")
        return {"imported": str(relative), "cache_dir": str(cache_dir), **info, "catalog": entry,
                "use": f"the {panel}'s model '{model_name}' (POST /api/videos/{{id}}/{route} "
                       f"{{\"model\": \"{model_name}\"}}), offered within 30 s"}
    return {"imported": str(relative), "cache_dir": str(cache_dir), **info,
            "models_yaml": f"{task}:\n  weights: {relative}"}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text)
    os.replace(staged, path)


def parse_classes(value: str | None) -> list[str] | None:
    """--classes: a JSON list of names (what `fovea models import` sends) or comma-separated names."""
    if value is None:
        return None
    if value.lstrip().startswith("["):
        names = json.loads(value)
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise ImportFailed("--classes: a JSON list of strings")
        return [n.strip() for n in names]
    return [n.strip() for n in value.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Copy weights into the model cache (MODEL_CACHE_DIR).")
    parser.add_argument("source", type=Path, nargs="?",
                        help="a .pt or .onnx file (detector), a faster-whisper folder (transcriber) or a "
                             "sentence-transformers folder (embedder)")
    parser.add_argument("--task", choices=TASKS, default="detector")
    parser.add_argument("--name", help="file or folder name in the cache (default: the source's name)")
    parser.add_argument("--force", action="store_true", help="replace an existing file of that name")
    parser.add_argument("--no-check", action="store_true", help="copy without loading it first")
    parser.add_argument("--classes", help="ONNX detector: its class names, a JSON list or comma-separated")
    parser.add_argument("--licence", help="ONNX detector or transcriber: the weights' licence, shown in the catalog")
    parser.add_argument("--list", action="store_true", help="print the imported models' catalog entries")
    args = parser.parse_args(argv)
    cache_dir = Path(os.environ.get("MODEL_CACHE_DIR", "/models"))
    if args.list:
        print(json.dumps(imported_entries(cache_dir)))
        return 0
    if args.source is None:
        parser.error("the file or folder to import is required")
    try:
        result = import_weights(args.source, args.task, cache_dir, args.name, args.force, not args.no_check,
                                parse_classes(args.classes), args.licence)
    except (ImportFailed, OSError, ValueError) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
