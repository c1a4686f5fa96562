"""Protocol-level readiness probes, run from the host over the 127.0.0.1-published port.

A TCP connect alone is a false positive here (docker-proxy accepts before anything listens inside),
so each probe speaks the service's protocol (fovea_ctl.docker.socket_client): PostgreSQL logs in and runs SELECT 1,
Redis answers PING, HTTP answers 2xx, an RQ worker is registered in Redis. Services with no published
port are probed through `docker exec`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fovea_ctl.docker.engine import Engine
from fovea_ctl.model import PostgresProbe, Probe, Service, Stack
from fovea_ctl.docker.socket_client import ProbeFailed, probe_spec, run_probe

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from fovea_ctl.docker.socket_client import ProbeSpec

__all__ = ["Cancelled", "ContainerStopped", "ProbeContext", "ProbeFailed", "probe_context_for", "probe_once",
           "wait_until_ready"]

FIRST_WAIT_S = 0.05
MAX_WAIT_S = 1.0


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
    spec: ProbeSpec  # the probe on the wire, host ports resolved (fovea_ctl.docker.socket_client.probe_spec)
    password: Callable[[str], str]  # secret name -> value, read only when a probe needs it
    secrets_dir: str | None = None  # where a probe's secret (Redis' password) is read, when it exists
    timeout_s: float = 2.0


def probe_postgres_login(probe: PostgresProbe, context: ProbeContext) -> None:
    """A real login and SELECT 1: what the backend will do next."""
    import psycopg

    password = context.password(probe.password_secret) if probe.password_secret else None
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=context.spec["port"],
            user=probe.user,
            dbname=probe.database,
            password=password,
            connect_timeout=max(1, int(context.timeout_s)),
        ) as connection:
            connection.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
        raise ProbeFailed(f"postgres: {message}") from None


def probe_once(probe: Probe, context: ProbeContext, quick: bool = False) -> None:
    """One attempt. `quick` (status) skips what costs a login: libpq's import and SCRAM alone take longer
    than the rest of the command, so PostgreSQL is asked only whether it accepts connections."""
    if isinstance(probe, PostgresProbe) and not quick and context.spec["kind"] == "postgres":
        probe_postgres_login(probe, context)
        return
    run_probe(context.spec, context.container_id, context.engine.exec, context.secrets_dir, context.timeout_s)


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

    def check_alive(retry_state: RetryCallState) -> None:
        if cancel.is_set():
            raise Cancelled()
        details = context.engine.inspect_container(context.container_id)
        if details.state in ("exited", "dead") or (details.state == "restarting"):
            raise ContainerStopped(details.exit_code, f"exited with code {details.exit_code}"
                                   + (" (OOM killed)" if details.oom_killed else ""))

    out_of_budget = stop_after_delay(budget_s)

    def stop_when_out_of_budget_or_cancelled(retry_state: RetryCallState) -> bool:
        return out_of_budget(retry_state) or cancel.is_set()

    def sleep_unless_cancelled(seconds: float) -> None:
        cancel.wait(seconds)

    retrying = Retrying(
        retry=retry_if_exception_type(ProbeFailed),
        wait=wait_exponential(multiplier=FIRST_WAIT_S, min=FIRST_WAIT_S, max=MAX_WAIT_S),
        stop=stop_when_out_of_budget_or_cancelled,
        before_sleep=check_alive,
        sleep=sleep_unless_cancelled,
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
                      password: Callable[[str], str], timeout_s: float,
                      secrets_dir: str | None = None) -> ProbeContext:
    spec = probe_spec(service, stack)
    assert spec is not None, f"{service.name} has no probe"
    return ProbeContext(engine=engine, container_id=container_id, spec=spec, password=password,
                        secrets_dir=secrets_dir, timeout_s=timeout_s)
