"""Models, loaded once per process, each when first needed: the detector, the tracker's detector and the
sentence embedder (the catalog's models the same way). Nothing is loaded before the service is ready: a job
loads what it needs (its progress says "loading model"), and models.yaml's `preload` loads the rest in the
background a while after ready (see api.py / worker.py).

Weights come from the model cache (the `model-cache` volume) and fall back to the defaults baked into
the image (/opt/models), which are also copied into an empty cache on first start so `fovea models import`
and the defaults sit side by side. Nothing is downloaded: ultralytics and Hugging Face run offline.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_service.config import ModelEntry, ModelsConfig, Settings
from model_service.loaded_weights import LoadedWeights

log = logging.getLogger(__name__)

CORE_MODELS = ("detector", "tracker", "embedder")


class ModelUnavailable(RuntimeError):
    """A configured weights file is neither in the cache nor among the image defaults."""


def select_device(wanted: str) -> str:
    """'cuda' when asked for or (auto) when torch sees a GPU; a plain error when cuda is asked but absent."""
    import torch

    if wanted == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if wanted == "cuda":
        raise RuntimeError(
            "MODEL_DEVICE=cuda but torch sees no CUDA device "
            f"(torch {torch.__version__}, built with CUDA {torch.version.cuda or 'none'}): "
            "run the GPU image with a GPU device request, or set MODEL_DEVICE=auto to fall back to the CPU"
        )
    return "cpu"


def refuse_without_cuda() -> None:
    """MODEL_DEVICE=cuda where torch sees no GPU: one clear line on stderr and exit 2 at start (a traceback
    from the model loader would bury it)."""
    import sys

    try:
        select_device("cuda")
    except RuntimeError as exc:
        sys.stderr.write(f"model-service: {exc}\n")
        raise SystemExit(2) from None


def use_all_cores() -> None:
    """ultralytics pins torch to cpu_count-1 threads (1 on a 2-core box, half the speed): use them all."""
    import torch
    import ultralytics.utils.torch_utils as torch_utils

    cores = os.cpu_count() or 1
    torch_utils.NUM_THREADS = cores
    torch.set_num_threads(cores)


def seed_cache(cache_dir: Path, defaults_dir: Path) -> list[str]:
    """Copy image-default weights missing from the cache; atomic per file, safe for API and worker racing."""
    copied: list[str] = []
    if not defaults_dir.is_dir() or not os.access(cache_dir, os.W_OK):
        return copied
    for source in sorted(p for p in defaults_dir.rglob("*") if p.is_file()):
        relative = source.relative_to(defaults_dir)
        target = cache_dir / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        copied.append(str(relative))
    if copied:
        log.info("seeded model cache %s with %d default file(s)", cache_dir, len(copied))
    return copied


@dataclass(frozen=True)
class LoadedSpeechModel:
    entry: ModelEntry
    model: Any  # faster_whisper.WhisperModel
    weights: LoadedWeights


class ModelRegistry:
    """The process's models. Each model has a lock: ultralytics predictors are not thread-safe."""

    def __init__(self, settings: Settings, config: ModelsConfig) -> None:
        self.settings = settings
        self.config = config
        self.device = "cpu"
        self.detector: Any = None
        self.tracker: Any = None
        self.embedder: Any = None
        self.detector_lock = threading.Lock()
        self.tracker_lock = threading.Lock()
        self.embedder_lock = threading.Lock()
        self.load_seconds: dict[str, float] = {}
        self.error: str | None = None  # the background preload's failure, for /health
        self._setup_lock = threading.Lock()
        self._set_up = False
        self._load_locks = {name: threading.Lock() for name in CORE_MODELS}  # one loader per model
        self.catalog_models: dict[str, Any] = {}  # catalog detectors, loaded on first use
        self._catalog_lock = threading.Lock()

    def weights_path(self, relative: str) -> Path:
        for base in (self.settings.cache_dir, self.settings.defaults_dir):
            candidate = base / relative
            if candidate.exists():
                return candidate
        raise ModelUnavailable(
            f"weights {relative!r} are neither in the model cache {self.settings.cache_dir} nor in the image "
            f"defaults {self.settings.defaults_dir}; import them with `fovea models import FILE`"
        )

    def _setup(self) -> None:
        """Once, before the first model: seed the cache, pick the device (imports torch), use every core."""
        with self._setup_lock:
            if self._set_up:
                return
            try:
                seed_cache(self.settings.cache_dir, self.settings.defaults_dir)
            except OSError as exc:  # a read-only or full cache must not stop the service: defaults still work
                log.warning("could not seed the model cache: %s", exc)
            self.device = select_device(self.settings.device)
            use_all_cores()
            self._set_up = True

    def _load_one(self, name: str) -> Any:
        if name == "detector":
            return self._timed("detector", lambda: self._yolo(self.config.detector.weights))
        if name == "tracker":
            # A second instance: model.track() installs tracking callbacks on its predictor, so detection
            # and tracking each keep their own.
            weights = self.config.tracker.weights or self.config.detector.weights
            return self._timed("tracker", lambda: self._yolo(weights))
        return self._timed("embedder", self._sentence_model)

    def require(self, names: Iterable[str], loading: Callable[[], None] | None = None) -> None:
        """Load each named model once per process (whoever asks first loads it, the others wait for it);
        `loading` is called first when any of them is not in memory yet (a job's "loading model")."""
        wanted = [name for name in names if getattr(self, name) is None]
        if wanted and loading is not None:
            loading()
        for name in wanted:
            with self._load_locks[name]:
                if getattr(self, name) is None:
                    self._setup()
                    setattr(self, name, self._load_one(name))

    def ensure_loaded(self) -> None:
        """Every core model (tests, jobs run in-process elsewhere, the rq CLI)."""
        self.require(CORE_MODELS)

    def preload(self, after_s: float | None = None) -> threading.Thread:
        """Load models.yaml's `preload` models on a background thread, `after_s` seconds from now (default
        models.yaml's); a job that needs one sooner loads it itself. A failure is kept for /health."""
        delay = self.config.preload.after_s if after_s is None else after_s

        def run() -> None:
            time.sleep(delay)
            try:
                self.require(self.config.preload.models)
                log.info("preloaded %s on %s", ", ".join(self.config.preload.models), self.device)
            except Exception as exc:  # noqa: BLE001 - reported through /health; jobs retry the load themselves
                log.exception("preloading models failed")
                self.error = f"{type(exc).__name__}: {exc}"

        thread = threading.Thread(target=run, name="model-preload", daemon=True)
        thread.start()
        return thread

    def loaded(self) -> list[str]:
        return [name for name in CORE_MODELS if getattr(self, name) is not None]

    def catalog(self) -> list[Any]:  # -> list[ModelEntry]
        """models.yaml's catalog, then the models imported into the cache since (`fovea models import`: ONNX
        detectors, Whisper transcribers),
        read again on each call: an import shows up without a restart. models.yaml's names win."""
        from model_service.models_import import imported_entries

        known = {m.name for m in self.config.catalog}
        extra = []
        try:
            imported = imported_entries(self.settings.cache_dir)
        except (OSError, ValueError) as exc:
            log.warning("the imported models' catalog is unreadable: %s", exc)
            imported = []
        for raw in imported:
            try:
                entry = ModelEntry.model_validate(raw)
            except ValueError as exc:
                log.warning("imported catalog entry %s ignored: %s", raw.get("name") if isinstance(raw, dict) else "?",
                            exc)
                continue
            if entry.name not in known:
                extra.append(entry)
        return [*self.config.catalog, *extra]

    def catalog_entry(self, name: str | None, task: str) -> Any:  # -> ModelEntry
        """A model of the registry by name (None: the task's default), or ModelUnavailable naming the choices."""
        wanted = name or self.config.task_defaults().get(task)
        catalog = self.catalog()
        entry = next((m for m in catalog if m.name == wanted and m.task == task), None) if wanted else None
        if entry is None:
            choices = ", ".join(m.name for m in catalog if m.task == task) or "none"
            raise ModelUnavailable(f"no {task} model {wanted!r} in models.yaml's catalog or among the imported "
                                   f"(have: {choices})")
        return entry

    def catalog_summary(self) -> list[dict[str, Any]]:
        """The registry as the backend shows it (GET /api/models): what this worker can run, defaults marked."""
        defaults = set(self.config.task_defaults().values())
        return [{"name": m.name, "task": m.task, "runtime": m.runtime, "description": m.description,
                 "licence": m.licence, "device": m.device, "classes": list(m.classes.values()),
                 "default": m.name in defaults} for m in self.catalog()]

    def general_detector(self, name: str | None = None) -> Any:  # -> detectors.Detector
        """A catalog detector, loaded once on first use and kept (the job's progress says 'loading model')."""
        from model_service.detectors import OpenCvDnnDetector, UltralyticsDetector
        from model_service.onnx_detector import OnnxDetector

        entry = self.catalog_entry(name, "detection")
        with self._catalog_lock:
            cached = self.catalog_models.get(entry.name)
            # An imported model replaced since (`fovea models import --force`) loads again; the rest load once.
            if cached is not None and cached.entry == entry and not cached.replaced():
                return cached
            if entry.runtime == "opencv-dnn":
                weights, graph = self.weights_path(entry.weights), self.weights_path(entry.graph)
                model = self._timed(entry.name, lambda: OpenCvDnnDetector(entry, weights, graph))
            elif entry.runtime == "onnxruntime":
                weights = self.weights_path(entry.weights)
                model = self._timed(entry.name, lambda: OnnxDetector(entry, weights, self.device))
            else:
                if entry.weights == self.config.detector.weights:  # the same weights: share the one copy
                    self.require(("detector",))
                    yolo, lock = self.detector, self.detector_lock
                else:
                    self._setup()
                    yolo, lock = self._timed(entry.name, lambda: self._yolo(entry.weights)), threading.Lock()
                model = UltralyticsDetector(entry, yolo, self.device, lock)
            self.catalog_models[entry.name] = model
            return model

    def speech_model(self, name: str | None = None) -> tuple[Any, Any]:  # -> (WhisperModel, ModelEntry)
        """A catalog speech-to-text model (models.yaml's or one imported with `fovea models import --task
        transcriber`), loaded once on first use and kept (tiny.en int8: 71 MB resident loaded, 147 MB once a
        transcript has run, VAD included); an imported one replaced since (`--force`) loads again."""
        entry = self.catalog_entry(name, "transcript")
        with self._catalog_lock:
            cached = self.catalog_models.get(entry.name)
            if cached is None or cached.entry != entry or cached.weights.replaced():
                path = self.weights_path(entry.weights)
                self._setup()  # the device (CUDA or not) decides the compute type
                weights = LoadedWeights(path)  # before loading: a replacement during the load is seen next time
                model = self._timed(entry.name, lambda: self._whisper(path))
                self.catalog_models[entry.name] = cached = LoadedSpeechModel(entry, model, weights)
            return cached.model, entry

    def text_reader(self, name: str | None = None) -> Any:  # -> ocr.TextReader
        """The catalog's OCR model (RapidOCR's PP-OCRv4 on ONNX Runtime), loaded once on first use and kept."""
        from model_service.ocr import TextReader

        entry = self.catalog_entry(name, "ocr")
        with self._catalog_lock:
            if entry.name not in self.catalog_models:
                folder = self.weights_path(entry.weights)
                self.catalog_models[entry.name] = self._timed(entry.name, lambda: TextReader(entry, folder))
            return self.catalog_models[entry.name]

    def _whisper(self, path: Path) -> Any:
        from faster_whisper import WhisperModel

        config = self.config.transcript
        # On the GPU image ctranslate2 finds CUDA's libraries because torch (select_device) loaded them first.
        compute_type = config.compute_type_cuda if self.device == "cuda" else config.compute_type_cpu
        return WhisperModel(str(path), device=self.device, compute_type=compute_type,
                            cpu_threads=os.cpu_count() or 1, local_files_only=True)

    def _timed(self, name: str, loader: Any) -> Any:
        started = time.monotonic()
        model = loader()
        self.load_seconds[name] = round(time.monotonic() - started, 3)
        log.info("loaded %s on %s in %.2f s", name, self.device, self.load_seconds[name])
        return model

    def _yolo(self, relative: str) -> Any:
        import numpy as np
        from ultralytics import YOLO

        model = YOLO(str(self.weights_path(relative)), task="detect")
        # Warm up: the first predict fuses layers and builds the predictor; keep that off the first request.
        blank = np.zeros((self.config.detector.imgsz, self.config.detector.imgsz, 3), dtype=np.uint8)
        model.predict(blank, imgsz=self.config.detector.imgsz, device=self.device, half=self.half, verbose=False)
        return model

    def _sentence_model(self) -> Any:
        from sentence_transformers import SentenceTransformer

        path = self.weights_path(self.config.embedder.weights)
        model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        dims = model.get_sentence_embedding_dimension()
        if dims != self.config.embedder.dimensions:
            raise ModelUnavailable(f"embedder {path} makes {dims}-dim vectors, models.yaml says "
                                   f"{self.config.embedder.dimensions}")
        return model

    @property
    def half(self) -> bool:
        return self.device == "cuda" and self.config.detector.half

    def label(self, model: Any, class_id: int) -> str:
        raw = str(model.names[int(class_id)])
        return self.config.detector.label_map.get(raw, raw)

    def class_ids(self, model: Any, wanted: list[str] | None) -> list[int] | None:
        """Class ids for a filter given by display label ('person') or by the model's own name ('Normal')."""
        if not wanted:
            return None
        wanted_lower = {name.lower() for name in wanted}
        return [
            int(class_id)
            for class_id, raw in model.names.items()
            if str(raw).lower() in wanted_lower or self.label(model, class_id).lower() in wanted_lower
        ]

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.require(("embedder",))
        with self.embedder_lock:
            vectors = self.embedder.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in row] for row in vectors]

    def health(self) -> dict[str, Any]:
        models = {"models_loaded": self.loaded(),
                  "catalog_loaded": sorted(self.catalog_models)}  # registry models load on first use, then stay
        if not self._set_up:  # torch is not imported before the first model: ~2 s, never in a health answer
            return {"device": None, "torch_version": None, "torch_cuda": None, "cuda_device": None,
                    "cuda_memory": None, **models}
        import torch

        cuda_device = cuda_memory = None
        if self.device == "cuda":
            index = torch.cuda.current_device()
            cuda_device = torch.cuda.get_device_name(index)
            free, total = torch.cuda.mem_get_info(index)
            cuda_memory = {"total_mb": total // 2**20, "free_mb": free // 2**20,
                           "allocated_mb": torch.cuda.memory_allocated(index) // 2**20}
        return {
            "device": self.device,
            "torch_version": torch.__version__,
            "torch_cuda": torch.version.cuda,  # the CUDA this torch was built for (the GPU image's), or None
            "cuda_device": cuda_device,
            "cuda_memory": cuda_memory,
            **models,
        }


_registry: ModelRegistry | None = None
_registry_lock = threading.Lock()


def registry(settings: Settings | None = None) -> ModelRegistry:
    """The process-wide registry (created, not loaded: callers load what they need once)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            from model_service.config import settings as env_settings

            active = settings or env_settings()
            _registry = ModelRegistry(active, ModelsConfig.load(active.config_path))
        return _registry
