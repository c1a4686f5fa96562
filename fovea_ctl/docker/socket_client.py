"""Each service's readiness spoken directly on the wire, standard library only: PostgreSQL StartupMessage,
Redis RESP, HTTP GET, a TCP banner, an RQ worker's registration in Redis (the engine's own API over its
socket is fovea_ctl.docker.engine_api).

`fovea status` runs on these alone, so it answers before pydantic, the docker SDK or requests could
even be imported; `up`'s probes (fovea_ctl.probes) use the same functions.
"""

from __future__ import annotations

import os
import socket
import time

from fovea_ctl.docker.engine_api import receive_all, request_bytes, split_response
from fovea_ctl.errors import EngineError
from fovea_ctl.docker.redis_cli import REDIS_PASSWORD_SECRET, redis_ping_check

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    # A probe as status runs it, JSON-ready for the roster memo: {"kind": ..., plus that kind's fields}.
    ProbeSpec = dict[str, Any]
    ExecIn = Callable[[str, list[str]], tuple[int, bytes]]

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


# -- probe specs: a stack's probe as a plain dict, resolved to host ports -------------------------------
# `status` keeps these in its memo (fovea_ctl.ops.status), so it probes without importing the stack's types.

# GET over bash's /dev/tcp, exit 0 on a 2xx status: every fovea-built image is Debian (bash is essential
# there), while python3 or curl are not in all of them. $0: the port, $1: the path; with a credential, $2:
# its scheme (basic | bearer), $3: the user, $4: the secret's file inside the container, read by bash
# builtins and handed to coreutils' base64 on a pipe, so the value is in no process's argv.
HTTP_GET_2XX = ["bash", "-c", """auth=
if [ -n "$2" ]; then
  IFS= read -r secret < "$4" || [ -n "$secret" ] || exit 1
  if [ "$2" = basic ]; then auth="Authorization: Basic $(printf '%s:%s' "$3" "$secret" | base64 -w0)"
  else auth="Authorization: Bearer $secret"; fi
  auth="$auth"$'\\r\\n'
fi
exec 3<>"/dev/tcp/127.0.0.1/$0" && printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n%s\\r\\n' "$1" "$auth" >&3 \\
  && read -r _ code _ <&3 && [[ $code == 2?? ]]"""]


def secret_file(secrets_dir: str, name: str) -> str:
    """Where secret `name` lives on the host, as SecretStore.path finds it (nothing is created here)."""
    return os.environ.get(f"FOVEA_SECRET_{name.upper()}_FILE") or os.path.join(secrets_dir, name)


def _authorization(spec: ProbeSpec, secrets_dir: str | None) -> str | None:
    """The Authorization header an HTTP probe presents (its `auth`), from the secret's file on the host."""
    auth = spec.get("auth")
    if not auth:
        return None
    try:
        with open(secret_file(secrets_dir or "", auth["secret"]), encoding="utf-8") as handle:
            secret = handle.read().strip()
    except OSError as exc:
        raise ProbeFailed(f"http: secret {auth['secret']} unreadable: {exc.__class__.__name__}") from None
    return authorization(auth["scheme"], auth["user"], secret)


def authorization(scheme: str, user: str, secret: str) -> str:
    """An Authorization header value: `Bearer <secret>`, or HTTP basic auth of `user` and `secret`."""
    if scheme == "bearer":
        return f"Bearer {secret}"
    from base64 import b64encode  # only for basic auth: `status` imports nothing it does not need

    return "Basic " + b64encode(f"{user}:{secret}".encode()).decode()


