"""`fovea up` against a real engine with fovea-built images: ordering, convergence, failures, secrets."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fovea_ctl.model import (
    BuildRecipe,
    Condition,
    ConfigFile,
    ExecProbe,
    ImageSpec,
    Port,
    RedisProbe,
    Service,
    Stack,
)
from fovea_ctl.settings import Settings
from tests.conftest import FOVEA, compose_binary, ROOT, ProjectFactory, RecordingReporter, run_fovea, write_stack_root

REDIS = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="stack/images/redis"))


def redis_service(name: str, **kwargs: object) -> Service:
    return Service(name=name, image=REDIS, command=["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"],
                   **kwargs)  # type: ignore[arg-type]


def test_up_respects_the_dag_then_converges(make_project: ProjectFactory, tmp_path: Path) -> None:
    config = tmp_path / "extra.conf"
    config.write_text("one\n")

    def stack(settings: Settings) -> Stack:
        return Stack(name=settings.project, port_base=settings.port_base, services=[
            redis_service("queue", ports=[Port(container=6379)], probe=RedisProbe(budget_s=30)),
            redis_service("cache", ports=[Port(container=6379, host=6380)], probe=RedisProbe(budget_s=30),
                          depends_on={"queue": Condition.READY},
                          configs=[ConfigFile(source=str(config), target="/etc/extra.conf")]),
            redis_service("api", depends_on={"cache": Condition.READY}),
        ])

    project = make_project(stack)
    reporter = RecordingReporter()
    plan, result = project.up(reporter)
    assert result.ok, [f.describe() for f in result.failures]
    # each service starts only after its dependency is ready (and not before)
    assert reporter.first("cache", "starting") >= reporter.first("queue", "ready")
    assert reporter.first("api", "starting") >= reporter.first("cache", "ready")

    from fovea_ctl.status import collect_status

    assert collect_status(project).all_ready
    ids = {n: c.id for n, c in project.observe().containers.items()}
    assert project.plan().text() == "nothing to do"
    second_plan, second = project.up(RecordingReporter())
    assert second_plan.empty and second.ok
    assert {n: c.id for n, c in project.observe().containers.items()} == ids

    # editing a mounted config recreates that service and its dependents only
    config.write_text("two\n")
    plan_text = project.plan().text()
    assert f"create container cache — config hash changed: {config}" in plan_text
    assert "create container api — dependency cache recreated" in plan_text
    assert "container queue" not in plan_text
    _, third = project.up(RecordingReporter())
    assert third.ok
    after = {n: c.id for n, c in project.observe().containers.items()}
    assert after["queue"] == ids["queue"] and after["cache"] != ids["cache"] and after["api"] != ids["api"]


def test_probe_that_never_passes_and_container_that_exits(make_project: ProjectFactory) -> None:
    def stack(settings: Settings) -> Stack:
        return Stack(name=settings.project, port_base=settings.port_base, services=[
            redis_service("healthy", ports=[Port(container=6379)], probe=RedisProbe()),
            redis_service("stuck", probe=ExecProbe(command=["sh", "-c", "echo not yet >&2; exit 1"], budget_s=2)),
            Service(name="crasher", image=REDIS, command=["sh", "-c", "echo boom from crasher; exit 3"],
                    probe=RedisProbe(budget_s=30)),
            redis_service("after-stuck", depends_on={"stuck": Condition.READY}),
        ])

    project = make_project(stack)
    _, result = project.up(RecordingReporter())
    failures = {f.unit: f for f in result.failures}
    assert set(failures) == {"stuck", "crasher", "after-stuck"}
    assert failures["stuck"].kind == "not ready"
    assert "last probe error" in failures["stuck"].detail and "not yet" in failures["stuck"].detail
    assert failures["crasher"].kind == "exited" and "code 3" in failures["crasher"].detail
    assert any("boom from crasher" in line for line in failures["crasher"].log_tail)
    assert failures["after-stuck"].kind == "dependency failed" and "stuck" in failures["after-stuck"].detail
    containers = project.observe().containers
    assert containers["healthy"].running  # ready services stay up
    assert "after-stuck" not in containers or not containers["after-stuck"].running  # never started


FAILING_STACK = '''
from fovea_ctl.model import BuildRecipe, ImageSpec, ExecProbe, Service, Stack
def build_stack(settings):
    image = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="@REPO@/stack/images/redis"))
    return Stack(name=settings.project, port_base=settings.port_base, services=[
        Service(name="never-ready", image=image, command=["redis-server"],
                probe=ExecProbe(command=["sh", "-c", "echo probe says no >&2; exit 1"], budget_s=1.5)),
    ])
'''


def test_cli_exit_code_5_names_the_service_and_its_logs(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = write_stack_root(tmp_path, FAILING_STACK)
    project = make_project(root=root)
    result = run_fovea(["up"], make_project.env(project))
    assert result.returncode == 5, result.stderr
    assert "never-ready: not ready: not ready after" in result.stderr
    assert "probe says no" in result.stderr
    assert "Ready to accept connections" in result.stderr  # its log tail


def test_invalid_stack_exit_code_2(make_project: ProjectFactory, tmp_path: Path) -> None:
    source = FAILING_STACK.replace('command=["redis-server"],', 'command=["redis-server"], depends_on={"ghost": "started"},')
    project = make_project(root=write_stack_root(tmp_path, source))
    result = run_fovea(["plan"], make_project.env(project))
    assert result.returncode == 2
    assert "service 'never-ready', field depends_on: unknown service 'ghost'" in result.stderr


def test_engine_unreachable_is_one_line_and_exit_3(make_project: ProjectFactory) -> None:
    project = make_project()
    env = {**make_project.env(project), "FOVEA_DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = run_fovea(["status"], env)
    assert result.returncode == 3
    assert result.stderr.startswith("fovea: Docker engine unreachable")
    assert "Traceback" not in result.stderr


def test_sigint_during_up_then_up_converges(make_project: ProjectFactory) -> None:
    project = make_project()
    env = make_project.env(project)
    process = subprocess.Popen([*FOVEA, "up", "--json"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # interrupt once containers are being started
        if json.loads(line)["state"] == "starting":
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    engine = project.engine
    # nothing unlabelled was left behind: every container named after the project carries its labels
    for raw in engine.api.containers(all=True, filters={"name": project.settings.project}):
        assert raw["Labels"].get("io.fovea.project") == project.settings.project
    assert run_fovea(["up"], env).returncode == 0
    assert run_fovea(["plan"], env).stdout.strip() == "nothing to do"


def test_postgres_password_never_leaks_but_works(make_project: ProjectFactory) -> None:
    import psycopg

    project = make_project()
    env = make_project.env(project)
    up = run_fovea(["up", "--json", "postgres"], env)
    assert up.returncode == 0, up.stderr
    password = project.secrets.value("postgres_password")
    assert len(password) >= 32
    secret_file = project.secrets.path("postgres_password")
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert secret_file.parent.stat().st_mode & 0o777 == 0o700

    container = project.observe().containers["postgres"]
    inspect = json.dumps(project.engine.inspect_raw(container.id))
    assert password not in inspect
    code, proc = project.engine.exec(container.id, ["sh", "-c", "cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null"])
    assert password.encode() not in proc
    outputs = [up.stdout, up.stderr]
    status = run_fovea(["status", "--json"], env)
    postgres_row = next(row for row in json.loads(status.stdout)["services"] if row["name"] == "postgres")
    assert postgres_row["ready"] and postgres_row["detail"] == "probe passed"  # the quick wire-protocol probe
    for args in (["status", "--json"], ["config"], ["render", "compose"], ["logs"], ["secrets", "list"], ["plan"]):
        result = run_fovea(args, env)
        outputs += [result.stdout, result.stderr]
    assert all(password not in text for text in outputs)
    # docker compose sees a fovea project by its labels
    listed = subprocess.run([compose_binary(), "-p", project.settings.project, "ps", "--format", "json"],
                            capture_output=True, text=True, cwd="/")
    assert '"Service":"postgres"' in listed.stdout.replace(" ", ""), listed.stdout + listed.stderr
    # ... and the one explicit way shows it
    assert run_fovea(["secrets", "show", "postgres_password"], env).stdout.strip() == password

    port = project.stack.host_port(project.stack.units["postgres"].ports[0])
    with psycopg.connect(host="127.0.0.1", port=port, user="fovea", dbname="fovea", password=password) as conn:
        # pgvector is installed; the backend's migration creates the extension (see the image's entrypoint)
        assert conn.execute("SELECT name FROM pg_available_extensions WHERE name = 'vector'").fetchone() == ("vector",)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="fovea", dbname="fovea", password="wrong").close()


def test_down_keeps_critical_volumes_and_data_survives(make_project: ProjectFactory) -> None:
    import psycopg

    project = make_project()
    env = make_project.env(project)
    assert run_fovea(["up", "postgres", "redis"], env).returncode == 0
    port = project.stack.host_port(project.stack.units["postgres"].ports[0])
    password = project.secrets.value("postgres_password")
    dsn = dict(host="127.0.0.1", port=port, user="fovea", dbname="fovea", password=password)
    with psycopg.connect(**dsn) as conn:
        conn.execute("CREATE TABLE keep_me (v text)")
        conn.execute("INSERT INTO keep_me VALUES ('still here')")

    down = run_fovea(["down", "--volumes"], env)
    assert down.returncode == 0, down.stderr
    assert f"kept volume {project.settings.project}_postgres-data" in down.stderr
    assert f"removed volume {project.settings.project}_redis-data" in down.stderr
    assert not project.observe().containers

    assert run_fovea(["up", "postgres"], env).returncode == 0
    with psycopg.connect(**dsn) as conn:
        assert conn.execute("SELECT v FROM keep_me").fetchone() == ("still here",)


def test_render_compose_is_accepted_by_docker_compose(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project()
    target = tmp_path / "compose.yaml"
    result = run_fovea(["render", "compose", "-o", str(target), "--health-interval", "1"], make_project.env(project))
    assert result.returncode == 0, result.stderr
    compose = compose_binary()
    checked = subprocess.run([compose, "-f", str(target), "config", "--format", "json"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    config = json.loads(checked.stdout)
    assert config["services"]["postgres"]["healthcheck"]["interval"] in ("1s", 1000000000)
    assert config["services"]["postgres"]["ports"][0]["host_ip"] == "127.0.0.1"
    assert "postgres_password" in config["secrets"]
    frontend = config["services"]["frontend"]
    assert frontend["ports"][0]["published"] in (str(project.settings.port_base + 3000), project.settings.port_base + 3000)
    assert frontend["ports"][0]["host_ip"] == "127.0.0.1" and frontend["ports"][0]["target"] == 3000
    assert frontend["depends_on"]["backend"]["condition"] == "service_healthy"
    assert "/api/health" in " ".join(frontend["healthcheck"]["test"])


def test_project_lock_serialises_one_project_only(tmp_path: Path) -> None:
    from fovea_ctl.errors import LockTimeout
    from fovea_ctl.project import project_lock

    first = Settings(root=ROOT, project="lock-a")
    other = Settings(root=ROOT, project="lock-b")
    with project_lock(first):
        with project_lock(other):
            pass  # another project is not blocked
        with pytest.raises(LockTimeout):
            with project_lock(first, timeout_s=0.3):
                pass
