"""Protocol-level readiness probes, run from the host over the 127.0.0.1-published port.

A TCP connect alone is a false positive here (docker-proxy accepts before anything listens inside),
so each probe speaks the service's protocol: PostgreSQL logs in and runs SELECT 1, Redis answers
PING, HTTP answers 2xx. Services with no published port are probed through `docker exec`.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fovea_ctl.engine import Engine
from fovea_ctl.errors import EngineError
from fovea_ctl.model import ExecProbe, HttpProbe, PostgresProbe, Probe, RedisProbe, Service, Stack, TcpBannerProbe
from fovea_ctl.redis_cli import redis_ping_check

FIRST_WAIT_S = 0.05
MAX_WAIT_S = 1.0


class ProbeFailed(Exception):
    """The service answered wrongly or not at all: not ready yet (or never, once the budget is spent)."""


class ContainerStopped(Exception):
    def __init__(self, exit_code: int, detail: str) -> None:
        super().__init__(detail)
        self.exit_code = exit_code


class Cancelled(Exception):
    pass


@dataclass
class ProbeContext:
    engine: Engine
    container_id: str
    host_ports: dict[int, int]  # container port -> host port on 127.0.0.1
    password: Callable[[str], str]  # secret name -> value, read only when a probe needs it
    timeout_s: float = 2.0


def _host_port(probe_port: int, context: ProbeContext) -> int | None:
    return context.host_ports.get(probe_port)


def probe_postgres(probe: PostgresProbe, context: ProbeContext) -> None:
    port = _host_port(probe.port, context)
    if port is None:
        _probe_exec(["pg_isready", "-q", "-U", probe.user, "-d", probe.database], context)
        return
    import psycopg

    password = context.password(probe.password_secret) if probe.password_secret else None
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=probe.user,
            dbname=probe.database,
            password=password,
            connect_timeout=max(1, int(context.timeout_s)),
        ) as connection:
            connection.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
        raise ProbeFailed(f"postgres: {message}") from None


def probe_postgres_accepting(probe: PostgresProbe, context: ProbeContext) -> None:
    """The server accepts connections: a StartupMessage is answered with an authentication request.

    pg_isready's test, spoken directly: a server still starting or recovering answers an error instead.
    No password and no libpq, so `status` stays fast; `up` logs in for real (probe_postgres).
    """
    port = _host_port(probe.port, context)
    if port is None:
        _probe_exec(["pg_isready", "-q", "-U", probe.user, "-d", probe.database], context)
        return
    params = b"user\0" + probe.user.encode() + b"\0database\0" + probe.database.encode() + b"\0\0"
    startup = (8 + len(params)).to_bytes(4, "big") + (196608).to_bytes(4, "big") + params
    reply = _exchange(port, startup, context.timeout_s)
    if reply[:1] == b"R":
        return
    if reply[:1] == b"E":
        fields = dict((f[:1], f[1:]) for f in reply[5:].split(b"\0") if f)
        raise ProbeFailed(f"postgres: {fields.get(b'M', b'error').decode(errors='replace')}")
    raise ProbeFailed(f"postgres: unexpected reply {reply[:20]!r}" if reply else "postgres: connection closed without a reply")


def probe_redis(probe: RedisProbe, context: ProbeContext) -> None:
    """PING (after AUTH when the stack gives Redis a password); only +PONG is ready.

    NOAUTH is not: a Redis that wants a password the probe does not send refuses every client too. With a
    password, AUTH must answer +OK: an error there (wrong password, or "no password is set", i.e. an
    open server) means the clients fail, or the server is not the locked one the stack asks for.
    """
    port = _host_port(probe.port, context)
    if port is None:
        _probe_exec(redis_ping_check(probe.password_secret), context)
        return
    if probe.password_secret:
        payload = _resp("AUTH", context.password(probe.password_secret)) + _resp("PING")
        expected = [b"+OK", b"+PONG"]
    else:
        payload, expected = _resp("PING"), [b"+PONG"]
    replies = _exchange_lines(port, payload, len(expected), context.timeout_s)
    for reply, wanted in zip(replies, expected):
        if reply != wanted:
            step = "AUTH" if wanted == b"+OK" else "PING"
            raise ProbeFailed(f"redis: {step} answered {reply[:80].decode(errors='replace')!r}")
    if len(replies) < len(expected):
        raise ProbeFailed("redis: connection closed without a reply")


def _resp(*parts: str) -> bytes:
    """A command in RESP array form: any byte of a password is sent as it is, never parsed as syntax."""
    encoded = [part.encode() for part in parts]
    return f"*{len(encoded)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)


def _exchange_lines(port: int, payload: bytes, lines: int, timeout_s: float) -> list[bytes]:
    """Send, then read until `lines` reply lines arrived (or the server closed): pipelined replies may
    come in separate packets."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(payload)
            data = b""
            while data.count(b"\r\n") < lines:
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ProbeFailed(f"connect 127.0.0.1:{port}: {exc.__class__.__name__}: {exc}") from None
    complete = data.split(b"\r\n")[:data.count(b"\r\n")]
    return complete[:lines]


