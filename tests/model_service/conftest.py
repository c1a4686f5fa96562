"""Engine fixtures for the model-service tests: every container the tests use is made and removed here.

The image is the stack's own (fovea builds it once per content hash and reuses it while that tag exists). Containers
get unique names, publish on 127.0.0.1 only (random host ports), and are removed even when a test fails. Host <->
container traffic goes only over those published ports; the worker reaches Redis over a private Docker network by
container name, as it would in the stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS_YAML = ROOT / "configs" / "models.yaml"
DOCKER = shutil.which("docker") or "docker"
TEST_VIDEO = "bus_pan.mp4"


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check, timeout=timeout)


def engine_available() -> bool:
    try:
        return docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# The model-service tests run against either variant's image: the CPU one by default, the GPU one (CUDA
# wheels; no GPU here, so MODEL_DEVICE=auto runs it on the CPU) with FOVEA_TEST_MODEL_VARIANT=gpu, as
# .ci/run's GPU-image step does.
MODEL_VARIANT = os.environ.get("FOVEA_TEST_MODEL_VARIANT", "cpu")


def build_image() -> str:
    """The stack's own model-service image for this variant, built by fovea when its content-hash tag is
    missing (the same recipe, wheelhouse fetch and BuildKit path as `fovea up`), never a test-only build."""
    from fovea_ctl.images import build_missing, ensure_base
    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.settings.effective import Settings

    if MODEL_VARIANT not in ("cpu", "gpu"):
        pytest.fail(f"FOVEA_TEST_MODEL_VARIANT={MODEL_VARIANT!r}: want cpu or gpu")
    project = Project(Settings(root=ROOT, project="fovea-mstest", gpu=MODEL_VARIANT == "gpu"))
    unit = project.stack.units["model-service-gpu" if MODEL_VARIANT == "gpu" else "model-service"]
    ensure_base(project.settings, project.engine)
    image = project.resolver().resolve(unit)
    if image.missing:
        build_missing(project.settings, project.engine, [image])
    return image.ref


@pytest.fixture(scope="session")
def model_variant() -> str:
    return MODEL_VARIANT


@pytest.fixture(scope="session")
def model_image() -> str:
    if not engine_available():
        if os.environ.get("CI"):
            pytest.fail("no Docker engine answers")  # CI starts dockerd: a skip would hide a failure
        pytest.skip("no Docker engine")
    return build_image()


@pytest.fixture(scope="session")
def unique() -> str:
    return f"fovea-mstest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def video_root(model_image: str) -> Iterator[Path]:
    """A world-readable folder with the test video (made by the image's own ffmpeg from a photo ultralytics
    ships: a zoom and pan over bus.jpg, 3 s at 10 fps, so people move) and an escaping symlink."""
    root = Path(tempfile.mkdtemp(prefix="fovea-videos-"))
    root.chmod(0o777)  # the container user (uid 10001) writes the video, then reads everything
    script = (ROOT / "tests" / "model_service" / "make_test_video.sh").read_text()
    docker("run", "--rm", "--network", "none", "-v", f"{root}:/out", model_image, "sh", "-c", script,
           timeout=120)
    # Inside the container this resolves to /etc/passwd: a link inside the root that leaves it.
    (root / "escape.mp4").symlink_to("../../../etc/passwd")
    root.chmod(0o755)
    yield root
    # Files the container wrote belong to uid 10001: remove them from inside a container.
    docker("run", "--rm", "--network", "none", "-u", "0", "-v", f"{root}:/out", model_image,
           "sh", "-c", "rm -rf /out/* /out/.[!.]*", check=False)
    shutil.rmtree(root, ignore_errors=True)


QUALITY_CLIPS = ROOT / "tests" / "quality_clips.py"


def render_quality_clips(image: str, folder: Path, *names: str) -> None:
    """tests/quality_clips.py's labelled clips (all, or those named) as folder/<name>.mp4, rendered by the image
    (its numpy, OpenCV, ffmpeg and ultralytics' bus.jpg); the folder must be writable by the container's user."""
    docker("run", "--rm", "--network", "none", "-v", f"{folder}:/out",
           "-v", f"{QUALITY_CLIPS}:/opt/quality_clips.py:ro", image,
           "python3", "/opt/quality_clips.py", "render", "/out", *names, timeout=600)


def published_port(container: str, port: int) -> int:
    out = docker("port", container, f"{port}/tcp").stdout.strip().splitlines()
    for line in out:
        host, _, host_port = line.rpartition(":")
        if host in ("127.0.0.1", "0.0.0.0"):
            return int(host_port)
    raise RuntimeError(f"{container}: {port}/tcp is not published: {out}")


def wait_for_health(url: str, container: str, budget: float = 180) -> dict:
    deadline = time.monotonic() + budget
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response.json()
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        state = docker("inspect", "-f", "{{.State.Running}}", container, check=False).stdout.strip()
        if state != "true":
            raise RuntimeError(f"{container} exited:\n{docker('logs', container, check=False).stderr[-3000:]}")
        time.sleep(0.3)
    raise RuntimeError(f"{url} not healthy after {budget} s: {last}")


@pytest.fixture(scope="session")
def network(unique: str) -> Iterator[str]:
    name = f"{unique}-net"
    docker("network", "create", name)
    yield name
    docker("network", "rm", name, check=False)


def service_env(redis_host: str = "redis") -> list[str]:
    return ["-e", f"MODEL_REDIS_URL=redis://{redis_host}:6379/0"]


# The service token every route but /health wants (the stack mounts its model_service_token secret the same way).
SERVICE_TOKEN = uuid.uuid4().hex + uuid.uuid4().hex


def mount_token(folder: Path, token: str = SERVICE_TOKEN) -> list[str]:
    """docker run arguments that mount `token` as the service's secret file (written into `folder`)."""
    (folder / "model_service_token").write_text(token + "\n")
    (folder / "model_service_token").chmod(0o600)
    return ["-v", f"{folder / 'model_service_token'}:/run/secrets/model_service_token:ro",
            "-e", "MODEL_SERVICE_TOKEN_FILE=/run/secrets/model_service_token"]


@pytest.fixture(scope="session")
def service_token() -> str:
    """What a client of the test containers presents: `Authorization: Bearer <service_token>`."""
    return SERVICE_TOKEN


@pytest.fixture(scope="session")
def token_mount() -> Iterator[list[str]]:
    folder = Path(tempfile.mkdtemp(prefix="fovea-mstoken-"))
    yield mount_token(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def api(model_image: str, video_root: Path, unique: str, token_mount: list[str]) -> Iterator[str]:
    """The API container (with its service token: send `AUTH`); yields its base URL on 127.0.0.1."""
    name = f"{unique}-api"
    docker("run", "-d", "--name", name, "-p", "127.0.0.1::8000", *token_mount,
           "-v", f"{video_root}:/data/videos:ro", "-v", f"{MODELS_YAML}:/etc/fovea/models.yaml:ro", model_image)
    try:
        base = f"http://127.0.0.1:{published_port(name, 8000)}"
        wait_for_health(base + "/health", name)
        yield base
    finally:
        docker("rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="session")
def redis_url(network: str, unique: str) -> Iterator[str]:
    """A real Redis from the stack's image, on the test network as `redis`; yields the host-side URL."""
    tags = docker("images", "fovea/redis", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    if not tags:
        if os.environ.get("CI"):
            pytest.fail("no fovea/redis image: .ci/run should have built it")
        pytest.skip("no fovea/redis image (build the stack's images first)")
    name = f"{unique}-redis"
    docker("run", "-d", "--name", name, "--network", network, "--network-alias", "redis",
           "-p", "127.0.0.1::6379", tags[0], "redis-server", "--bind", "0.0.0.0", "--protected-mode", "no")
    try:
        url = f"redis://127.0.0.1:{published_port(name, 6379)}/0"
        from redis import Redis

        deadline = time.monotonic() + 30
        while True:
            try:
                if Redis.from_url(url, socket_timeout=1).ping():
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        docker("rm", "-f", "-v", name, check=False)


READY_LINE = "ready: worker "  # model_service.worker logs it right before work() (no model is loaded by then)


@dataclass
class WorkerContainer:
    """The queue worker's container (API and worker in one process); kill() and start() let a test
    interrupt it mid-job."""

    name: str
    runs_seen: int = 0

    def kill(self) -> None:
        docker("kill", "--signal", "KILL", self.name)

    def start(self) -> None:
        self.runs_seen = self.logs().count(READY_LINE)
        docker("start", self.name)

    def wait_ready(self, budget: float = 120) -> None:
        """`docker logs` keeps earlier runs' lines: ready when one more ready line than before start()."""
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            if self.logs().count(READY_LINE) > self.runs_seen:
                return
            if docker("inspect", "-f", "{{.State.Running}}", self.name, check=False).stdout.strip() != "true":
                break
            time.sleep(0.3)
        raise RuntimeError(f"worker {self.name} not ready:\n{self.logs()[-3000:]}")

    def check(self) -> subprocess.CompletedProcess[str]:
        """The exec readiness probe fovea can use for workers."""
        return docker("exec", self.name, "python3", "-m", "model_service.worker", "--check", check=False)

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{published_port(self.name, 8000)}{path}"


def start_worker(image: str, name: str, network: str, video_root: Path, token_mount: list[str],
                 env: dict[str, str] | None = None) -> WorkerContainer:
    """The stack's model-service: the API process with MODEL_WORKER=1, consuming the queues itself; `env` adds
    variables as the stack would set them (e.g. its llm_env)."""
    extra = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
    docker("run", "-d", "--name", name, "--network", network, *service_env(), "-e", "MODEL_WORKER=1", *extra, *token_mount,
           "-p", "127.0.0.1::8000",
           "-v", f"{video_root}:/data/videos:ro", "-v", f"{MODELS_YAML}:/etc/fovea/models.yaml:ro", image)
    return WorkerContainer(name)


@pytest.fixture(scope="session")
def worker(model_image: str, video_root: Path, redis_url: str, network: str, unique: str, token_mount: list[str]
           ) -> Iterator[WorkerContainer]:
    handle = start_worker(model_image, f"{unique}-worker", network, video_root, token_mount)
    try:
        handle.wait_ready()
        yield handle
    finally:
        docker("rm", "-f", "-v", handle.name, check=False)


@pytest.fixture()
def replacement_worker(model_image: str, video_root: Path, redis_url: str, network: str, unique: str,
                       token_mount: list[str]):
    """Starts another worker container (another hostname, so another worker name) on demand."""
    started: list[WorkerContainer] = []

    def start() -> WorkerContainer:
        handle = start_worker(model_image, f"{unique}-worker-{uuid.uuid4().hex[:6]}", network, video_root, token_mount)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        docker("rm", "-f", "-v", handle.name, check=False)


@pytest.fixture()
def scratch_dir(model_image: str) -> Iterator[Path]:
    """A folder the container user may write (e.g. a stand-in model cache), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="fovea-mscache-"))
    path.chmod(0o777)
    yield path
    docker("run", "--rm", "--network", "none", "-u", "0", "-v", f"{path}:/out", model_image,
           "sh", "-c", "rm -rf /out/* /out/.[!.]*", check=False)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def run_in_image(model_image: str, unique: str):
    """Run one command in a throwaway container of the image (removed on exit, no network by default)."""

    def run(*command: str, mounts: dict[Path, str] | None = None, network: str = "none",
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        volumes = [arg for host, target in (mounts or {}).items() for arg in ("-v", f"{host}:{target}")]
        return docker("run", "--rm", "--name", f"{unique}-run-{uuid.uuid4().hex[:6]}", "--network", network,
                      *volumes, model_image, *command, check=False, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def backend_accepts():
    """The backend's own result models (fovea_backend.jobs.RESULT_MODELS): what it will persist. Skipped
    checks, not failed tests, where the backend's dependencies are not installed."""
    import sys

    backend_dir = ROOT / "services" / "backend"
    if str(backend_dir) not in sys.path:
        sys.path.insert(0, str(backend_dir))
    try:
        from fovea_backend.jobs import RESULT_MODELS
    except ImportError:
        return lambda kind, result: None
    return lambda kind, result: RESULT_MODELS[kind].model_validate(result)
