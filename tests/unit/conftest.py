"""The unit tier: tests that need no Docker engine, marked `unit` here, the whole tier in seconds.

`pytest tests/unit` runs it alone (.ci/run runs it first, to fail fast). A test that reaches for an engine does
not belong here and fails: every test runs with DOCKER_HOST and FOVEA_DOCKER_HOST pointing at a tripwire socket
this conftest listens on (subprocesses, the fovea CLI and the docker CLI included, inherit them), which hangs
up on whoever connects and counts them; and this process may not connect to the engine's default sockets.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent
DEFAULT_ENGINE_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


class Tripwire:
    """A unix socket that accepts and at once closes every connection, counting them: a client gets an
    error at once (no hang until its timeout), and the test that made it is failed afterwards."""

    def __init__(self) -> None:
        # Under /tmp, not pytest's deep tmp_path: a unix socket path is limited to 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="fovea-tripwire-"))
        self.path = self.folder / "docker.sock"
        self.connections = 0
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(64)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed at the end of the session
            with self._lock:
                self.connections += 1  # counted before the hang-up: a client that saw it is already counted
            connection.close()

    def count(self) -> int:
        with self._lock:
            return self.connections

    def close(self) -> None:
        self._server.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item, not only this folder's: mark only the tests that live here.
    for item in items:
        if item.path.is_relative_to(UNIT_DIR):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def docker_tripwire() -> Iterator[Tripwire]:
    tripwire = Tripwire()
    yield tripwire
    tripwire.close()


@pytest.fixture(autouse=True)
def no_docker_engine(docker_tripwire: Tripwire, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    address = f"unix://{docker_tripwire.path}"
    monkeypatch.setenv("DOCKER_HOST", address)
    monkeypatch.setenv("FOVEA_DOCKER_HOST", address)
    reached_default: list[str] = []
    connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX and str(address) in DEFAULT_ENGINE_SOCKETS:
            reached_default.append(str(address))
            raise ConnectionRefusedError(f"the unit tier may not reach the Docker engine ({address})")
        connect(self, address)  # type: ignore[arg-type]  # the stdlib's own signature

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    before = docker_tripwire.count()
    yield
    opened = docker_tripwire.count() - before
    if opened or reached_default:
        pytest.fail(f"this test opened the Docker socket ({opened} connection(s) to DOCKER_HOST"
                    f"{', and ' + ', '.join(reached_default) if reached_default else ''}): it needs the engine, "
                    "so it belongs in the integration tier (tests/, not tests/unit)", pytrace=False)
