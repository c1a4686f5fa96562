"""`fovea models import`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, echo_json, project

models_app = typer.Typer(help="Model weights in the model-cache volume.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A .pt file (detector) or a sentence-transformers folder")],
    task: Annotated[str, typer.Option("--task", help="detector | tracker | embedder")] = "detector",
    name: Annotated[Optional[str], typer.Option("--name", help="Name in the cache (default: the file's)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a file of that name")] = False,
) -> None:
    """Load-check weights, then copy them into the model-cache volume (point configs/models.yaml at them)."""
    from fovea_ctl.models import import_model

    echo_json(import_model(project(), source, task, name, force))
