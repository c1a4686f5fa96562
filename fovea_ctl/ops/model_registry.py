"""`fovea models list`: the model registry (configs/models.yaml), validated with the model-service's own schema;
`fovea models import`: copy weights into the model-cache volume, checked by the model-service's own loader first
(model_service.models_import), in a throwaway container with no network."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from fovea_ctl.docker.engine import create_stack_volume
from fovea_ctl.docker.labels import helper_labels
from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.reconcile.project import Project

MODEL_USER = "10001"  # the model-service image's `fovea` user: the cache stays writable for the service
MODELS_YAML = Path("configs/models.yaml")
# The service's settings module imports only pydantic and yaml: loading it by path here validates models.yaml
# with the very schema the service starts with, instead of a copy that could drift from it.
SERVICE_CONFIG = Path("services/model_service/model_service/config.py")
SERVICE_DIR = Path("services/model_service")


def _service_config(root: Path) -> ModuleType:
    path = root / SERVICE_CONFIG
    spec = importlib.util.spec_from_file_location("fovea_model_service_config", path)
    if spec is None or spec.loader is None:
        raise FoveaError(f"{path}: cannot load the model-service's settings module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _pins(lock: Path) -> dict[str, str]:
    """package name (normalised) -> pinned version, from a `NAME==VERSION --hash=sha256:...` lock."""
    pins: dict[str, str] = {}
    for raw in lock.read_text().splitlines():
        spec = raw.split("#", 1)[0].split("--hash", 1)[0].strip()
        if "==" in spec and "--hash=sha256:" in raw:
            name, _, version = spec.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def load_registry(root: Path) -> Any:  # -> the service's ModelsConfig
    """configs/models.yaml, validated; every shipped model's package must be hash-pinned in its lock."""
    from pydantic import ValidationError

    path = root / MODELS_YAML
    if not path.is_file():
        raise UsageError(f"{path}: no model registry here")
    config_module = _service_config(root)
    try:
        config = config_module.ModelsConfig.load(path)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise UsageError(f"{path} is not a valid model registry:\n  " + "\n  ".join(problems)) from None
    except Exception as exc:  # noqa: BLE001 - YAML syntax errors and the like: say where
        raise UsageError(f"{path}: {exc}") from None
    unpinned = []
    for entry in config.catalog:
        if entry.source is None:
            continue
        pins = _pins(root / SERVICE_DIR / entry.source.lock)
        pinned = pins.get(entry.source.package.lower().replace("_", "-"))
        if pinned != entry.source.version:
            unpinned.append(f"{entry.name}: {entry.source.package}=={entry.source.version} is not pinned in "
                            f"{SERVICE_DIR / entry.source.lock} (it pins {pinned or 'no version'})")
    if unpinned:
        raise UsageError(f"{path}: weights without a hash pin:\n  " + "\n  ".join(unpinned))
    return config


def list_models(root: Path, task: str | None = None, project: Project | None = None) -> list[dict[str, Any]]:
    """The registry's models (one task's when given), each marked where it is the task's default; with a project,
    also the ONNX detectors and Whisper transcribers imported into its model cache (the service offers those too)."""
    config = load_registry(root)
    defaults = set(config.task_defaults().values())
    catalog = list(config.catalog)
    if project is not None:
        known = {entry.name for entry in catalog}
        entry_type = _service_config(root).ModelEntry
        catalog += [entry for entry in map(entry_type.model_validate, imported_entries(project))
                    if entry.name not in known]
    rows = []
    for entry in catalog:
        if task and entry.task != task:
            continue
        rows.append({
            "name": entry.name, "task": entry.task, "runtime": entry.runtime, "device": entry.device,
            "licence": entry.licence, "classes": len(entry.classes), "default": entry.name in defaults,
            "weights": entry.weights,
            "source": (f"{entry.source.package}=={entry.source.version} ({entry.source.lock})" if entry.source
                       else "imported" if entry.weights else "none needed"),
            "description": entry.description,
        })
    return rows


def model_service_unit(project: Project) -> str:
    for name in ("model-service", "model-service-gpu"):
        if name in project.stack.units:
            return name
    raise UsageError("this stack has no model-service")


