"""Each probe kind owns its behaviour (fovea_ctl.probes): the check on the wire (and its fallback inside the
container when the stack does not publish the port), the Docker HEALTHCHECK test and the Kubernetes action;
and the status roster is a versioned type that reads back what it wrote and treats anything else as absent.

The checks that need no service of the stack run for real here: the HTTP check and its in-container twin
(bash's /dev/tcp script, run by bash on this host) against an HTTP server on 127.0.0.1 that demands a bearer
token, the TCP banner check against a socket that greets. PostgreSQL, Redis and RQ checks run against the
real services in tests/test_up.py, tests/test_status.py and the live stack of tests/test_ops.py (a PostgreSQL
login, Prometheus with basic auth).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import typing
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fovea_ctl.docker.redis_cli import redis_ping_check
from fovea_ctl.model import (
    ExecProbe,
    HttpAuth,
    HttpProbe,
    ImageSpec,
    Port,
    PostgresProbe,
    Probe,
    RedisProbe,
    RqWorkerProbe,
    Secret,
    Service,
    Stack,
    TcpBannerProbe,
)
from fovea_ctl.probes.checks import CHECKS, Check, ExecCheck, HttpCheck, ProbeFailed, Target, TcpBannerCheck, check_from_json
from fovea_ctl.probes.kinds import HTTP_GET_2XX, PROBE_KINDS, check_for, healthcheck_test, k8s_action
from fovea_ctl.reconcile.roster import ROSTER_VERSION, Roster, remember_roster, remembered_roster, roster_of, roster_path
from fovea_ctl.core.context import load_stack
from fovea_ctl.settings.effective import load_settings
from fovea_ctl.settings.fingerprint import fingerprint_key, settings_fingerprint
from tests.conftest import ROOT

IMAGE = ImageSpec(registry="example/image:1")
PORT_BASE = 20000


def stack_of(publish: typing.Literal["all", "user-facing"]) -> Stack:
    """One service per probe kind, every port published only under publish="all"."""
    return Stack(name="probes", port_base=PORT_BASE, publish=publish, secrets=[Secret(name="token")], services=[
        Service(name="db", image=IMAGE, ports=[Port(container=5432)],
                probe=PostgresProbe(user="app", database="store", healthcheck=["pg_isready", "-h", "127.0.0.1"])),
        Service(name="redis", image=IMAGE, ports=[Port(container=6379)], probe=RedisProbe()),
        Service(name="api", image=IMAGE, ports=[Port(container=8000)], secrets=["token"],
                probe=HttpProbe(port=8000, path="/health", auth=HttpAuth(scheme="bearer", secret="token"))),
        Service(name="smtp", image=IMAGE, ports=[Port(container=25)], probe=TcpBannerProbe(port=25, expect="220")),
        Service(name="job", image=IMAGE, probe=ExecProbe(command=["test", "-f", "/ready"], healthcheck=["true"])),
        Service(name="worker", image=IMAGE, probe=RqWorkerProbe(worker="w-{hostname}")),
    ])


def checks_of(stack: Stack) -> dict[str, dict[str, typing.Any] | None]:
    return {name: (c.to_json() if (c := check_for(unit, stack)) else None) for name, unit in stack.units.items()}


def test_every_declared_probe_kind_has_one_registered_kind() -> None:
    members = typing.get_args(typing.get_args(Probe)[0])
    assert {member.model_fields["kind"].default for member in members} == set(PROBE_KINDS)


def test_each_kind_compiles_its_check_on_the_host_port() -> None:
    assert checks_of(stack_of("all")) == {
        "db": {"kind": "postgres", "port": PORT_BASE + 5432, "user": "app", "database": "store"},
        "redis": {"kind": "redis", "port": PORT_BASE + 6379, "password_secret": "redis_password"},
        "api": {"kind": "http", "port": PORT_BASE + 8000, "path": "/health",
                "auth": {"scheme": "bearer", "user": "", "secret": "token"}},
        "smtp": {"kind": "tcp-banner", "port": PORT_BASE + 25, "expect": "220"},
        "job": {"kind": "exec", "command": ["test", "-f", "/ready"]},
        "worker": {"kind": "rq-worker", "port": PORT_BASE + 6379, "worker": "w-{hostname}",
                   "password_secret": "redis_password"},
    }


def test_an_unpublished_port_becomes_a_check_inside_the_container() -> None:
    assert checks_of(stack_of("user-facing")) == {
        "db": {"kind": "exec", "command": ["pg_isready", "-q", "-U", "app", "-d", "store"]},
        "redis": {"kind": "exec", "command": redis_ping_check(None)},
        "api": {"kind": "exec", "command": [*HTTP_GET_2XX, "8000", "/health", "bearer", "", "/run/secrets/token"]},
        "smtp": {"kind": "fail", "detail": "tcp-banner probe needs port 25 published"},
        "job": {"kind": "exec", "command": ["test", "-f", "/ready"]},
        # Read from the host over Redis' port: it is the stack's own port (the RQ registration is in Redis).
        "worker": {"kind": "rq-worker", "port": PORT_BASE + 6379, "worker": "w-{hostname}",
                   "password_secret": "redis_password"},
    }


def test_healthcheck_is_the_declared_command_under_docker_cmd() -> None:
    units = stack_of("all").units
    assert {name: healthcheck_test(unit.probe) for name, unit in units.items()} == {
        "db": ["CMD", "pg_isready", "-h", "127.0.0.1"], "redis": None, "api": None, "smtp": None,
        "job": ["CMD", "true"], "worker": None,
    }
    assert healthcheck_test(None) is None


def test_each_kind_gives_its_kubernetes_action() -> None:
    units = stack_of("all").units
    actions = {name: {key: value.to_dict() for key, value in k8s_action(unit.probe).items()}
               for name, unit in units.items() if unit.probe is not None and name != "worker"}
    assert actions == {
        "db": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}},  # the image's own check, when it has one
        "redis": {"exec": {"command": ["redis-cli", "ping"]}},
        "api": {"httpGet": {"path": "/health", "port": 8000}},  # the container port: the kubelet asks the pod
        "smtp": {"tcpSocket": {"port": 25}},
        "job": {"exec": {"command": ["test", "-f", "/ready"]}},
    }
    assert k8s_action(PostgresProbe(user="u", database="d"))["exec"].command == ["pg_isready", "-q", "-U", "u", "-d", "d"]
    worker_probe = units["worker"].probe
    assert worker_probe is not None
    with pytest.raises(TypeError, match="no Kubernetes probe for RqWorkerProbe"):
        k8s_action(worker_probe)


@pytest.mark.parametrize("publish", ["all", "user-facing"])
def test_every_check_reads_back_from_its_json(publish: typing.Literal["all", "user-facing"]) -> None:
    stack = stack_of(publish)
    for unit in stack.units.values():
        check = check_for(unit, stack)
        assert check is not None
        assert check_from_json(json.loads(json.dumps(check.to_json()))) == check
    assert {c.kind for c in CHECKS.values()} == set(CHECKS)
    with pytest.raises(KeyError):
        check_from_json({"kind": "carrier-pigeon"})


# -- the checks that need no stack service, run for real --------------------------------------------------

TOKEN = "s3cret-token"


class HealthHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        ready = self.path == "/health" and self.headers.get("Authorization") == f"Bearer {TOKEN}"
        self.send_response(200 if ready else 401)
        self.end_headers()
        self.wfile.write(b"ok" if ready else b"who are you")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HealthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def run_here(container_id: str, command: list[str]) -> tuple[int, bytes]:
    """The `docker exec` of a check, run on this host instead: the command itself is what is tested."""
    done = subprocess.run(command, capture_output=True, timeout=10, check=False)
    return done.returncode, done.stdout + done.stderr


def target(secrets_dir: Path) -> Target:
    return Target("0123456789abcdef", run_here, str(secrets_dir), timeout_s=2.0)


@pytest.fixture()
def secrets_dir(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text(TOKEN + "\n")
    return tmp_path


def test_http_check_presents_its_bearer_token(http_port: int, secrets_dir: Path) -> None:
    HttpCheck(http_port, "/health", {"scheme": "bearer", "user": "", "secret": "token"}).run(target(secrets_dir))
    with pytest.raises(ProbeFailed, match="status 401"):
        HttpCheck(http_port, "/health").run(target(secrets_dir))
    with pytest.raises(ProbeFailed, match="secret missing unreadable"):
        HttpCheck(http_port, "/health", {"scheme": "bearer", "user": "", "secret": "missing"}).run(target(secrets_dir))


def test_in_container_http_check_reads_the_token_from_its_file(http_port: int, secrets_dir: Path) -> None:
    token_file = str(secrets_dir / "token")
    ExecCheck([*HTTP_GET_2XX, str(http_port), "/health", "bearer", "", token_file]).run(target(secrets_dir))
    with pytest.raises(ProbeFailed, match="exited 1"):
        ExecCheck([*HTTP_GET_2XX, str(http_port), "/health", "", "", ""]).run(target(secrets_dir))


def test_tcp_banner_check_reads_the_greeting(secrets_dir: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def greet() -> None:
        for greeting in (b"220 ready\r\n", b"554 go away\r\n"):
            connection, _ = server.accept()
            connection.sendall(greeting)
            connection.close()

    threading.Thread(target=greet, daemon=True).start()
    try:
        TcpBannerCheck(port, "220").run(target(secrets_dir))
        with pytest.raises(ProbeFailed, match="does not start with '220'"):
            TcpBannerCheck(port, "220").run(target(secrets_dir))
    finally:
        server.close()


def test_a_check_the_stack_leaves_no_way_to_run_is_never_ready(secrets_dir: Path) -> None:
    unprobeable = check_from_json({"kind": "fail", "detail": "tcp-banner probe needs port 25 published"})
    with pytest.raises(ProbeFailed, match="needs port 25 published"):
        unprobeable.run(target(secrets_dir))


# -- the roster ---------------------------------------------------------------------------------------------

@pytest.fixture()
def remembered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The checkout's stack remembered for a throwaway project, as any command that loads it does."""
    project = f"roster{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FOVEA_ROOT", str(ROOT))
    monkeypatch.setenv("FOVEA_PROJECT", project)
    monkeypatch.setenv("FOVEA_SECRETS_DIR", str(tmp_path / "secrets"))
    settings = load_settings()
    try:
        key = fingerprint_key(str(ROOT), project, create=True)
        assert key is not None
        remember_roster(settings, load_stack(settings), settings_fingerprint(str(ROOT), key))
        yield Path(roster_path(str(ROOT), project))
    finally:
        shutil.rmtree(ROOT / ".fovea" / project, ignore_errors=True)


