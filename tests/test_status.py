"""`fovea status`: answered by the standard library alone (no typer, pydantic, docker SDK), still probing
every service now: Redis with AUTH from the project's secret, an RQ worker by its registration in Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fovea_ctl.ops.status import collect_status
from fovea_ctl.reconcile.roster import remembered_roster
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
                capabilities=["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"],
                env={{"REDIS_PASSWORD_FILE": "/run/secrets/redis_password"}},  # the image's entrypoint: requirepass from the file
                command=["redis-server", "--bind", "0.0.0.0"],
                probe=RedisProbe(budget_s=30)),
        Service(name="worker", image=backend, user="0", secrets=["redis_password"], depends_on={{"redis": "ready"}},
                entrypoint=["python3", "-c", WORKER], probe=RqWorkerProbe(redis="redis", budget_s=90)),
        Service(name="setup", image=redis, command=["true"], one_shot=True,
                capabilities=["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]),
    ])
'''

HEAVY = ("typer", "click", "rich", "pydantic", "pydantic_settings", "docker", "requests", "fovea_ctl.model",
         "fovea_ctl.core.context", "fovea_ctl.reconcile.project")

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
    assert "fovea_ctl.ops.status" in imported and "socket" in imported  # the listing is complete
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
    with project.writing():
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


def test_no_file_fovea_keeps_under_its_state_folder_holds_a_secret_or_is_open_to_others(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    """Before: `FOVEA_SECRET_<NAME>=value` and the whole `.env` were copied into status-roster.json, 0644 in a
    0755 folder. Now the roster keeps a keyed digest of its inputs, and everything fovea writes under
    `.fovea/` (roster, lock, hash key, content hashes, build logs, restore journal) is 0600 in 0700."""
    import secrets as random

    root = write_stack_root(tmp_path, AUTH_STACK)
    supplied, in_dotenv = f"supplied-{random.token_hex(16)}", f"dotenv-{random.token_hex(16)}"
    (root / ".env").write_text(f"FOVEA_SCALE=\nSOME_API_TOKEN={in_dotenv}\n")
    project = make_project(root=root)
    env = {**make_project.env(project), "FOVEA_SECRET_REDIS_PASSWORD": supplied}
    for command in (["up"], ["status", "--json"], ["status"], ["plan"], ["config"]):
        result = run_fovea(command, env)
        assert result.returncode == 0, (command, result.stdout + result.stderr)
    assert any(r["name"] == "redis" and r["ready"] for r in json.loads(run_fovea(["status", "--json"], env).stdout)["services"])

    state = root / ".fovea"
    written = sorted(state.rglob("*"))
    assert (state / project.settings.project / "status-roster.json") in written
    assert (state / project.settings.project / "project.lock") in written
    assert state.stat().st_mode & 0o777 == 0o700
    loose = [(str(p.relative_to(state)), oct(p.stat().st_mode & 0o777)) for p in written
             if p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)]
    assert loose == []
    for path in written:
        if path.is_file():
            content = path.read_bytes()
            assert supplied.encode() not in content and in_dotenv.encode() not in content, path
    roster = json.loads((state / project.settings.project / "status-roster.json").read_text())
    assert len(roster["fingerprint"]) == 64 and set(roster["fingerprint"]) <= set("0123456789abcdef")
