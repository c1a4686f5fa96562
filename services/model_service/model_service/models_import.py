"""Copy weights into the model cache: the container side of `fovea models import FILE`.

Run inside the model-service image with the cache volume and the file mounted, e.g.

    docker run --rm -v <project>_model-cache:/models -v /abs/path/best.pt:/import/best.pt:ro \\
        fovea/model-service:<tag> python3 -m model_service.models_import /import/best.pt --task detector

It checks that the file loads as what the task needs (a YOLO detection model, or a sentence-transformers
folder), copies it atomically to <cache>/<task>/<name>, and prints one JSON line: where it landed and the
models.yaml lines that select it. It never edits models.yaml (that file is the user's, in git).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

TASKS = ("detector", "embedder")


class ImportFailed(Exception):
    pass


def verify(source: Path, task: str) -> dict:
    if task == "detector":
        if not (source.is_file() and source.suffix == ".pt"):
            raise ImportFailed(f"{source}: a detector is one PyTorch weights file (.pt)")
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
                   check: bool = True) -> dict:
    """Copy `source` into `cache_dir/<task>/<name>`; returns what a caller prints."""
    if task not in TASKS:
        raise ImportFailed(f"task {task!r}: want one of {', '.join(TASKS)}")
    if not source.exists():
        raise ImportFailed(f"{source} does not exist (is it mounted into the container?)")
    info = verify(source, task) if check else {}
    relative = Path(task) / (name or source.name)
    target = cache_dir / relative
    if target.exists() and not force:
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
    return {"imported": str(relative), "cache_dir": str(cache_dir), **info,
            "models_yaml": f"{task}:\n  weights: {relative}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Copy weights into the model cache (MODEL_CACHE_DIR).")
    parser.add_argument("source", type=Path, help="a .pt file (detector) or a sentence-transformers folder")
    parser.add_argument("--task", choices=TASKS, default="detector")
    parser.add_argument("--name", help="file or folder name in the cache (default: the source's name)")
    parser.add_argument("--force", action="store_true", help="replace an existing file of that name")
    parser.add_argument("--no-check", action="store_true", help="copy without loading it first")
    args = parser.parse_args(argv)
    cache_dir = Path(os.environ.get("MODEL_CACHE_DIR", "/models"))
    try:
        result = import_weights(args.source, args.task, cache_dir, args.name, args.force, not args.no_check)
    except (ImportFailed, OSError) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