def test_roster_round_trip(remembered: Path) -> None:
    settings = load_settings()
    written = roster_of(load_stack(settings), settings)
    read = remembered_roster()
    assert read is not None
    assert read.to_json() == written.to_json() == {
        key: value for key, value in json.loads(remembered.read_text()).items() if key != "fingerprint"}
    assert [u.name for u in read.units] == list(load_stack(settings).units)
    assert all(isinstance(u.check, Check) or u.one_shot for u in read.units)
    assert read.to_json()["version"] == ROSTER_VERSION


@pytest.mark.parametrize("damage", ["unversioned", "newer", "unknown-kind", "not-a-roster"])
def test_a_roster_of_another_version_or_shape_is_absent(remembered: Path, damage: str) -> None:
    document = json.loads(remembered.read_text())
    if damage == "unversioned":  # as fovea wrote it before the roster had a version
        del document["version"]
    elif damage == "newer":
        document["version"] = ROSTER_VERSION + 1
    elif damage == "unknown-kind":
        document["units"][0]["probe"] = {"kind": "carrier-pigeon"}
    else:
        document = {"fingerprint": document["fingerprint"], "units": "no"}
    mode = os.stat(remembered).st_mode
    remembered.write_text(json.dumps(document))
    os.chmod(remembered, mode)
    assert remembered_roster() is None
    assert Roster.from_json(document) is None
