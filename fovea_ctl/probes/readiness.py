"""Readiness: a service's check, attempted with backoff until it passes, its container stops, or its
startup budget is spent (`up`, Swarm's deploy), or attempted once (Swarm's status).

A TCP connect alone is a false positive here (docker-proxy accepts before anything listens inside), so
each kind's check speaks the service's protocol (one module per kind in this package). Imports nothing
but the standard library at load (tenacity when a wait starts): `fovea status` loads this package.
"""

from __future__ import annotations

import threading
import time

from fovea_ctl.probes.checks import Check, ProbeFailed, Target
from fovea_ctl.probes.kinds import check_for

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` loads this package
if TYPE_CHECKING:
    from collections.abc import Callable

    from tenacity import RetryCallState

    from fovea_ctl.docker.engine import Engine
    from fovea_ctl.model import Service, Stack

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


class ProbeContext:
    """One container's check and what it runs with: the engine (its exec and its state between attempts)
    and the stack's secret store (`password`: secret name -> value, read only when a check logs in)."""

    __slots__ = ("engine", "container_id", "spec", "password", "secrets_dir", "timeout_s")

    def __init__(self, engine: Engine, container_id: str, spec: Check, password: Callable[[str], str],
                 secrets_dir: str | None = None, timeout_s: float = 2.0) -> None:
        self.engine = engine
        self.container_id = container_id
        self.spec = spec  # the probe on the wire, host ports resolved (fovea_ctl.probes.kinds.check_for)
        self.password = password
        self.secrets_dir = secrets_dir  # where a check's secret (Redis' password) is read, when it exists
        self.timeout_s = timeout_s

    def target(self) -> Target:
        return Target(self.container_id, self.engine.exec, self.secrets_dir, self.timeout_s, self.password)


def probe_once(context: ProbeContext, quick: bool = False) -> None:
    """One attempt of `context`'s check (the check carries its probe's kind, ports and secrets). `quick` (status) skips what costs a login:
    libpq's import and SCRAM alone take longer than the rest of the command."""
    context.spec.run(context.target(), quick)


def wait_until_ready(
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
                    probe_once(context)
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
    check = check_for(service, stack)
    assert check is not None, f"{service.name} has no probe"
    return ProbeContext(engine=engine, container_id=container_id, spec=check, password=password,
                        secrets_dir=secrets_dir, timeout_s=timeout_s)