# GET over bash's /dev/tcp, exit 0 on a 2xx status: every fovea-built image is Debian (bash is essential
# there), while python3 or curl are not in all of them.
HTTP_GET_2XX = ["bash", "-c", r'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$1" >&3 '
                r'&& read -r _ code _ <&3 && [[ $code == 2?? ]]']


def probe_http(probe: HttpProbe, context: ProbeContext) -> None:
    port = _host_port(probe.port, context)
    if port is None:
        _probe_exec(HTTP_GET_2XX + [str(probe.port), probe.path], context)
        return
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=context.timeout_s)
    try:
        connection.request("GET", probe.path)
        response = connection.getresponse()
        body = response.read(300)
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeFailed(f"http GET {probe.path}: {exc.__class__.__name__}: {exc}") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise ProbeFailed(f"http GET {probe.path}: status {response.status} {body.decode(errors='replace').strip()[:160]}")


def probe_tcp_banner(probe: TcpBannerProbe, context: ProbeContext) -> None:
    port = _host_port(probe.port, context)
    if port is None:
        raise ProbeFailed(f"tcp-banner probe needs port {probe.port} published")
    reply = _exchange(port, b"", context.timeout_s)
    if not reply.startswith(probe.expect.encode()):
        raise ProbeFailed(f"banner {reply[:40]!r} does not start with {probe.expect!r}")


def probe_exec(probe: ExecProbe, context: ProbeContext) -> None:
    _probe_exec(probe.command, context)


def _probe_exec(command: list[str], context: ProbeContext) -> None:
    try:
        code, output = context.engine.exec(context.container_id, command)
    except EngineError as exc:  # e.g. "container is not running": the state check that follows says why
        raise ProbeFailed(f"`{' '.join(command)}`: {exc.message}") from None
    if code != 0:
        raise ProbeFailed(f"`{' '.join(command)}` exited {code}: {output.decode(errors='replace').strip()[-160:]}")


def _exchange(port: int, payload: bytes, timeout_s: float) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            if payload:
                sock.sendall(payload)
            return sock.recv(256)
    except OSError as exc:
        raise ProbeFailed(f"connect 127.0.0.1:{port}: {exc.__class__.__name__}: {exc}") from None


PROBES: dict[type, Callable[..., None]] = {
    PostgresProbe: probe_postgres,
    RedisProbe: probe_redis,
    HttpProbe: probe_http,
    TcpBannerProbe: probe_tcp_banner,
    ExecProbe: probe_exec,
}


# For `status`: the same readiness, minus what costs a login (libpq's import and SCRAM alone take
# longer than the rest of the command).
QUICK_PROBES: dict[type, Callable[..., None]] = {**PROBES, PostgresProbe: probe_postgres_accepting}


def probe_once(probe: Probe, context: ProbeContext, quick: bool = False) -> None:
    (QUICK_PROBES if quick else PROBES)[type(probe)](probe, context)


def wait_until_ready(
    probe: Probe,
    context: ProbeContext,
    *,
    budget_s: float,
    cancel: threading.Event,
    on_attempt: Callable[[int, str], None] | None = None,
) -> float:
    """Probe now, then with backoff from 50 ms capped at 1 s, until ready, stopped, or out of budget.

    Between failed attempts the container's state is read, so an exited container is reported at
    once with its exit code instead of after the whole budget. Returns the seconds it took.
    """
    from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

    started = time.monotonic()
    attempts = 0

    def check_alive(retry_state: object) -> None:
        if cancel.is_set():
            raise Cancelled()
        details = context.engine.inspect_container(context.container_id)
        if details.state in ("exited", "dead") or (details.state == "restarting"):
            raise ContainerStopped(details.exit_code, f"exited with code {details.exit_code}"
                                   + (" (OOM killed)" if details.oom_killed else ""))

    def stop_when_cancelled(retry_state: object) -> bool:
        return cancel.is_set()

    retrying = Retrying(
        retry=retry_if_exception_type(ProbeFailed),
        wait=wait_exponential(multiplier=FIRST_WAIT_S, min=FIRST_WAIT_S, max=MAX_WAIT_S),
        stop=stop_after_delay(budget_s) | stop_when_cancelled,
        before_sleep=check_alive,
        sleep=lambda seconds: cancel.wait(seconds),
    )
    try:
        for attempt in retrying:
            with attempt:
                attempts += 1
                try:
                    probe_once(probe, context)
                except ProbeFailed as exc:
                    if on_attempt:
                        on_attempt(attempts, str(exc))
                    raise
    except RetryError as exc:
        if cancel.is_set():
            raise Cancelled() from None
        last = exc.last_attempt.exception()
        raise ProbeFailed(f"not ready after {time.monotonic() - started:.1f} s: last probe error: {last}") from None
    return time.monotonic() - started


def probe_context_for(service: Service, stack: Stack, engine: Engine, container_id: str,
                      password: Callable[[str], str], timeout_s: float) -> ProbeContext:
    return ProbeContext(
        engine=engine,
        container_id=container_id,
        host_ports={p.container: stack.host_port(p) for p in stack.published_ports(service)},
        password=password,
        timeout_s=timeout_s,
    )
