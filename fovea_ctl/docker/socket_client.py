"""Each service's readiness spoken directly on the wire, standard library only: PostgreSQL StartupMessage,
Redis RESP, HTTP GET, a TCP banner, an RQ worker's registration in Redis (the engine's own API over its
socket is fovea_ctl.docker.engine_api).

`fovea status` runs on these alone, so it answers before pydantic, the docker SDK or requests could
even be imported; `up`'s probes (fovea_ctl.probes) use the same functions.
"""

from __future__ import annotations

import socket
import time

from fovea_ctl.docker.engine_api import receive_all, request_bytes, split_response

RQ_WORKER_PREFIX = "rq:worker:"  # rq.worker.Worker.redis_worker_namespace_prefix


class ProbeFailed(Exception):
    """The service answered wrongly or not at all: not ready yet (or never, once the budget is spent)."""


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
            sock.sendall(request_bytes("GET", path, f"127.0.0.1:{port}", None, authorization))
            status, _, body = split_response(receive_all(sock, deadline, limit=1 << 16))
    except (OSError, ValueError, IndexError) as exc:
        raise ProbeFailed(f"http GET {path}: {exc.__class__.__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise ProbeFailed(f"http GET {path}: status {status} {body[:300].decode(errors='replace').strip()[:160]}")


def tcp_banner(port: int, expect: str, timeout_s: float) -> None:
    reply = _exchange(port, b"", timeout_s)
    if not reply.startswith(expect.encode()):
        raise ProbeFailed(f"banner {reply[:40]!r} does not start with {expect!r}")


def authorization(scheme: str, user: str, secret: str) -> str:
    """An Authorization header value: `Bearer <secret>`, or HTTP basic auth of `user` and `secret`."""
    if scheme == "bearer":
        return f"Bearer {secret}"
    from base64 import b64encode  # only for basic auth: `status` imports nothing it does not need

    return "Basic " + b64encode(f"{user}:{secret}".encode()).decode()