def _redis_password(spec: ProbeSpec, secrets_dir: str | None) -> str | None:
    """The password to AUTH with: the probe's secret if that secret exists; None (no AUTH) while there is none."""
    if not secrets_dir or not spec.get("password_secret"):
        return None
    try:
        with open(secret_file(secrets_dir, spec["password_secret"]), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def probe_spec(service: object, stack: object) -> ProbeSpec | None:
    """`service.probe` (a fovea_ctl.model probe) as the wire check status runs: host ports resolved; a
    port that is not published becomes the matching `docker exec` check."""
    probe = getattr(service, "probe", None)
    if probe is None:
        return None
    # Only what this stack publishes (FOVEA_PUBLISH=user-facing keeps internal ports inside the network).
    # `service` and `stack` are typed `object`: this module imports nothing of fovea_ctl.model (status stays lean).
    host = {p.container: stack.host_port(p) for p in stack.published_ports(service)}  # type: ignore[attr-defined]  # a Stack
    kind = probe.kind
    port = host.get(getattr(probe, "port", 0))
    if kind == "postgres":
        if port is None:
            return {"kind": "exec", "command": ["pg_isready", "-q", "-U", probe.user, "-d", probe.database]}
        return {"kind": "postgres", "port": port, "user": probe.user, "database": probe.database}
    if kind == "redis":
        if port is None:
            return {"kind": "exec", "command": redis_ping_check(getattr(probe, "password_secret", None))}
        return {"kind": "redis", "port": port,
                "password_secret": getattr(probe, "password_secret", None) or REDIS_PASSWORD_SECRET}
    if kind == "http":
        auth = getattr(probe, "auth", None)
        if port is None:
            credential = [auth.scheme, auth.user, f"/run/secrets/{auth.secret}"] if auth else ["", "", ""]
            return {"kind": "exec", "command": [*HTTP_GET_2XX, str(probe.port), probe.path, *credential]}
        spec = {"kind": "http", "port": port, "path": probe.path}
        if auth is not None:
            spec["auth"] = {"scheme": auth.scheme, "user": auth.user, "secret": auth.secret}
        return spec
    if kind == "tcp-banner":
        if port is None:
            return {"kind": "fail", "detail": f"tcp-banner probe needs port {probe.port} published"}
        return {"kind": "tcp-banner", "port": port, "expect": probe.expect}
    if kind == "exec":
        return {"kind": "exec", "command": list(probe.command)}
    if kind == "rq-worker":
        redis = stack.units[probe.redis]  # type: ignore[attr-defined]  # a Stack (see above)
        redis_probe = getattr(redis, "probe", None)
        redis_port = stack.host_port(redis.port_for(probe.redis_port))  # type: ignore[attr-defined]  # a Stack (see above)
        return {"kind": "rq-worker", "port": redis_port,
                "worker": probe.worker,
                "password_secret": getattr(redis_probe, "password_secret", None) or REDIS_PASSWORD_SECRET}
    raise ValueError(f"unknown probe kind {kind!r}")


def run_probe(spec: ProbeSpec, container_id: str, exec_in: ExecIn, secrets_dir: str | None, timeout_s: float) -> None:
    """One attempt of `spec` against the container; ProbeFailed says why it is not ready. Secrets (Redis'
    password) are read from `secrets_dir` when a probe needs one."""
    kind = spec["kind"]
    if kind == "postgres":
        postgres_accepting(spec["port"], spec["user"], spec["database"], timeout_s)
    elif kind == "redis":
        redis_ping(spec["port"], _redis_password(spec, secrets_dir), timeout_s)
    elif kind == "http":
        http_get(spec["port"], spec["path"], timeout_s, _authorization(spec, secrets_dir))
    elif kind == "tcp-banner":
        tcp_banner(spec["port"], spec["expect"], timeout_s)
    elif kind == "rq-worker":
        worker = spec["worker"].replace("{hostname}", container_id[:12])
        rq_worker_registered(spec["port"], _redis_password(spec, secrets_dir), worker, timeout_s)
    elif kind == "exec":
        command = spec["command"]
        try:
            code, output = exec_in(container_id, command)
        except EngineError as exc:  # e.g. "container is not running": the state check that follows says why
            raise ProbeFailed(f"`{' '.join(command)}`: {exc.message}") from None
        if code != 0:
            raise ProbeFailed(f"`{' '.join(command)}` exited {code}: {output.decode(errors='replace').strip()[-160:]}")
    else:
        raise ProbeFailed(spec.get("detail", f"unknown probe kind {kind!r}"))
