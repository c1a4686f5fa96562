"""`fovea up` against a real engine with fovea-built images: ordering, convergence, failures, secrets."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fovea_ctl.model import (
    ROOT_ENTRYPOINT_CAPABILITIES,
    BuildRecipe,
    Condition,
    ConfigFile,
    ExecProbe,
    ImageSpec,
    Port,
    RedisProbe,
    Resources,
    Service,
    Stack,
)
from fovea_ctl.settings.effective import Settings
from tests.conftest import ProjectFactory, RecordingReporter, compose_binary, host_clip, run_fovea, write_stack_root

REDIS = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="stack/images/redis"))


def redis_service(name: str, **kwargs: object) -> Service:
    return Service(name=name, image=REDIS, command=["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"],
                   capabilities=ROOT_ENTRYPOINT_CAPABILITIES, **kwargs)  # type: ignore[arg-type]


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

    from fovea_ctl.ops.status import collect_status

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
            Service(name="crasher", image=REDIS, capabilities=ROOT_ENTRYPOINT_CAPABILITIES,
                    command=["sh", "-c", "echo boom from crasher; exit 3"], probe=RedisProbe(budget_s=30)),
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


def test_a_dependency_that_fails_to_create_stops_its_started_dependents(make_project: ProjectFactory) -> None:
    """`started` means its container runs: one the engine refused to create never counts as started."""
    def stack(settings: Settings) -> Stack:
        return Stack(name=settings.project, port_base=settings.port_base, services=[
            # The engine refuses a memory limit under 6 MB at create time.
            redis_service("uncreatable", resources=Resources(memory_mb=1)),
            redis_service("needs-it-started", depends_on={"uncreatable": Condition.STARTED}),
        ])

    project = make_project(stack)
    reporter = RecordingReporter()
    _, result = project.up(reporter)
    failures = {f.unit: f for f in result.failures}
    assert failures["uncreatable"].kind == "engine error", failures["uncreatable"].describe()
    assert failures["needs-it-started"].kind == "dependency failed", failures["needs-it-started"].describe()
    assert not [e for e in reporter.events if e[1] == "needs-it-started" and e[2] == "starting"]
    assert not project.observe().containers["needs-it-started"].running  # created, never started


FAILING_STACK = '''
from fovea_ctl.model import ROOT_ENTRYPOINT_CAPABILITIES as CAPS, BuildRecipe, ImageSpec, ExecProbe, Service, Stack
def build_stack(settings):
    image = ImageSpec(recipe=BuildRecipe(name="fovea/redis", context="@REPO@/stack/images/redis"))
    return Stack(name=settings.project, port_base=settings.port_base, services=[
        Service(name="never-ready", image=image, command=["redis-server"], capabilities=CAPS,
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


SLOW_BUILD_STACK = '''
from fovea_ctl.model import BuildRecipe, ImageSpec, Service, Stack
def build_stack(settings):
    image = ImageSpec(recipe=BuildRecipe(name="fovea/test-slow-build", context="images/slow"))
    return Stack(name=settings.project, port_base=settings.port_base, services=[
        Service(name="slow", image=image, command=["true"]),
    ])
'''


def test_timeout_bounds_an_image_build_and_kills_it(make_project: ProjectFactory, tmp_path: Path) -> None:
    import uuid

    root = write_stack_root(tmp_path, SLOW_BUILD_STACK)
    marker = f"fovea-slow-build-{uuid.uuid4().hex[:8]}"  # also makes the build unique: no cache can answer it
    (root / "images" / "slow").mkdir(parents=True)
    (root / "images" / "slow" / "Dockerfile").write_text(f"FROM debian:trixie-slim\nRUN sleep 600 # {marker}\n")
    project = make_project(root=root)
    started = time.monotonic()
    result = run_fovea(["up", "--timeout", "5"], make_project.env(project), timeout=180)
    assert result.returncode == 5, result.stderr
    assert "run timed out after 5 s" in result.stderr
    assert time.monotonic() - started < 120  # not the 600 s the build would take
    # the build client is gone, and so is the build's `sleep` (BuildKit cancels the solve)
    deadline = time.monotonic() + 60
    while marker in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, "the build still runs after the timeout"
        time.sleep(1)


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


# Every process's argv, and the environment of each one but a running HEALTHCHECK's redis-cli (which holds
# REDISCLI_AUTH for its few milliseconds: readable only by root in the container, by design).
PROCESS_DUMP = ('for p in /proc/[0-9]*; do cat "$p/cmdline"; '
                'tr "\\0" " " < "$p/cmdline" | grep -q "^redis-cli" || cat "$p/environ"; done 2>/dev/null')


def test_secrets_never_leak_but_work(make_project: ProjectFactory) -> None:
    import psycopg
    import redis

    project = make_project()
    env = make_project.env(project)
    up = run_fovea(["up", "--json", "postgres", "redis"], env)
    assert up.returncode == 0, up.stderr
    passwords = {name: project.secrets.value(name) for name in ("postgres_password", "redis_password")}
    for name, password in passwords.items():
        assert len(password) >= 32
        secret_file = project.secrets.path(name)
        assert secret_file.stat().st_mode & 0o777 == 0o600
        assert secret_file.parent.stat().st_mode & 0o777 == 0o700

    for service in ("postgres", "redis"):
        container = project.observe().containers[service]
        inspect = json.dumps(project.engine.inspect_raw(container.id))
        _, proc = project.engine.exec(container.id, ["sh", "-c", PROCESS_DUMP])
        for password in passwords.values():
            assert password not in inspect, service
            assert password.encode() not in proc, service
    outputs = [up.stdout, up.stderr]
    status = run_fovea(["status", "--json"], env)
    rows = {row["name"]: row for row in json.loads(status.stdout)["services"]}
    for service in ("postgres", "redis"):  # the quick wire-protocol probes (redis: AUTH, then PING)
        assert rows[service]["ready"] and rows[service]["detail"] == "probe passed", rows[service]
    for args in (["status", "--json"], ["config"], ["render", "compose"], ["render", "swarm"], ["render", "k8s"],
                 ["render", "k8s-secrets"], ["logs"], ["secrets", "list"], ["plan"]):
        result = run_fovea(args, env)
        outputs += [result.stdout, result.stderr]
    assert all(password not in text for text in outputs for password in passwords.values())
    # docker compose sees a fovea project by its labels
    listed = subprocess.run([compose_binary(), "-p", project.settings.project, "ps", "--format", "json"],
                            capture_output=True, text=True, cwd="/")
    assert '"Service":"postgres"' in listed.stdout.replace(" ", ""), listed.stdout + listed.stderr
    # ... and the one explicit way shows it
    assert run_fovea(["secrets", "show", "postgres_password"], env).stdout.strip() == passwords["postgres_password"]

    # Redis refuses whoever does not know the password: an unauthenticated PING from the host, a wrong one.
    redis_port = project.stack.host_port(project.stack.units["redis"].ports[0])
    with socket.create_connection(("127.0.0.1", redis_port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(100).startswith(b"-NOAUTH"), "redis answered an unauthenticated PING"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=redis_port, password="wrong", socket_timeout=5).ping()
    assert redis.Redis(host="127.0.0.1", port=redis_port, password=passwords["redis_password"], socket_timeout=5).ping()
    password = passwords["postgres_password"]

    port = project.stack.host_port(project.stack.units["postgres"].ports[0])
    with psycopg.connect(host="127.0.0.1", port=port, user="fovea_app", dbname="fovea", password=password) as conn:
        # the application's role: pgvector is there (the image's entrypoint made it, as the superuser)
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone() == ("vector",)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="fovea_app", dbname="fovea", password="wrong").close()


def test_redis_probe_counts_neither_noauth_nor_an_open_server_as_ready(make_project: ProjectFactory) -> None:
    """NOAUTH proves a live Redis but one whose clients are refused; a password the server does not ask
    for means it is open. Neither is ready; with the password, AUTH + PING is."""
    from fovea_ctl.model import Secret

    def stack(settings: Settings) -> Stack:
        locked = {"env": {"REDIS_PASSWORD_FILE": "/run/secrets/pw"}, "secrets": ["pw"]}
        return Stack(name=settings.project, port_base=settings.port_base, secrets=[Secret(name="pw")], services=[
            Service(name="locked-no-password-given", image=REDIS, ports=[Port(container=6379)],
                    capabilities=ROOT_ENTRYPOINT_CAPABILITIES,
                    probe=RedisProbe(budget_s=2), **locked),  # type: ignore[arg-type]
            redis_service("open-but-password-given", ports=[Port(container=6379, host=6380)], secrets=["pw"],
                          probe=RedisProbe(password_secret="pw", budget_s=2)),
            Service(name="locked-and-given", image=REDIS, ports=[Port(container=6379, host=6381)],
                    capabilities=ROOT_ENTRYPOINT_CAPABILITIES,
                    probe=RedisProbe(password_secret="pw", budget_s=30), **locked),  # type: ignore[arg-type]
        ])

    project = make_project(stack)
    _, result = project.up(RecordingReporter())
    failures = {f.unit: f.detail for f in result.failures}
    assert set(failures) == {"locked-no-password-given", "open-but-password-given"}, failures
    assert "NOAUTH" in failures["locked-no-password-given"]
    assert "AUTH answered" in failures["open-but-password-given"]
    assert "without any password configured" in failures["open-but-password-given"]


def test_publish_user_facing_publishes_only_the_app_and_probes_the_rest_by_exec(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    """FOVEA_PUBLISH=user-facing: only what a person opens listens on 127.0.0.1 — the app (the frontend,
    which proxies /api/ and the read-only /prometheus/) — while postgres, redis, the collector, Prometheus
    and the backend are still proven ready (through `docker exec`, Prometheus with its credential) and
    `videos add` reaches the backend through the app."""
    project = make_project(publish="user-facing")
    env = {**make_project.env(project), "FOVEA_PUBLISH": "user-facing"}
    up = run_fovea(["up", "frontend"], env, timeout=600)
    assert up.returncode == 0, up.stderr
    containers = project.observe().containers
    for internal in ("postgres", "redis", "otel-collector", "prometheus", "backend"):
        assert containers[internal].ports == {}, (internal, containers[internal].ports)
        port = project.settings.port_base + project.stack.units[internal].ports[0].container
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert containers["frontend"].ports == {3000: project.settings.port_base + 3000}
    status = json.loads(run_fovea(["status", "--json"], env).stdout)
    rows = {row["name"]: row for row in status["services"] if row["state"] not in ("absent", "unavailable")}
    assert all(row["ready"] for row in rows.values()), [(n, r["detail"]) for n, r in rows.items()]
    assert run_fovea(["plan", "frontend"], env).stdout.strip() == "nothing to do"
    clip = host_clip(tmp_path / "through-the-app.mp4", seconds=1, size="64x64")
    added = run_fovea(["videos", "add", str(clip)], env)
    assert added.returncode == 0, added.stderr
    rendered = run_fovea(["render", "compose"], env).stdout
    compose = yaml.safe_load(rendered)
    assert [name for name, service in compose["services"].items() if "ports" in service] == ["frontend"]


def test_down_keeps_critical_volumes_and_data_survives(make_project: ProjectFactory) -> None:
    import psycopg

    project = make_project()
    env = make_project.env(project)
    assert run_fovea(["up", "postgres", "redis"], env).returncode == 0
    port = project.stack.host_port(project.stack.units["postgres"].ports[0])
    password = project.secrets.value("postgres_password")
    dsn = dict(host="127.0.0.1", port=port, user="fovea_app", dbname="fovea", password=password)
    with psycopg.connect(**dsn) as conn:
        conn.execute("CREATE TABLE keep_me (v text)")
        conn.execute("INSERT INTO keep_me VALUES ('still here')")

    # What a backup killed with SIGKILL leaves behind (no `finally` runs): its helper, holding redis' volume.
    from fovea_ctl.data.backup.containers import image_for
    from fovea_ctl.docker.labels import helper_labels

    leftover = f"{project.settings.project}-helper-killed"
    with project.writing():
        project.engine.run_helper(leftover, image_for(project, project.stack.units["redis"]),
                                  helper_labels(project.settings.project),
                                  volume_mounts=[(f"{project.settings.project}_redis-data", "/v", True)])

    down = run_fovea(["down", "--volumes"], env)
    assert down.returncode == 0, down.stderr
    assert f"kept volume {project.settings.project}_postgres-data" in down.stderr
    assert f"removed volume {project.settings.project}_redis-data" in down.stderr
    assert not project.observe().containers
    assert not project.engine.list_helpers(project.settings.project)

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


