"""The Docker engine's HTTP API over its socket (a unix socket, or plain TCP), standard library only.

`fovea status` lists and inspects through this client before pydantic, the docker SDK or requests could even
be imported, and `Engine` (fovea_ctl.docker.engine) reads through it too; the docker SDK is left for writes,
streams, and the engine addresses this client does not speak (ssh, TLS).
"""

from __future__ import annotations

import io
import json
import os
import socket
import time

from fovea_ctl.docker.stream import demultiplex
from fovea_ctl.docker.views import ContainerDetails, ContainerView, container_details, container_from_listing
from fovea_ctl.errors import EngineError, EngineUnreachable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

DEFAULT_DOCKER_SOCKET = "unix:///var/run/docker.sock"


class EngineNotFound(EngineError):
    """The engine answered 404: no such container, image, volume or network."""


class UnsupportedEngineAddress(Exception):
    """An engine address this module does not speak (ssh://, TLS): the docker SDK's path handles it."""


# -- HTTP/1.0 over a stream socket ----------------------------------------------------------------------

def receive_all(sock: socket.socket, deadline: float, limit: int = 1 << 24) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"malformed HTTP response {raw[:60]!r}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)


def request_bytes(method: str, path: str, host: str, body: bytes | None, authorization: str | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: fovea\r\n"
    if authorization:
        head += f"Authorization: {authorization}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + (body or b"")


# -- the engine -------------------------------------------------------------------------------------------

def filters_param(filters: dict[str, list[str]]) -> str:
    """The engine's `filters` query parameter, percent-encoded (urllib costs an import)."""
    return "".join(c if c.isalnum() or c in "-_.~" else f"%{ord(c):02X}" for c in json.dumps(filters))


def label_filter(*labels: str) -> str:
    """`filters` for objects carrying every one of `labels` (KEY or KEY=VALUE)."""
    return filters_param({"label": list(labels)})


class DockerSocket:
    """The engine API over one short connection per call, like the docker SDK's base URL rules:
    the given address (FOVEA_DOCKER_HOST), else DOCKER_HOST, else the default unix socket."""

    def __init__(self, address: str | None, timeout_s: float = 30.0) -> None:
        self.given = address
        self.address = address or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_SOCKET
        self.timeout_s = timeout_s
        self.target: str | tuple[str, int]  # a socket path (AF_UNIX) or (host, port) (AF_INET)
        if self.address.startswith("unix://"):
            self.family, self.target = socket.AF_UNIX, self.address[len("unix://"):]
        elif self.address.startswith("tcp://") and not os.environ.get("DOCKER_TLS_VERIFY"):
            host, _, port = self.address[len("tcp://"):].rstrip("/").rpartition(":")
            self.family, self.target = socket.AF_INET, (host, int(port))
        else:
            raise UnsupportedEngineAddress(self.address)

    def _connect(self, timeout_s: float) -> socket.socket:
        try:
            if isinstance(self.target, str):  # AF_UNIX
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout_s)
                sock.connect(self.target)
                return sock
            return socket.create_connection(self.target, timeout=timeout_s)
        except OSError as exc:
            where = self.given or "the default socket (DOCKER_HOST or /var/run/docker.sock)"
            raise EngineUnreachable(f"Docker engine unreachable at {where}: {exc.__class__.__name__}",
                                    hint="start dockerd (or set FOVEA_DOCKER_HOST), then retry") from None

    def call(self, method: str, path: str, payload: object = None, timeout_s: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        body = json.dumps(payload).encode() if payload is not None else None
        sock = self._connect(timeout_s or self.timeout_s)
        try:
            sock.sendall(request_bytes(method, path, "docker", body))
            raw = receive_all(sock, deadline)
        except OSError as exc:
            raise EngineUnreachable(f"Docker engine connection lost: {exc}") from None
        finally:
            sock.close()
        status, _, content = split_response(raw)
        if status >= 400:
            try:
                message = json.loads(content).get("message", "")
            except ValueError:
                message = content[:200].decode(errors="replace")
            error = EngineNotFound if status == 404 else EngineError
            raise error(f"engine refused {method} {path.split('?')[0]}: {message}")
        return content

    def get_json(self, path: str) -> Any:
        """The engine's answer as parsed, unchecked: callers name the shape they read (no validation on this path)."""
        return json.loads(self.call("GET", path))

    def containers_labelled(self, *labels: str, running_only: bool = False) -> list[ContainerView]:
        """Containers carrying every one of `labels` (KEY or KEY=VALUE); stopped ones too unless `running_only`."""
        listed = self.get_json(f"/containers/json?{'' if running_only else 'all=1&'}filters={label_filter(*labels)}")
        return [container_from_listing(c) for c in listed]

    def inspect_container(self, container_id: str) -> ContainerDetails:
        return container_details(self.get_json(f"/containers/{container_id}/json"))

    def exec(self, container_id: str, command: list[str], timeout_s: float = 30.0) -> tuple[int, bytes]:
        """Run a command in the container; (exit code, stdout and stderr)."""
        created = json.loads(self.call("POST", f"/containers/{container_id}/exec",
                                       {"Cmd": command, "AttachStdout": True, "AttachStderr": True}))
        stream = self.call("POST", f"/exec/{created['Id']}/start", {"Detach": False, "Tty": False}, timeout_s)
        output = b"".join(data for _, data in demultiplex(io.BytesIO(stream).read))
        code = json.loads(self.call("GET", f"/exec/{created['Id']}/json")).get("ExitCode")
        return int(code if code is not None else -1), output
