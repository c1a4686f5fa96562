"""`fovea models list|import`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, echo_json, project

models_app = typer.Typer(help="The model registry (configs/models.yaml) and weights in the model-cache volume.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_(
    task: Annotated[Optional[str], typer.Option("--task", help="detection | box-tracking | embedding | transcript | ocr")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    imported: Annotated[bool, typer.Option(
        "--imported", help="Also the ONNX detectors and Whisper transcribers imported into this project's model cache "
                           "(needs the engine)")] = False,
) -> None:
    """The models each task can use: runtime, weights source (hash-pinned package), classes, licence, device."""
    from fovea_ctl.ops.model_registry import list_models

    active = project()
    # Without --imported it reads configs/models.yaml only: no engine needed (CI validates the registry that way).
    rows = list_models(active.settings.root, task, active if imported else None)
    if as_json:
        echo_json(rows)
        return
    header = ("NAME", "TASK", "RUNTIME", "DEVICE", "CLASSES", "LICENCE", "SOURCE")
    table = [header] + [(r["name"] + (" *" if r["default"] else ""), r["task"], r["runtime"], r["device"],
                         str(r["classes"] or "-"), r["licence"], r["source"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    typer.echo("* the task's default (configs/models.yaml: general_detection.model, box_tracking.model, transcript.model,"
               " ocr.model)")
    if not imported:
        typer.echo("models imported with `fovea models import` (x.onnx, a Whisper folder): `fovea models list --imported`")


@models_app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(
        help="A .pt or .onnx file (detector), a faster-whisper (CTranslate2) Whisper folder (transcriber) or a "
             "sentence-transformers folder (embedder)")],
    task: Annotated[str, typer.Option("--task", help="detector | transcriber | embedder")] = "detector",
    name: Annotated[Optional[str], typer.Option("--name", help="Name in the cache (default: the file's)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a file of that name")] = False,
    classes: Annotated[Optional[str], typer.Option(
        "--classes", help="ONNX detector: a file of class names (one a line) or names, comma-separated")] = None,
    licence: Annotated[Optional[str], typer.Option(
        "--licence", help="ONNX detector or transcriber: its weights' licence (shown by `models list --imported`)")] = None,
) -> None:
    """Load-check weights, then copy them into the model-cache volume. An ONNX detector (YOLOv8/YOLO11 export)
    with its class list, or a faster-whisper Whisper folder (model.bin, config.json, tokenizer.json, vocabulary;
    CTranslate2 must load it) joins the catalog: the Detect panel or the transcript panel offers it (within 30 s)
    and `fovea models list --imported` shows it; other weights: point configs/models.yaml at them."""
    from fovea_ctl.ops.model_registry import import_model, read_classes

    names = read_classes(classes) if classes is not None else None
    echo_json(import_model(project(), source, task, name, force, names, licence))
