"""Fault tests for `fovea up`: the engine dies mid-run, a host port is taken, SIGTERM arrives.

Each is bounded (subprocess timeouts) and cleans up after itself. The engine-death test never touches the
shared engine: it starts a private dockerd of its own (own socket, data root, exec root, containerd and
network namespace, no iptables), loads the one image it needs, and kills that.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fovea_ctl.model import ROOT_ENTRYPOINT_CAPABILITIES, BuildRecipe, ImageSpec, Port, RedisProbe, Service, Stack
from fovea_ctl.settings.effective import Settings
from tests.conftest import FOVEA, ROOT, ProjectFactory, run_fovea, write_stack_root

REDIS = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="stack/images/redis"))


def redis_service(name: str, **kwargs: object) -> Service:
    return Service(name=name, image=REDIS, command=["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"],
                   capabilities=ROOT_ENTRYPOINT_CAPABILITIES, **kwargs)  # type: ignore[arg-type]


# -- host port already taken -----------------------------------------------------------------------------

def test_a_taken_host_port_names_service_and_port_and_changes_nothing(make_project: ProjectFactory) -> None:
    def stack(settings: Settings) -> Stack:
        return Stack(name=settings.project, port_base=settings.port_base, services=[
            redis_service("queue", ports=[Port(container=6379)], probe=RedisProbe(budget_s=30)),
        ])

    project = make_project(stack)
    port = project.settings.port_base + 6379
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        from fovea_ctl.errors import PortTaken
        from tests.conftest import RecordingReporter

        with pytest.raises(PortTaken) as caught:
            project.up(RecordingReporter())
        assert f"service queue: host port 127.0.0.1:{port}" in str(caught.value)
        assert caught.value.exit_code == 2
        observed = project.observe()  # nothing half-made: no network, volume or container
        assert observed.network is None and not observed.containers and not observed.volumes
    finally:
        squatter.close()
    plan, result = project.up(RecordingReporter())  # the port is free again: up converges
    assert result.ok, [f.describe() for f in result.failures]
    assert project.plan().text() == "nothing to do"


def test_a_taken_host_port_from_the_cli_is_exit_2_and_one_line(make_project: ProjectFactory, tmp_path: Path) -> None:
    source = '''
from fovea_ctl.model import ROOT_ENTRYPOINT_CAPABILITIES as CAPS, BuildRecipe, ImageSpec, Port, RedisProbe, Service, Stack
def build_stack(settings):
    image = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="@REPO@/stack/images/redis"))
    return Stack(name=settings.project, port_base=settings.port_base, services=[
        Service(name="queue", image=image, command=["redis-server", "--protected-mode", "no"], capabilities=CAPS,
                ports=[Port(container=6379)], probe=RedisProbe()),
    ])
'''
    project = make_project(root=write_stack_root(tmp_path, source))
    port = project.settings.port_base + 6379
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_fovea(["up"], make_project.env(project))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"service queue: host port 127.0.0.1:{port} already taken" in lines[0], result.stderr


# -- SIGTERM during up ---------------------------------------------------------------------------------

# A probe that passes once its container has run for N seconds (/proc/1 is as old as the container): up is
# surely still waiting when a test interrupts it, and a later up converges without any help.
UP_FOR = "test $(( $(date +%s) - $(stat -c %Y /proc/1) )) -ge {seconds}"

SLOW_READY_STACK = '''
from fovea_ctl.model import ROOT_ENTRYPOINT_CAPABILITIES as CAPS, BuildRecipe, ExecProbe, ImageSpec, Service, Stack
def build_stack(settings):
    image = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="@REPO@/stack/images/redis"))
    def redis(name, seconds, **kw):
        probe = ExecProbe(command=["sh", "-c", @UP_FOR@.format(seconds=seconds)], budget_s=120)
        return Service(name=name, image=image, command=["redis-server", "--protected-mode", "no"], probe=probe,
                       capabilities=CAPS, **kw)
    return Stack(name=settings.project, port_base=settings.port_base, services=[
        redis("first", 0),
        redis("gate", 10, depends_on={"first": "ready"}),
        redis("last", 0, depends_on={"gate": "ready"}),
    ])
'''.replace("@UP_FOR@", repr(UP_FOR))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_up_exits_130_then_up_converges(make_project: ProjectFactory, tmp_path: Path,
                                                        signum: int) -> None:
    project = make_project(root=write_stack_root(tmp_path, SLOW_READY_STACK))
    env = make_project.env(project)
    process = subprocess.Popen([*FOVEA, "up", "--json"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # while `gate` is being probed
        event = json.loads(line)
        if event["unit"] == "gate" and event["state"] == "starting":
            break
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("fovea: interrupted"), stderr
    for raw in project.engine.api.containers(all=True, filters={"name": project.settings.project}):
        assert raw["Labels"].get("io.fovea.project") == project.settings.project  # nothing unlabelled
    again = run_fovea(["up"], env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert run_fovea(["plan"], env).stdout.strip() == "nothing to do"


# -- the engine dies in the middle of up ------------------------------------------------------------------

@dataclass
class PrivateEngine:
    """A dockerd of this test's own; start() after stop() reuses its data (its containers, images).

    It runs in a network namespace of its own (`netns`): a dockerd restarted after a crash deletes and
    recreates `docker0`, and on the host that is the shared engine's default bridge. Its socket is a
    file, so fovea on the host reaches it all the same.
    """

    directory: Path
    netns: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.directory}/docker.sock"

    def start(self) -> None:
        command = ["nsenter", f"--net=/run/netns/{self.netns}", "dockerd", "--host", self.host, "--data-root", str(self.directory / "data"),
                   "--exec-root", str(self.directory / "exec"), "--pidfile", str(self.directory / "docker.pid"),
                   "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--cgroup-parent", "fovea-fault"]
        log = (self.directory / "dockerd.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("info", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private dockerd did not start:\n{(self.directory / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL: the daemon dies the way a crash or an OOM kill ends it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        # Its managed containerd dies with it (or is made to): a restart then starts a fresh one, as
        # after a crash of the whole engine. Containers keep running under their shims.
        containerd = _containerd_pid(self.directory)
        deadline = time.monotonic() + 10
        while containerd is not None and _alive(containerd):
            if time.monotonic() > deadline:
                os.kill(containerd, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.2)
        # A dead containerd may linger as a zombie nobody reaps here; its pid file would make the next
        # dockerd wait for it forever ("containerd is still running").
        (self.directory / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def docker(self, *args: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, check=check,
                              timeout=300, **kwargs)  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _containerd_pid(directory: Path) -> int | None:
    pid_file = directory / "exec" / "containerd" / "containerd.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


@pytest.fixture
def private_engine(engine_ready: None) -> Iterator[PrivateEngine]:
    if shutil.which("dockerd") is None or shutil.which("nsenter") is None or os.getuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the engine-death test needs dockerd, nsenter and root (CI has them)")
        pytest.skip("needs dockerd and root for a private engine")
    directory = Path(tempfile.mkdtemp(prefix="fovea-fault-", dir="/tmp"))
    netns = directory.name  # fovea-fault-XXXXXXXX
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
    engine = PrivateEngine(directory, netns)
    host_bridge_before = _link_exists("docker0")
    try:
        engine.start()
        yield engine
    finally:
        if engine.process is None or engine.process.poll() is not None:
            try:
                engine.start()  # restart a killed daemon so its containers are removed properly
            except RuntimeError as exc:
                print(f"private dockerd did not restart for cleanup: {exc}")
        ids = engine.docker("ps", "-aq", check=False).stdout.decode().split()
        if ids:
            engine.docker("rm", "-f", "-v", *ids, check=False)
        engine.docker("network", "prune", "-f", check=False)
        engine.docker("volume", "prune", "-f", check=False)
        engine.stop()
        leftover = _containerd_pid(directory)  # a managed containerd outlives a SIGKILLed daemon
        if leftover is not None:
            try:
                os.kill(leftover, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for line in Path("/proc/mounts").read_text().splitlines():
            mount_point = line.split()[1]
            if mount_point.startswith(str(directory)):
                subprocess.run(["umount", "-l", mount_point], capture_output=True)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
    # The shared engine's default bridge is untouched.
    assert _link_exists("docker0") == host_bridge_before, "the private dockerd changed the host's docker0"


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def test_engine_stopped_in_the_middle_of_up_is_exit_3_and_the_next_up_converges(
        private_engine: PrivateEngine, make_project: ProjectFactory, tmp_path: Path) -> None:
    from fovea_ctl.reconcile.project import Project

    root = write_stack_root(tmp_path, SLOW_READY_STACK)
    # The image, and the base it was built on (same ids: the content-hash tag then matches there too).
    shared = Project(make_project.settings(root=root))
    image = shared.resolver().resolve(shared.stack.units["first"]).ref
    saved = subprocess.Popen(["docker", "save", shared.settings.base_image, image], stdout=subprocess.PIPE)
    private_engine.docker("load", stdin=saved.stdout)
    assert saved.wait(timeout=300) == 0
    project = make_project(root=root, docker_host=private_engine.host)
    assert project.resolver().resolve(project.stack.units["first"]).present_id, "image not loaded"
    env = {**make_project.env(project), "FOVEA_DOCKER_HOST": private_engine.host}

    process = subprocess.Popen([*FOVEA, "up", "--json"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event["unit"] == "gate" and event["state"] == "starting":
            break
    private_engine.kill()
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 3, stderr
    lines = [line for line in stderr.strip().splitlines()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("fovea: Docker engine at ") and "stopped answering" in lines[0], stderr
    assert "run `fovea up` again" in lines[0]

    private_engine.start()  # the engine is back, with whatever the dead run left in it
    again = run_fovea(["up"], env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert run_fovea(["plan"], env).stdout.strip() == "nothing to do"
