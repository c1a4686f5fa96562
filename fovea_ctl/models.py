"""`fovea models import`: copy weights into the model-cache volume, checked by the model-service's own
loader first (model_service.models_import), in a throwaway container with no network."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fovea_ctl.engine import create_stack_volume, helper_labels
from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.project import Project

MODEL_USER = "10001"  # the model-service image's `fovea` user: the cache stays writable for the service


def model_service_unit(project: Project) -> str:
    for name in ("model-service", "model-service-gpu"):
        if name in project.stack.units:
            return name
    raise UsageError("this stack has no model-service")


def import_model(project: Project, source: Path, task: str, name: str | None, force: bool) -> dict[str, Any]:
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    unit = project.stack.units[model_service_unit(project)]
    image = project.resolver().resolve(unit)
    if image.missing:
        raise FoveaError(f"image {image.ref} is not built yet", hint="run `fovea images build` (or `fovea up`) first")
    cache = next(m for m in unit.mounts if m.volume == "model-cache")
    engine = project.engine
    volume = project.settings.volume_name("model-cache")
    if volume not in {v.name for v in engine.list_volumes(project.settings.project)}:
        create_stack_volume(engine, project.settings.project, volume, project.stack.volume("model-cache"))
    target = f"/import/{source.name}"
    helper = engine.run_helper(
        f"{project.settings.project}-models-import-{uuid.uuid4().hex[:6]}", image.ref,
        helper_labels(project.settings.project),
        volume_mounts=[(volume, cache.target, False)], bind_mounts=[(str(source.resolve()), target, True)],
    )
    try:
        command = ["python3", "-m", "model_service.models_import", target, "--task", task]
        command += ["--name", name] if name else []
        command += ["--force"] if force else []
        code, output = engine.exec(helper, ["env", f"MODEL_CACHE_DIR={cache.target}", *command], user=MODEL_USER)
    finally:
        engine.remove_container(helper)
    text = output.decode(errors="replace").strip()
    if code != 0:
        raise FoveaError(f"model import refused ({code}): {text[-600:]}")
    last = text.splitlines()[-1] if text else "{}"
    try:
        return json.loads(last)
    except json.JSONDecodeError:
        return {"output": text}
