"""The operator verbs against one real stack (module-scoped, shared by every test here): exec, psql,
redis-cli, shell, stats, df, doctor, stop/start/restart in dependency order, the backup schedule's exact
commands, and image prune on images this test makes (never anyone else's)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fovea_ctl.errors import UsageError
from fovea_ctl.ops import schedule as schedules
from fovea_ctl.ops.exec import find_shell, running_container
from tests.conftest import FOVEA, ROOT
from tests.test_backup import VIDEOS, Live, live_stack


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from live_stack(tmp_path_factory, "ops")


def fovea(live: Live, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin closed (no TTY, nothing to read): what a script or CI sees."""
    return subprocess.run([*FOVEA, *args], env=live.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def in_a_terminal(live: Live, *args: str, seconds: float, interrupt: bool = False) -> tuple[int, str]:
    """The CLI on a pseudo-terminal (what a person at a shell runs it in): its exit code and everything it
    drew within `seconds`; with `interrupt`, then a Ctrl-C (SIGINT) as a terminal sends it."""
    import pty
    import select
    import signal
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: fovea, attached to the terminal
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job inherits it ignored; a terminal's not
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "fovea_ctl", *args],
                  {**live.env, "COLUMNS": "160", "LINES": "40", "TERM": "xterm"})
    output = bytearray()
    deadline = time.monotonic() + seconds
    interrupted = False
    while True:
        if interrupt and not interrupted and time.monotonic() > deadline:
            os.kill(pid, signal.SIGINT)
            interrupted, deadline = True, time.monotonic() + 30
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal: it exited
                break
            if not chunk:
                break
            output += chunk
        elif time.monotonic() > deadline + 60 or (interrupted and time.monotonic() > deadline):
            os.kill(pid, signal.SIGKILL)  # it did not end: the exit code says so
            break
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def running(live: Live) -> set[str]:
    return {name for name, c in live.project.observe().containers.items() if c.running}


# -- exec, psql, redis-cli, shell -----------------------------------------------------------------------
def test_exec_passes_the_commands_output_and_exit_code_through(live: Live) -> None:
    said = fovea(live, "exec", "backend", "sh", "-c", "echo hello from $(hostname); exit 3")
    assert said.returncode == 3, said.stderr
    assert said.stdout.startswith("hello from ")
    assert fovea(live, "exec", "-u", "root", "backend", "id", "-u").stdout.strip() == "0"
    assert fovea(live, "exec", "backend", "tty").stdout.strip() == "not a tty"  # stdin is no terminal: no TTY


def test_exec_from_a_terminal_gets_a_tty_and_still_its_exit_code(live: Live) -> None:
    code, drawn = in_a_terminal(live, "exec", "backend", "sh", "-c", "tty; exit 4", seconds=60)
    assert code == 4 and "/dev/pts/" in drawn, drawn


def test_exec_into_an_unknown_service_is_a_usage_error(live: Live) -> None:
    done = fovea(live, "exec", "nope", "ls")
    assert done.returncode == 2 and "unknown service nope" in done.stderr


def test_psql_runs_sql_in_the_applications_database_without_a_password(live: Live) -> None:
    done = fovea(live, "psql", "SELECT current_database() || ':' || current_user")
    assert done.returncode == 0, done.stderr
    assert "fovea:fovea" in done.stdout
    failed = fovea(live, "psql", "SELECT * FROM no_such_table")
    assert failed.returncode != 0 and "no_such_table" in failed.stderr


