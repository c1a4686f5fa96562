"""`fovea status`: answered by the standard library alone (no typer, pydantic, docker SDK), still probing
every service now: Redis with AUTH from the project's secret, an RQ worker by its registration in Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fovea_ctl.status import StatusReport, ServiceStatus, collect_status, remembered_roster, render_table
from fovea_ctl.wire import parse_engine_time
from tests.conftest import ROOT, ProjectFactory, run_fovea, write_stack_root

# A real RQ worker (the backend image has RQ) registered in a Redis that requires a password from a secret.
WORKER = ("import socket; from redis import Redis; from rq import Queue, Worker; "
          "c = Redis(host='redis', password=open('/run/secrets/redis_password').read().strip()); "
          "Worker([Queue('q', connection=c)], connection=c, name='model-' + socket.gethostname()).work()")

AUTH_STACK = f'''
from fovea_ctl.model import BuildRecipe, ImageSpec, Port, RedisProbe, RqWorkerProbe, Secret, Service, Stack
WORKER = {WORKER!r}
def build_stack(settings):
    redis = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="@REPO@/stack/images/redis"))
    backend = ImageSpec(recipe=BuildRecipe(name="fovea/backend", context="@REPO@/services/backend"))
    return Stack(name=settings.project, port_base=settings.port_base, secrets=[Secret(name="redis_password")], services=[
        Service(name="redis", image=redis, user="0", secrets=["redis_password"], ports=[Port(container=6379)],
                env={{"REDIS_PASSWORD_FILE": "/run/secrets/redis_password"}},  # the image's entrypoint: requirepass from the file
                command=["redis-server", "--bind", "0.0.0.0"],
                probe=RedisProbe(budget_s=30)),
        Service(name="worker", image=backend, user="0", secrets=["redis_password"], depends_on={{"redis": "ready"}},
                entrypoint=["python3", "-c", WORKER], probe=RqWorkerProbe(redis="redis", budget_s=90)),
        Service(name="setup", image=redis, command=["true"], one_shot=True),
    ])
'''

HEAVY = ("typer", "click", "rich", "pydantic", "pydantic_settings", "docker", "requests", "fovea_ctl.model",
         "fovea_ctl.project")

# Runs `fovea status --json` through the console-script entry point; `-X importtime` lists on stderr every
# module the process imported (it exits with os._exit, so nothing can be asked of it afterwards).
FAST_STATUS = '''
import sys
sys.argv = ["fovea", "status", "--json"]
from fovea_ctl.cli import main
main()
'''


def imported_modules(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def rows(stdout: str) -> dict[str, dict]:
    document = json.loads(stdout)
    assert document["schema_version"] == 1
    return {row["name"]: row for row in document["services"]}


def test_status_probes_live_without_heavy_imports_and_authenticates_to_redis(make_project: ProjectFactory,
                                                                             tmp_path: Path) -> None:
    project = make_project(root=write_stack_root(tmp_path, AUTH_STACK))
    env = make_project.env(project)
    up = run_fovea(["up"], env)
    assert up.returncode == 0, up.stderr  # up's own probes: AUTH to Redis, then the worker's registration

    first = run_fovea(["status", "--json"], env)  # remembers the roster if `up` had not already
    assert first.returncode == 0, first.stdout + first.stderr
    fast = subprocess.run([sys.executable, "-X", "importtime", "-c", FAST_STATUS], env=env, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert fast.returncode == 0, fast.stdout + fast.stderr
    imported = imported_modules(fast.stderr)
    assert "fovea_ctl.status" in imported and "socket" in imported  # the listing is complete
    assert not [m for m in HEAVY if m in imported]
    listed = rows(fast.stdout)
    assert [listed[n]["detail"] for n in ("redis", "worker", "setup")] == ["probe passed", "probe passed", "completed"]
    library = {s.name: s.as_json() for s in collect_status(project).services}
    for name, row in listed.items():  # the same report as the library call (uptime moves on)
        assert {k: v for k, v in row.items() if k != "uptime_s"} == \
               {k: v for k, v in library[name].items() if k != "uptime_s"}

    # The secret holds the wrong password: AUTH is refused, and that is not ready, for Redis or its worker.
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    result = run_fovea(["status", "--json"], {**env, "FOVEA_SECRET_REDIS_PASSWORD_FILE": str(wrong)})
    assert result.returncode == 1
    listed = rows(result.stdout)
    assert not listed["redis"]["ready"] and "AUTH answered" in listed["redis"]["detail"]
    assert not listed["worker"]["ready"] and "AUTH answered" in listed["worker"]["detail"]

    # No secret at all: Redis answers NOAUTH, which is "not authenticated yet", never ready.
    result = run_fovea(["status", "--json"], {**env, "FOVEA_SECRET_REDIS_PASSWORD_FILE": str(tmp_path / "absent")})
    listed = rows(result.stdout)
    assert not listed["redis"]["ready"] and "NOAUTH" in listed["redis"]["detail"]
    assert not listed["worker"]["ready"] and "not authenticated" in listed["worker"]["detail"]
    assert result.returncode == 1

    # The worker stops: it is no longer registered (a stopped RQ worker marks itself dead / drops its key).
    project.engine.stop_container(project.observe().containers["worker"].id, 5)
    listed = rows(run_fovea(["status", "--json"], env).stdout)
    assert listed["worker"]["state"] == "exited" and not listed["worker"]["ready"]


def test_roster_memo_is_used_only_while_every_input_is_unchanged(make_project: ProjectFactory, tmp_path: Path,
                                                                monkeypatch) -> None:
    root = write_stack_root(tmp_path, AUTH_STACK)
    project = make_project(root=root)
    for key, value in make_project.env(project).items():
        if key.startswith("FOVEA_"):
            monkeypatch.setenv(key, value)
    assert run_fovea(["plan"], dict(os.environ)).returncode == 0  # any command that loads the stack remembers it
    assert remembered_roster() is not None
    stack_file = root / "stack" / "fovea_stack.py"
    stack_file.write_text(stack_file.read_text() + "\n# edited\n")
    assert remembered_roster() is None  # the stack changed: status must load it again
    assert run_fovea(["plan"], dict(os.environ)).returncode == 0
    assert remembered_roster() is not None
    monkeypatch.setenv("FOVEA_PORT_BASE", str(project.settings.port_base + 1))
    assert remembered_roster() is None  # another setting: another roster (other host ports)


def test_table_is_one_aligned_line_per_service() -> None:
    report = StatusReport("p", [
        ServiceStatus("postgres", "service", "running", True, "probe passed", "healthy", 75.0, 0, None,
                      {"5432/tcp": 25432}, "fovea/postgres:abc"),
        ServiceStatus("grafana", "service", "unavailable", False, "registry mode only"),
    ])
    lines = render_table(report, colour=False).splitlines()
    assert lines[0].split() == ["service", "state", "ready", "health", "uptime", "restarts", "ports", "image", "detail"]
    assert lines[1].split() == ["postgres", "running", "yes", "healthy", "1m", "0", "127.0.0.1:25432->5432/tcp",
                                "fovea/postgres:abc"]
    assert lines[2].split()[:3] == ["grafana", "unavailable", "n/a"] and lines[2].endswith("registry mode only")
    assert lines[0].index("state") == lines[1].index("running") == lines[2].index("unavailable")
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[32myes\x1b[0m" in render_table(report, colour=True)


def test_engine_times_parse_to_posix_seconds() -> None:
    assert parse_engine_time("0001-01-01T00:00:00Z") is None
    assert parse_engine_time("2026-12-04T00:55:14.123456789Z") == 1796345714.123456789
    assert parse_engine_time("2026-12-04T00:55:14Z") == 1796345714.0
    # The arithmetic against the standard library, over leap days, century rules and month ends.
    from datetime import UTC, datetime, timedelta

    for moment in [datetime(1970, 1, 1, tzinfo=UTC), datetime(2000, 2, 29, 23, 59, 59, tzinfo=UTC),
                   datetime(2100, 3, 1, tzinfo=UTC), datetime(2024, 12, 31, 12, 0, 1, tzinfo=UTC),
                   *(datetime(1999, 12, 25, 6, 7, 8, tzinfo=UTC) + timedelta(days=37 * n) for n in range(400))]:
        assert parse_engine_time(moment.strftime("%Y-%m-%dT%H:%M:%SZ")) == moment.timestamp(), moment
