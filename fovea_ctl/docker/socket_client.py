"""Protocols spoken directly on a socket, standard library only: the Docker engine API (HTTP over its
unix socket or plain TCP) and each service's readiness on the wire (PostgreSQL StartupMessage, Redis
RESP, HTTP GET, a TCP banner, an RQ worker's registration in Redis).

`fovea status` runs on these alone, so it answers before pydantic, the docker SDK or requests could
even be imported; `up`'s probes (fovea_ctl.probes) use the same functions.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time

from fovea_ctl.docker.stream import demultiplex
from fovea_ctl.errors import EngineError, EngineUnreachable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

DEFAULT_DOCKER_SOCKET = "unix:///var/run/docker.sock"
RQ_WORKER_PREFIX = "rq:worker:"  # rq.worker.Worker.redis_worker_namespace_prefix


class ProbeFailed(Exception):
    """The service answered wrongly or not at all: not ready yet (or never, once the budget is spent)."""


class EngineNotFound(EngineError):
    """The engine answered 404: no such container, image, volume or network."""


class UnsupportedEngineAddress(Exception):
    """An engine address this module does not speak (ssh://, TLS): the docker SDK's path handles it."""


# -- HTTP/1.0 over a stream socket ----------------------------------------------------------------------

def _receive_all(sock: socket.socket, deadline: float, limit: int = 1 << 24) -> bytes:
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


def _split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
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


def _request_bytes(method: str, path: str, host: str, body: bytes | None, authorization: str | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: fovea\r\n"
    if authorization:
        head += f"Authorization: {authorization}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + (body or b"")


# -- the engine -------------------------------------------------------------------------------------------

def label_filter(label: str) -> str:
    """The engine's `filters` query parameter for one label, percent-encoded (urllib costs an import)."""
    return "".join(c if c.isalnum() or c in "-_.~" else f"%{ord(c):02X}" for c in json.dumps({"label": [label]}))


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
            sock.sendall(_request_bytes(method, path, "docker", body))
            raw = _receive_all(sock, deadline)
        except OSError as exc:
            raise EngineUnreachable(f"Docker engine connection lost: {exc}") from None
        finally:
            sock.close()
        status, _, content = _split_response(raw)
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

    def list_containers(self, label: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.get_json(f"/containers/json?all=1&filters={label_filter(label)}")
        return listed

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        inspected: dict[str, Any] = self.get_json(f"/containers/{container_id}/json")
        return inspected

    def exec(self, container_id: str, command: list[str], timeout_s: float = 30.0) -> tuple[int, bytes]:
        """Run a command in the container; (exit code, stdout and stderr)."""
        created = json.loads(self.call("POST", f"/containers/{container_id}/exec",
                                       {"Cmd": command, "AttachStdout": True, "AttachStderr": True}))
        stream = self.call("POST", f"/exec/{created['Id']}/start", {"Detach": False, "Tty": False}, timeout_s)
        output = b"".join(data for _, data in demultiplex(io.BytesIO(stream).read))
        code = json.loads(self.call("GET", f"/exec/{created['Id']}/json")).get("ExitCode")
        return int(code if code is not None else -1), output


# -- readiness on the wire (host side, 127.0.0.1 only) ----------------------------------------------------

def _connect_local(port: int, timeout_s: float) -> socket.socket:
    """127.0.0.1:port without a name lookup (create_connection's getaddrinfo would import the idna codec)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def _exchange(port: int, payload: bytes, timeout_s: float, replies: int = 0) -> bytes:
    """Send, then read one packet, or (replies > 0) until that many CRLF-terminated lines arrived."""
    try:
        with _connect_local(port, timeout_s) as sock:
            if payload:
                sock.sendall(payload)
            data = sock.recv(256)
            while replies and data and data.count(b"\r\n") < replies:
                more = sock.recv(256)
                if not more:
                    break
                data += more
            return data
    except OSError as exc:
        raise ProbeFailed(f"connect 127.0.0.1:{port}: {exc.__class__.__name__}: {exc}") from None


def postgres_accepting(port: int, user: str, database: str, timeout_s: float) -> None:
    """The server accepts connections: a StartupMessage is answered with an authentication request.

    pg_isready's test, spoken directly: a server still starting or recovering answers an error instead.
    No password and no libpq, so `status` stays fast; `up` logs in for real.
    """
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    startup = (8 + len(params)).to_bytes(4, "big") + (196608).to_bytes(4, "big") + params
    reply = _exchange(port, startup, timeout_s)
    if reply[:1] == b"R":
        return
    if reply[:1] == b"E":
        fields = dict((f[:1], f[1:]) for f in reply[5:].split(b"\0") if f)
        raise ProbeFailed(f"postgres: {fields.get(b'M', b'error').decode(errors='replace')}")
    raise ProbeFailed(f"postgres: unexpected reply {reply[:20]!r}" if reply else "postgres: connection closed without a reply")


def _resp(*words: str) -> bytes:
    """One Redis command as a RESP array (safe for any password)."""
    out = f"*{len(words)}\r\n"
    for word in words:
        out += f"${len(word.encode())}\r\n{word}\r\n"
    return out.encode()


def _redis(port: int, password: str | None, commands: list[tuple[str, ...]], timeout_s: float) -> list[bytes]:
    """The replies to `commands` (each a one-line reply), after AUTH when a password is given.

    AUTH must answer +OK: an error there (a wrong password, or "no password is set": an open server)
    means the stack's clients fail too, or the server is not the locked one the stack asks for.
    """
    if password is not None:
        commands = [("AUTH", password), *commands]
    raw = _exchange(port, b"".join(_resp(*c) for c in commands), timeout_s, replies=len(commands))
    replies = raw.split(b"\r\n")[:len(commands)]
    if len(replies) < len(commands) or not all(replies):
        raise ProbeFailed(f"redis: unexpected reply {raw[:40]!r}" if raw else "redis: connection closed without a reply")
    if password is not None:
        if replies[0] != b"+OK":
            raise ProbeFailed(f"redis: AUTH answered {replies[0][:80].decode(errors='replace')!r}")
        return replies[1:]
    return replies


def redis_ping(port: int, password: str | None, timeout_s: float) -> None:
    """PONG. NOAUTH is not ready: a Redis that wants a password the probe does not have refuses every
    client too (not authenticated yet)."""
    reply = _redis(port, password, [("PING",)], timeout_s)[0]
    if reply.startswith(b"+PONG"):
        return
    raise ProbeFailed(f"redis: PING answered {reply[:80].decode(errors='replace')!r}")


def rq_worker_registered(port: int, password: str | None, worker: str, timeout_s: float) -> None:
    """The RQ worker `worker` is registered in Redis (it registers once its models are loaded, and its
    key expires when its heartbeats stop) and not marked dead."""
    key = RQ_WORKER_PREFIX + worker
    exists, dead = _redis(port, password, [("EXISTS", key), ("HEXISTS", key, "death")], timeout_s)
    if exists.startswith(b"-") or dead.startswith(b"-"):
        problem = (exists if exists.startswith(b"-") else dead).decode(errors="replace")[1:]
        if problem.startswith("NOAUTH"):
            problem = "NOAUTH: not authenticated (yet), worker registration unreadable"
        raise ProbeFailed(f"redis: {problem[:120]}")
    if exists != b":1":
        raise ProbeFailed(f"rq worker {worker}: not registered in redis")
    if dead != b":0":
        raise ProbeFailed(f"rq worker {worker}: marked dead")


def http_get(port: int, path: str, timeout_s: float, authorization: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    try:
        with _connect_local(port, timeout_s) as sock:
            sock.sendall(_request_bytes("GET", path, f"127.0.0.1:{port}", None, authorization))
            status, _, body = _split_response(_receive_all(sock, deadline, limit=1 << 16))
    except (OSError, ValueError, IndexError) as exc:
        raise ProbeFailed(f"http GET {path}: {exc.__class__.__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise ProbeFailed(f"http GET {path}: status {status} {body[:300].decode(errors='replace').strip()[:160]}")


def tcp_banner(port: int, expect: str, timeout_s: float) -> None:
    reply = _exchange(port, b"", timeout_s)
    if not reply.startswith(expect.encode()):
        raise ProbeFailed(f"banner {reply[:40]!r} does not start with {expect!r}")


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil): exact integer
    arithmetic instead of importing datetime (~1 ms of every `status`)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_engine_time(value: str | None) -> float | None:
    """An engine timestamp (RFC 3339 in UTC, nanoseconds) as a POSIX time; None for the zero time."""
    if not value or value.startswith("0001-"):
        return None
    year, month, day, hour, minute, second = (int(value[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13),
                                                                          (14, 16), (17, 19)))
    whole = ((_days_since_epoch(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    _, _, tail = value[19:].partition(".")
    digits = "".join(ch for ch in tail[:9] if ch.isdigit())
    return whole + (int(digits) / 10 ** len(digits) if digits else 0.0)


def authorization(scheme: str, user: str, secret: str) -> str:
    """An Authorization header value: `Bearer <secret>`, or HTTP basic auth of `user` and `secret`."""
    if scheme == "bearer":
        return f"Bearer {secret}"
    from base64 import b64encode  # only for basic auth: `status` imports nothing it does not need

    return "Basic " + b64encode(f"{user}:{secret}".encode()).decode()