def test_redis_cli_authenticates_from_the_secret_file_and_never_shows_it(live: Live) -> None:
    password = live.project.secrets.value("redis_password")
    done = fovea(live, "redis-cli", "PING")
    assert done.returncode == 0 and done.stdout.strip() == "PONG", done.stderr
    assert password not in done.stdout + done.stderr
    # While one runs (blocked 3 s on an empty list): the password is in no argv on the host, in the
    # container's process list, or in the engine's record of the exec.
    blocked = subprocess.Popen([*FOVEA, "redis-cli", "BLPOP", "ops-test-empty", "3"], env=live.env, cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        host_argv = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        redis = running_container(live.project, "redis")
        in_container = subprocess.run(["docker", "top", redis.id, "-eo", "pid,args"], capture_output=True, text=True).stdout
        assert "BLPOP ops-test-empty" in in_container and "BLPOP ops-test-empty" in host_argv
        assert password not in host_argv and password not in in_container
        exec_ids = live.project.engine.inspect_raw(redis.id).get("ExecIDs") or []
        assert exec_ids and all(password not in json.dumps(live.project.engine.api.exec_inspect(e)) for e in exec_ids)
    finally:
        out, err = blocked.communicate(timeout=30)
    assert blocked.returncode == 0, err
    assert password not in out + err


def test_shell_runs_and_a_service_without_one_is_refused(live: Live) -> None:
    done = fovea(live, "shell", "backend")  # stdin is /dev/null: the shell reads nothing and exits 0
    assert done.returncode == 0, done.stderr
    container = running_container(live.project, "backend")
    assert find_shell(live.project, container, "backend") == "bash"
    with pytest.raises(UsageError, match="backend has no shell \\(tried fish, zsh9\\)"):
        find_shell(live.project, container, "backend", candidates=("fish", "zsh9"))


# -- stats, df, doctor --------------------------------------------------------------------------------
def test_stats_reports_each_running_service_against_its_limit(live: Live) -> None:
    done = fovea(live, "stats", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["service"]: row for row in json.loads(done.stdout)}
    assert {"postgres", "redis", "backend"} <= set(rows)
    postgres = rows["postgres"]
    assert postgres["memory_limit_bytes"] == 1024 * 2**20 and 0 < postgres["memory_bytes"] < postgres["memory_limit_bytes"]
    assert postgres["memory_percent"] == pytest.approx(postgres["memory_bytes"] / 2**30 * 100, abs=0.01)
    assert rows["backend"]["net_rx_bytes"] > 0 and rows["backend"]["cpu_limit"] == 2.0
    table = fovea(live, "stats", "--no-stream", "postgres")
    assert table.returncode == 0 and "MEM USAGE / LIMIT" in table.stdout and "1.0 GB" in table.stdout
    assert "backend" not in table.stdout


def test_stats_in_a_terminal_is_a_live_table_until_ctrl_c(live: Live) -> None:
    code, drawn = in_a_terminal(live, "stats", "--interval", "0.5", seconds=8, interrupt=True)
    assert code == 0, drawn  # Ctrl-C is how a live view is left, not a failure
    assert drawn.count("MEM USAGE / LIMIT") >= 2, drawn  # redrawn in place, sample after sample
    assert "postgres" in drawn and "\x1b[" in drawn


def test_df_reports_volumes_by_priority_class_and_backups(live: Live) -> None:
    live.backup("critical")
    done = fovea(live, "df", "--json")
    assert done.returncode == 0, done.stderr
    usage = json.loads(done.stdout)
    classes = {c["priority"]: c for c in usage["volumes"]}
    assert set(classes["critical"]["volumes"]) == {"postgres-data", "video-data"}
    assert classes["critical"]["volumes"]["video-data"] >= sum(VIDEOS.values())  # the seeded videos
    assert usage["backups"]["count"] >= 1 and usage["backups"]["bytes"] > 0
    assert usage["images"]["count"] >= 5


def test_doctor_passes_on_a_healthy_stack_and_names_the_fix_for_a_failing_check(live: Live) -> None:
    done = fovea(live, "doctor", "--json")
    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {"engine", "client", "buildkit", "disk", "ports", "secrets", "images", "gpu", "clock"}
    for name in ("engine", "client", "buildkit", "ports", "secrets", "clock", "gpu"):
        assert checks[name]["ok"], checks[name]
    secret = live.project.secrets.path("admin_password")
    secret.chmod(0o644)
    try:
        failing = fovea(live, "doctor")
    finally:
        secret.chmod(0o600)
    assert failing.returncode == 1
    line = next(line for line in failing.stdout.splitlines() if "secrets" in line)
    assert line.startswith("✗ secrets") and "admin_password is 0o644" in line
    assert "fix: chmod 700" in failing.stdout


# -- stop, start, restart -------------------------------------------------------------------------------
def test_stop_postgres_stops_what_needs_it_then_start_brings_all_back_ready(live: Live) -> None:
    before = {name: c.id for name, c in live.project.observe().containers.items()}
    try:
        stopped = fovea(live, "stop", "postgres")
        assert stopped.returncode == 0, stopped.stderr
        # Only what runs and needs postgres is named (the finished migration job and the absent frontend not).
        assert "fovea: also stopping backend (it needs postgres)\n" in stopped.stderr
        assert {"postgres", "backend"}.isdisjoint(running(live)) and {"redis", "prometheus"} <= running(live)
        lines = stopped.stderr.splitlines()
        assert lines.index("stopped backend") < lines.index("stopped postgres")  # dependents first
        refused = fovea(live, "exec", "postgres", "true")
        assert refused.returncode == 6 and "postgres is not running" in refused.stderr
        assert "fovea start postgres" in refused.stderr
    finally:
        started = fovea(live, "start")  # the shared stack goes on running for the tests after this one
    assert started.returncode == 0, started.stderr
    assert {"postgres", "backend"} <= running(live)
    after = {name: c.id for name, c in live.project.observe().containers.items()}
    assert after == before  # started again, not recreated
    ready = {s["name"]: s["ready"] for s in json.loads(fovea(live, "status", "--json").stdout)["services"]}
    assert all(ready[name] for name in ("postgres", "redis", "backend")), ready
    assert "nothing is stopped" in fovea(live, "start").stderr


def test_restart_redis_restarts_its_dependents_and_waits_until_ready(live: Live) -> None:
    started_at = {name: live.project.engine.inspect_container(c.id).started_at
                  for name, c in live.project.observe().containers.items() if c.running}
    done = fovea(live, "restart", "redis")
    assert done.returncode == 0, done.stderr
    assert "also stopping backend" in done.stderr and "services ready" in done.stderr
    assert "postgres" not in done.stderr.splitlines()[0]
    now = {name: live.project.engine.inspect_container(c.id).started_at
           for name, c in live.project.observe().containers.items() if c.running}
    assert now["redis"] > started_at["redis"] and now["backend"] > started_at["backend"]
    assert now["postgres"] == started_at["postgres"]  # not a dependent of redis: untouched
    assert fovea(live, "redis-cli", "PING").stdout.strip() == "PONG"


def test_upgrade_of_a_converged_stack_has_nothing_to_do(live: Live) -> None:
    done = fovea(live, "upgrade", "backend", "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["ok"] and outcome["plan"] == "nothing to do" and outcome["backup_id"] is None
    assert "nothing to upgrade" in done.stderr
    refused = fovea(live, "upgrade", "--rollback")
    assert refused.returncode == 2 and "no upgrade of project" in refused.stderr


def test_stop_and_start_refuse_an_unknown_service(live: Live) -> None:
    for verb in ("stop", "start", "restart"):
        done = fovea(live, verb, "nope")
        assert done.returncode == 2 and "unknown service nope" in done.stderr, (verb, done.stderr)


# -- the backup schedule's very commands ------------------------------------------------------------------
def test_the_scheduled_units_command_backs_up_verified_and_prunes(live: Live, tmp_path: Path) -> None:
    chosen = schedules.parse_schedule("02:00", "critical", 1, tmp_path / "scheduled backups")
    installed = schedules.install(live.project, chosen, scheduler="systemd", unit_dir=tmp_path / "units", activate=False)
    service = Path(installed.where[0]).read_text()
    env: dict[str, str] = {"PATH": os.environ["PATH"]}
    for line in service.splitlines():
        if line.startswith("Environment="):
            key, _, value = shlex.split(line.removeprefix("Environment="))[0].partition("=")
            env[key] = value
    workdir = next(line.removeprefix("WorkingDirectory=") for line in service.splitlines()
                   if line.startswith("WorkingDirectory="))
    starts = [shlex.split(line.removeprefix("ExecStart=")) for line in service.splitlines() if line.startswith("ExecStart=")]
    for _ in range(2):  # two runs: the second one's prune (--keep 1) removes the first backup
        for command in starts:
            ran = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=600,
                                 stdin=subprocess.DEVNULL)
            assert ran.returncode == 0, ran.stderr
        time.sleep(1.1)  # backup ids are per second
    listed = fovea(live, "backup", "list", "--json", "--dir", str(tmp_path / "scheduled backups"))
    backups = json.loads(listed.stdout)
    assert len(backups) == 1 and backups[0]["verified"] is True and backups[0]["class"] == "critical"


# -- images prune ---------------------------------------------------------------------------------------
def _tiny_image(recipe: str, tag: str, content: bytes, folder: Path) -> str:
    """An image of `recipe` (labelled as fovea's builds are) holding one file of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "payload").write_bytes(content)
    (folder / "Dockerfile").write_text(f"FROM scratch\nCOPY payload /payload\nLABEL io.fovea.recipe={recipe}\n")
    ref = f"{recipe}:{tag}"
    built = subprocess.run(["docker", "build", "-q", "-t", ref, str(folder)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return ref


def test_images_prune_keeps_used_current_and_newest_previous_tags(live: Live, tmp_path: Path) -> None:
    recipe = f"fovea/prunetest-{uuid.uuid4().hex[:8]}"
    refs = []
    for number in range(4):  # oldest first, a second apart (the engine's Created is in seconds)
        refs.append(_tiny_image(recipe, f"v{number}", os.urandom(200_000 + number), tmp_path / f"v{number}"))
        time.sleep(1.1)
    holder = f"prunetest-{uuid.uuid4().hex[:8]}"
    created = subprocess.run(["docker", "create", "--name", holder, refs[2], "/payload"], capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    try:
        dry = fovea(live, "images", "prune", recipe, "--keep", "1", "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["removed"] == [refs[0], refs[1]]
        assert all(subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0 for ref in refs)
        done = fovea(live, "images", "prune", recipe, "--keep", "1", "--json")
        result = json.loads(done.stdout)
        assert result["removed"] == [refs[0], refs[1]]
        assert result["kept"][refs[2]] == "a container uses it" and "previous tag 1" in result["kept"][refs[3]]
        assert 400_000 <= result["freed_bytes"] < 500_000  # the two payloads, each the image's own layer
        present = [ref for ref in refs if subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0]
        assert present == [refs[2], refs[3]]
        text = fovea(live, "images", "prune", recipe, "--keep", "0")
        assert text.returncode == 0 and f"removed {refs[3]}" in text.stderr and "freed 195.3 KB" in text.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", holder], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", *refs], capture_output=True)


def test_images_prune_refuses_an_unknown_image(live: Live) -> None:
    done = fovea(live, "images", "prune", "fovea/nothing-like-this")
    assert done.returncode == 2 and "no fovea image of fovea/nothing-like-this" in done.stderr


NO_CACHE_STACK = '''
from fovea_ctl.model import BuildRecipe, ImageSpec, Service, Stack
def build_stack(settings):
    image = ImageSpec(recipe=BuildRecipe(name="fovea/nocachetest", context="images/stamp"))
    return Stack(name=settings.project, port_base=settings.port_base,
                 services=[Service(name="stamp", image=image, command=["true"], one_shot=True)])
'''


def test_images_build_no_cache_rebuilds_a_present_image_from_scratch(make_project, tmp_path: Path) -> None:
    from tests.conftest import run_fovea, write_stack_root

    root = write_stack_root(tmp_path, NO_CACHE_STACK)
    context = root / "images" / "stamp"
    context.mkdir(parents=True)
    (context / "marker").write_text(uuid.uuid4().hex)  # a content hash of its own: built here, not found
    # The RUN's output differs on every real run, so only a cached step gives the same image again.
    (context / "Dockerfile").write_text("FROM debian:trixie-slim\nCOPY marker /marker\nRUN date +%s%N > /stamp\n")
    project = make_project(root=root)
    env = make_project.env(project)
    image = project.resolver().resolve(project.stack.units["stamp"])
    try:
        assert run_fovea(["images", "build"], env, timeout=600).returncode == 0
        first = project.engine.image_id(image.ref)
        again = run_fovea(["images", "build"], env, timeout=600)
        assert again.returncode == 0 and f"{image.ref}" in again.stderr and "present" in again.stderr
        assert project.engine.image_id(image.ref) == first
        rebuilt = run_fovea(["images", "build", "--no-cache", "stamp"], env, timeout=600)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "1 images built" in rebuilt.stderr
        assert project.engine.image_id(image.ref) not in (None, first)  # same tag, a new image: the RUN ran again
    finally:
        subprocess.run(["docker", "rmi", "-f", image.ref], capture_output=True)


# -- upgrade ------------------------------------------------------------------------------------------------
def _checkout_copy(destination: Path) -> Path:
    """This checkout's files (what the stack builds from), as a second checkout the test may change."""
    import shutil

    skip = shutil.ignore_patterns(".git", ".venv", "node_modules", ".fovea", "backups", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT, destination, ignore=skip, symlinks=True)
    return destination


def test_an_upgrade_whose_migration_fails_is_rolled_back_to_the_old_schema_and_images(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Its own project: the upgrade changes the checkout, which the shared stack's must not see."""
    from tests.conftest import ProjectFactory, RecordingReporter, engine_available

    if not engine_available():
        if os.environ.get("CI"):
            pytest.fail("no Docker engine answers")
        pytest.skip("no Docker engine on this machine")
    root = _checkout_copy(tmp_path_factory.mktemp("upgrade") / "checkout")
    factory = ProjectFactory(tmp_path_factory.mktemp("upgrade-projects"))
    project = factory(root=root)
    env = {**factory.env(project), "FOVEA_BACKUP_DIR": str(tmp_path_factory.mktemp("upgrade-backups"))}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*FOVEA, *args], env=env, capture_output=True, text=True, timeout=900, cwd=root,
                              stdin=subprocess.DEVNULL)

    def sql(statement: str) -> str:
        done = run("psql", "-T", statement)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        _, result = project.up(RecordingReporter(), ["backend"])
        assert not result.failures, [f.describe() for f in result.failures]
        old_image = project.observe().container("backend").image  # type: ignore[union-attr]
        sql("INSERT INTO personas (name) VALUES ('written before the upgrade')")
        # The new code: one migration that changes schema and data and succeeds, then one that fails.
        migrations = root / "services" / "backend" / "migrations"
        (migrations / "0090_upgrade_probe.sql").write_text(
            f"-- {uuid.uuid4().hex}: a content hash of its own, so the new image is built now\n"
            "ALTER TABLE personas ADD COLUMN upgrade_probe int NOT NULL DEFAULT 7;\n"
            "UPDATE personas SET name = name || ' (changed by the upgrade)';\n")
        (migrations / "0091_broken.sql").write_text("SELECT 1 / 0;\n")

        new_image = project.resolver().resolve(project.stack.units["backend"]).ref
        upgraded = run("upgrade", "backend", "--json")
        assert upgraded.returncode == 5, upgraded.stderr
        outcome = json.loads(upgraded.stdout)
        assert outcome["ok"] is False and outcome["previous_images"]["backend"] == old_image
        assert outcome["backup_id"].endswith("-critical") and any("backend-migrate" in r for r in outcome["backup_reasons"])
        assert upgraded.stderr.index("build image fovea/backend") < upgraded.stderr.index("taking `backup critical")
        assert "runs backend-migrate" in upgraded.stderr and "taking `backup critical --verify` first" in upgraded.stderr
        assert "`fovea upgrade --rollback` will:" in upgraded.stderr and "restore backup " in upgraded.stderr
        assert "run the previous images again: " in upgraded.stderr and old_image in upgraded.stderr
        assert "upgrade_probe" in sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'personas'")

        refused = run("upgrade", "--rollback")  # the checkout still builds the new images
        assert refused.returncode == 2 and "backend: the checkout gives fovea/backend:" in refused.stderr, refused.stderr

        for added in ("0090_upgrade_probe.sql", "0091_broken.sql"):  # what `git checkout` of the old commit does
            (migrations / added).unlink()
        rolled = run("upgrade", "--rollback")
        assert rolled.returncode == 0, rolled.stderr
        assert "1. restore backup " in rolled.stderr and "2. run the previous images: " in rolled.stderr

        assert "upgrade_probe" not in sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'personas'")
        assert "written before the upgrade\n" in sql("SELECT name FROM personas")
        assert "90" not in sql("SELECT version FROM schema_migrations").split()
        backend = project.observe().container("backend")
        assert backend is not None and backend.running and backend.image == old_image
        assert run("upgrade", "--rollback").returncode == 2  # done: nothing left to roll back
    finally:
        factory.cleanup()
        if "new_image" in locals():
            subprocess.run(["docker", "rmi", new_image], capture_output=True)