def read_classes(value: str) -> list[str]:
    """--classes: a file of names (one a line, as ultralytics' and Darknet's .names/.txt files) or names, comma-
    separated. A blank name is refused, not skipped: it would shift every class after it (trailing blank lines of a
    file are no names)."""
    path = Path(value)
    names = [n.strip() for n in (path.read_text().rstrip().splitlines() if path.is_file() else value.split(","))]
    if not names or not all(names):
        raise UsageError(f"--classes {value!r}: want a file of class names (one a line) or names, comma-separated, "
                         "none blank")
    return names


def _model_service_image(project: Project) -> tuple[str, str]:
    """(image, the model cache's path in it) of this stack's model-service."""
    unit = project.stack.units[model_service_unit(project)]
    image = project.resolver().resolve(unit)
    if image.missing:
        raise FoveaError(f"image {image.ref} is not built yet", hint="run `fovea images build` (or `fovea up`) first")
    return image.ref, next(m for m in unit.mounts if m.volume == "model-cache").target


def _run_importer(project: Project, arguments: list[str], bind_mounts: list[tuple[str, str, bool]],
                  read_only: bool) -> tuple[int, str]:
    """model_service.models_import with the model cache mounted, in a throwaway container without network."""
    image, cache = _model_service_image(project)
    engine = project.engine
    volume = project.settings.volume_name("model-cache")
    if volume not in {v.name for v in engine.list_volumes(project.settings.project)}:
        create_stack_volume(engine, project.settings.project, volume, project.stack.volume("model-cache"))
    helper = engine.run_helper(
        f"{project.settings.project}-models-import-{uuid.uuid4().hex[:6]}", image, helper_labels(project.settings.project),
        volume_mounts=[(volume, cache, read_only)], bind_mounts=bind_mounts,
    )
    try:
        code, output = engine.exec(helper, ["env", f"MODEL_CACHE_DIR={cache}", "python3", "-m",
                                            "model_service.models_import", *arguments], user=MODEL_USER)
    finally:
        engine.remove_helper(helper)
    return code, output.decode(errors="replace").strip()


def imported_entries(project: Project) -> list[dict[str, Any]]:
    """The catalog entries of models imported into this project's model cache (none while it has no cache)."""
    volume = project.settings.volume_name("model-cache")
    if volume not in {v.name for v in project.engine.list_volumes(project.settings.project)}:
        return []
    code, text = _run_importer(project, ["--list"], [], read_only=True)
    if code != 0:
        raise FoveaError(f"reading the imported models failed ({code}): {text[-600:]}")
    entries: list[dict[str, Any]] = json.loads(text.splitlines()[-1])
    return entries


def import_model(project: Project, source: Path, task: str, name: str | None, force: bool,
                 classes: list[str] | None = None, licence: str | None = None) -> dict[str, Any]:
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    if source.suffix == ".onnx" and task == "detector" and not classes:
        raise UsageError(f"{source.name}: an ONNX detector needs its class names, in the model's order "
                         "(--classes names.txt, or --classes person,car,...)")
    if task == "transcriber" and classes:
        raise UsageError("--classes is for ONNX detectors; a transcriber has no classes")
    if classes or task == "transcriber":  # catalogued by name beside models.yaml's own models
        model_name = (name or source.name).lower().removesuffix(".onnx")
        if model_name in {entry.name for entry in load_registry(project.settings.root).catalog}:
            raise UsageError(f"configs/models.yaml's catalog already has a model {model_name!r}; pass --name")
    target = f"/import/{source.name}"
    arguments = [target, "--task", task]
    arguments += ["--name", name] if name else []
    arguments += ["--force"] if force else []
    arguments += ["--classes", json.dumps(classes)] if classes else []
    arguments += ["--licence", licence] if licence else []
    with project.writing():  # it writes a volume: under the project lock, never beside a restore's swap
        code, text = _run_importer(project, arguments, [(str(source.resolve()), target, True)], read_only=False)
    if code != 0:
        raise FoveaError(f"model import refused ({code}): {text[-600:]}")
    last = text.splitlines()[-1] if text else "{}"
    try:
        answer: dict[str, Any] = json.loads(last)
        return answer
    except json.JSONDecodeError:
        return {"output": text}
