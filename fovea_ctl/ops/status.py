"""`fovea status`: one engine listing, then every probe once, in parallel, with a short timeout.

Standard library only, so the command answers in about the time of an interpreter start:
- the *roster* (which units the stack has, their probes on the wire, what is skipped and why) is
  remembered in the state directory whenever a command loads the stack, keyed by the exact
  fingerprint of every input of the settings and the stack (fovea_ctl.settings.fingerprint); `status` uses it only
  when that fingerprint still matches, else it loads the stack (and remembers it again);
- readiness itself is never remembered: every call lists the containers, inspects them and probes
  every running service now (fovea_ctl.docker.engine_api, fovea_ctl.docker.socket_client).

The JSON form is a versioned schema (`StatusReport`, schema_version 1) with a `ready` boolean per
service, so scripts can gate on it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from fovea_ctl.docker import engine_api
from fovea_ctl.errors import FoveaError
from fovea_ctl.probes.checks import ProbeFailed, Target
from fovea_ctl.reconcile.roster import remembered_roster, roster_of
from fovea_ctl.docker.labels import LABEL_PROJECT

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: this module runs on every status
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.docker.views import ContainerDetails, ContainerView
    from fovea_ctl.reconcile.roster import Roster, RosterUnit

    class StatusEngine(Protocol):
        """The three engine calls status makes: engine_api.DockerSocket, or the project's Engine (the docker
        SDK) for engine addresses the socket client does not speak (ssh, TLS)."""

        def containers_labelled(self, label: str, /) -> list[ContainerView]: ...

        def inspect_container(self, container_id: str) -> ContainerDetails: ...

        def exec(self, container_id: str, command: list[str]) -> tuple[int, bytes]: ...

SCHEMA_VERSION = 1
QUICK_TIMEOUT_S = 1.0
COLUMNS = ("service", "state", "ready", "health", "uptime", "restarts", "ports", "image", "detail")


class ServiceStatus:
    """One row; its JSON keys (and their order) are schema version 1."""

    FIELDS = ("name", "role", "state", "ready", "detail", "health", "uptime_s", "restarts", "exit_code",
              "ports", "image")

    def __init__(self, name: str, role: str, state: str, ready: bool, detail: str = "",
                 health: str | None = None, uptime_s: float | None = None, restarts: int = 0,
                 exit_code: int | None = None, ports: dict[str, int] | None = None, image: str = "") -> None:
        self.name = name
        self.role = role  # service | job
        self.state = state  # running | exited | created | restarting | absent | unavailable
        self.ready = ready
        self.detail = detail
        self.health = health
        self.uptime_s = uptime_s
        self.restarts = restarts
        self.exit_code = exit_code
        self.ports = ports or {}  # "5432/tcp" -> host port on 127.0.0.1
        self.image = image

    def as_json(self) -> dict[str, object]:
        return {field: getattr(self, field) for field in self.FIELDS}


class StatusReport:
    def __init__(self, project: str, services: list[ServiceStatus], links: dict[str, str] | None = None) -> None:
        self.schema_version = SCHEMA_VERSION
        self.project = project
        self.services = services
        self.links = links or {}  # what a person opens ("app", "metrics"), of the services ready now

    @property
    def all_ready(self) -> bool:
        return all(s.ready for s in self.services if s.state != "unavailable")

    def to_json(self) -> str:
        return json.dumps({"schema_version": self.schema_version, "project": self.project,
                           "services": [s.as_json() for s in self.services]}, indent=2, ensure_ascii=False)


# -- collecting ---------------------------------------------------------------------------------------------

def _uptime_of(details: ContainerDetails) -> float | None:
    if details.state != "running" or details.started_at is None:
        return None
    return time.time() - details.started_at


def _one(unit: RosterUnit | None, name: str, container: ContainerView | None, engine: StatusEngine,
         roster: Roster) -> ServiceStatus:
    if container is None:
        return ServiceStatus(name=name, role="job" if unit and unit.one_shot else "service", state="absent",
                             ready=False, detail="no container")
    probe = unit.check if unit and not unit.one_shot else None
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            assert probe is not None, "attempted only when the unit has a check"
            probe.run(Target(container.id, engine.exec, roster.secrets_dir, QUICK_TIMEOUT_S), quick=True)
            outcome.append(None)
        except ProbeFailed as exc:
            outcome.append(str(exc))

    prober = None
    if probe is not None and container.running:
        prober = threading.Thread(target=attempt, daemon=True)
        prober.start()  # while the inspect below is on its way
    details = engine.inspect_container(container.id)
    current, exit_code = details.state, details.exit_code
    status = ServiceStatus(
        name=name, role=container.role, state=current, ready=False, health=details.health,
        uptime_s=_uptime_of(details), restarts=details.restart_count,
        exit_code=exit_code if current in ("exited", "dead") else None,
        ports={f"{c}/tcp": h for c, h in sorted(container.ports.items())}, image=container.image,
    )
    if prober is not None:
        prober.join()
    if unit is None:
        status.detail = "orphan: not in the stack"
    elif unit.one_shot:
        status.ready = current == "exited" and exit_code == 0
        status.detail = "completed" if status.ready else f"job {current}"
    elif current != "running":
        status.detail = f"{current} (exit {exit_code})"
    elif probe is None:
        status.ready, status.detail = True, "running (no probe)"
    else:
        if prober is None:  # listed as not running a moment before the inspect saw it running
            attempt()
        if outcome[0] is None:
            status.ready, status.detail = True, "probe passed"
        else:
            status.detail = outcome[0]
    return status


def collect(roster: Roster, engine: StatusEngine) -> StatusReport:
    """Every unit of the roster (and any orphan container of the project), probed now, in parallel."""
    containers: dict[str, ContainerView] = {}
    for container in engine.containers_labelled(f"{LABEL_PROJECT}={roster.project}"):
        containers.setdefault(container.service, container)
    units = {u.name: u for u in roster.units}
    names = list(units) + [n for n in containers if n not in units]
    rows: dict[str, ServiceStatus] = {}
    errors: list[BaseException] = []

    def fill(name: str) -> None:
        try:
            rows[name] = _one(units.get(name), name, containers.get(name), engine, roster)
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=fill, args=(name,), daemon=True) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    services = [rows[name] for name in names]
    services += [ServiceStatus(name=s.name, role="service", state="unavailable", ready=False, detail=s.reason)
                 for s in roster.skipped]
    links = {label: url for name, urls in roster.links.items() if name in rows and rows[name].ready
             for label, url in urls.items()}
    return StatusReport(project=roster.project, services=services, links=links)


def engine_for(address: str | None, project: Project | None = None) -> StatusEngine:
    try:
        return engine_api.DockerSocket(address)
    except engine_api.UnsupportedEngineAddress:
        if project is None:
            raise
        return project.engine


def collect_status(project: Project) -> StatusReport:
    return collect(roster_of(project.stack, project.settings), engine_for(project.settings.docker_host, project))


# -- rendering ----------------------------------------------------------------------------------------------

def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def render_table(report: StatusReport, colour: bool) -> str:
    """One line per service, columns aligned; ready in colour on a terminal (and never with NO_COLOR)."""
    styles = {"yes": "32", "no": "31", "n/a": "2"}
    rows = []
    for s in report.services:
        ready = "yes" if s.ready else ("n/a" if s.state == "unavailable" else "no")
        ports = " ".join(f"127.0.0.1:{h}->{c}" for c, h in s.ports.items())
        rows.append([s.name, s.state, ready, s.health or "", _uptime(s.uptime_s), str(s.restarts), ports, s.image,
                     s.detail if not s.ready else ""])
    widths = [max(len(row[i]) for row in [list(COLUMNS), *rows]) for i in range(len(COLUMNS))]

    def line(cells: list[str], style_of: Callable[[int, str], str | None]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            text = cell.ljust(widths[i]) if i < len(cells) - 1 else cell
            style = style_of(i, cell)
            padded.append(f"\x1b[{style}m{cell}\x1b[0m{text[len(cell):]}" if colour and style else text)
        return "  ".join(padded).rstrip()

    out = [line(list(COLUMNS), lambda i, cell: "1")]
    out += [line(row, lambda i, cell: styles.get(cell) if i == 2 else None) for row in rows]
    return "\n".join(out) + "\n"


def write_report(report: StatusReport, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.stdout.write(render_table(report, colour))
        sys.stdout.write("".join(f"{label}: {url}\n" for label, url in report.links.items()))
    sys.stdout.flush()
    return 0 if report.all_ready else 1


def fast_main(args: list[str]) -> int | None:
    """`fovea status [--json]` without typer or the stack: an exit code, or None when this path cannot
    answer exactly (other options, --help, no roster for the current inputs, an engine address only
    the docker SDK speaks) and the full CLI must."""
    if any(arg != "--json" for arg in args):
        return None
    roster = remembered_roster()
    if roster is None:
        return None
    try:
        engine = engine_for(roster.docker_host)
        report = collect(roster, engine)
    except engine_api.UnsupportedEngineAddress:
        return None
    except FoveaError as exc:
        sys.stderr.write(f"fovea: {exc}\n")
        return exc.exit_code
    return write_report(report, "--json" in args)
