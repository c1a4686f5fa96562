"""GPU variant selection. No GPU exists on these machines, so the engine's `docker info` is the one
thing mocked here (a stand-in object answering `info()`); everything else is the real stack."""

from __future__ import annotations

from typing import Any

from fovea_ctl.reconcile.project import Project
from fovea_ctl.settings.effective import Settings
from tests.conftest import ROOT, RecordingReporter


class InfoOnlyEngine:
    """Mock: an engine whose `docker info` reports the given runtimes (a GPU host cannot exist here)."""

    def __init__(self, runtimes: list[str]) -> None:
        self.runtimes = runtimes

    def info(self) -> dict[str, Any]:
        return {"Runtimes": {name: {} for name in self.runtimes}}


def project_with(runtimes: list[str]) -> Project:
    project = Project(Settings(root=ROOT, project="gpucheck", gpu=True))
    project.__dict__["engine"] = InfoOnlyEngine(runtimes)
    return project


def test_gpu_request_without_nvidia_runtime_falls_back_to_cpu_and_says_why() -> None:
    project = project_with(["runc", "io.containerd.runc.v2"])
    assert "model-service-gpu" in project.stack.units
    reporter = RecordingReporter()
    project.gpu_preflight(reporter)
    assert "model-service" in project.stack.units and "model-service-gpu" not in project.stack.units
    (_, unit, state, detail), = reporter.events
    assert state == "fallback" and "model-service-gpu" in unit
    assert "no NVIDIA runtime" in detail and "runc" in detail


def test_gpu_variant_kept_when_the_engine_has_the_nvidia_runtime() -> None:
    project = project_with(["runc", "nvidia"])
    reporter = RecordingReporter()
    project.gpu_preflight(reporter)
    units = project.stack.units
    assert "model-service-gpu" in units and "model-service" not in units
    assert units["model-service-gpu"].gpu is not None and not reporter.events
