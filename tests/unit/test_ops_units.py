"""The operator verbs' pure parts, without an engine: dependency order of stop, the backup schedule's
systemd units and cron line (checked by `systemd-analyze verify` where it exists), stats arithmetic on a
recorded engine sample, and `--help` that reads like compose's."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fovea_ctl.docker.views import stats_from_sample
from fovea_ctl.errors import UsageError
from fovea_ctl.ops import schedule as schedules
from fovea_ctl.ops.exec import psql_command, redis_cli_command, service_with_probe
from fovea_ctl.ops.lifecycle import dependents_line, stop_selection
from fovea_ctl.reconcile.project import Project
from fovea_ctl.settings.effective import Settings
from tests.conftest import ROOT
from tests.unit.warm_cli import run_fovea


@pytest.fixture(scope="module")
def offline_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The real stack file, loaded without an engine."""
    name = f"t{uuid.uuid4().hex[:8]}"
    return Project(Settings(root=ROOT, project=name, port_base=4000,
                            secrets_dir=tmp_path_factory.mktemp("secrets")))  # type: ignore[call-arg]


def test_stopping_postgres_stops_everything_that_needs_it_and_says_so(offline_project: Project) -> None:
    selection = stop_selection(offline_project, ["postgres"])
    assert selection.targets == ["postgres"]
    assert {"backend", "backend-migrate", "frontend"} <= set(selection.dependents)
    assert "redis" not in selection.dependents and "prometheus" not in selection.dependents
    assert all(target == "postgres" for target in selection.dependents.values())
    line = dependents_line(selection)
    assert line is not None and line.startswith("also stopping ") and "(they need postgres)" in line
    assert "backend" in line and "frontend" in line


def test_stopping_a_leaf_stops_nothing_else(offline_project: Project) -> None:
    selection = stop_selection(offline_project, ["frontend"])
    assert selection.units == ["frontend"] and dependents_line(selection) is None


def test_an_unknown_service_is_a_usage_error(offline_project: Project) -> None:
    with pytest.raises(UsageError, match="unknown service nope"):
        stop_selection(offline_project, ["nope"])


def test_psql_and_redis_cli_carry_no_password_in_argv(offline_project: Project) -> None:
    postgres = service_with_probe(offline_project, "postgres", "PostgreSQL")
    assert psql_command(postgres, None) == ["psql", "-U", "fovea", "-d", "fovea"]
    assert psql_command(postgres, "SELECT 1")[-2:] == ["-c", "SELECT 1"]
    redis = service_with_probe(offline_project, "redis", "Redis")
    command = redis_cli_command(redis, ["GET", "k"])
    # The password is read inside the container from the mounted file into REDISCLI_AUTH of one shell.
    assert command[:2] == ["sh", "-c"] and "/run/secrets/redis_password" in command[2]
    assert command[-2:] == ["GET", "k"] and not any("PASSWORD" in part.upper() and "=" in part and "cat" not in part
                                                     for part in command)


# -- backup schedule ---------------------------------------------------------------------------------
def test_schedule_input_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    for daily in ("25:00", "3", "03:60", "noon"):
        with pytest.raises(UsageError, match="HH:MM"):
            schedules.parse_schedule(daily, "critical", 7, tmp_path)
    with pytest.raises(UsageError, match="--class"):
        schedules.parse_schedule("03:30", "everything", 7, tmp_path)
    with pytest.raises(UsageError, match="--keep"):
        schedules.parse_schedule("03:30", "critical", 0, tmp_path)
    assert schedules.parse_schedule("3:05", "all", 2, tmp_path).daily == "03:05"


def test_systemd_units_run_backup_verify_then_prune_for_this_project(offline_project: Project, tmp_path: Path) -> None:
    chosen = schedules.parse_schedule("03:30", "critical", 5, tmp_path / "my backups")
    service = schedules.render_service(offline_project, chosen)
    timer = schedules.render_timer(offline_project, chosen)
    assert "OnCalendar=*-*-* 03:30:00" in timer and "Persistent=true" in timer
    assert f"Unit=fovea-backup-{offline_project.settings.project}.service" in timer
    starts = [line.removeprefix("ExecStart=") for line in service.splitlines() if line.startswith("ExecStart=")]
    assert starts == [f'{sys.executable} -m fovea_ctl backup critical --verify --to "{tmp_path}/my backups"',
                      f'{sys.executable} -m fovea_ctl backup prune --keep 5 --dir "{tmp_path}/my backups"']
    assert f"Environment=FOVEA_PROJECT={offline_project.settings.project}" in service
    assert "Environment=FOVEA_PORT_BASE=4000" in service and "Type=oneshot" in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_accepts_the_units(offline_project: Project, tmp_path: Path) -> None:
    chosen = schedules.parse_schedule("23:59", "important", 3, tmp_path / "backups")
    installed = schedules.install(offline_project, chosen, scheduler="systemd", unit_dir=tmp_path / "units", activate=False)
    verified = subprocess.run(["systemd-analyze", "verify", *installed.where], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr
    # And it does fail on a broken unit, so the pass above means something.
    broken = tmp_path / "units" / f"{schedules.unit_name(offline_project)}.timer"
    broken.write_text(broken.read_text().replace("OnCalendar=*-*-* 23:59:00", "OnCalendar=when-ever"))
    assert subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, timeout=60).returncode != 0


def test_show_and_remove_find_the_installed_units(offline_project: Project, tmp_path: Path) -> None:
    units = tmp_path / "units"
    assert schedules.show(offline_project, unit_dir=units) is None or shutil.which("crontab")
    chosen = schedules.parse_schedule("01:00", "critical", 7, tmp_path / "b")
    schedules.install(offline_project, chosen, scheduler="systemd", unit_dir=units, activate=False)
    shown = schedules.show(offline_project, unit_dir=units)
    assert shown is not None and "OnCalendar=*-*-* 01:00:00" in shown.text
    removed = schedules.remove(offline_project, unit_dir=units, activate=False)
    assert len([r for r in removed if r.endswith((".timer", ".service"))]) == 2 and not list(units.iterdir())


def test_cron_line_runs_the_same_commands_at_the_same_time(offline_project: Project, tmp_path: Path) -> None:
    chosen = schedules.parse_schedule("04:15", "critical", 7, tmp_path / "b")
    line = schedules.render_cron(offline_project, chosen)
    assert line.startswith("15 4 * * * ") and line.endswith(f"# fovea-backup-{offline_project.settings.project}")
    for command in schedules.commands(chosen):
        assert " ".join(command) in line


def test_schedule_cli_refuses_bad_time_with_exit_2() -> None:
    done = run_fovea(["backup", "schedule", "--daily", "24:00"])
    assert done.returncode == 2 and "HH:MM" in done.stderr


# -- stats ---------------------------------------------------------------------------------------------
RECORDED_SAMPLE = {  # trimmed from a real `GET /containers/{id}/stats?stream=false` (cgroup v2)
    "cpu_stats": {"cpu_usage": {"total_usage": 2_400_000_000}, "system_cpu_usage": 100_000_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000}, "system_cpu_usage": 98_000_000_000},
    "memory_stats": {"usage": 150 * 2**20, "limit": 1024 * 2**20, "stats": {"inactive_file": 50 * 2**20}},
    "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}, "eth1": {"rx_bytes": 24, "tx_bytes": 12}},
    "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}, {"op": "write", "value": 8192},
                                                    {"op": "read", "value": 4096}]},
}


def test_stats_sample_arithmetic_matches_docker_stats() -> None:
    sample = stats_from_sample(RECORDED_SAMPLE)
    assert sample.cpu_percent == pytest.approx(40.0)  # 0.4 s of 2 s system time on 2 CPUs
    assert sample.memory_bytes == 100 * 2**20  # the page cache is not the service's
    assert sample.memory_limit_bytes == 1024 * 2**20
    assert (sample.net_rx_bytes, sample.net_tx_bytes) == (1024, 512)
    assert (sample.block_read_bytes, sample.block_write_bytes) == (8192, 8192)


# -- help and completion -----------------------------------------------------------------------------
def _help(*args: str) -> str:
    done = run_fovea([*args, "--help"])
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_reads_like_compose() -> None:
    up = _help("up")
    assert "Usage: fovea up [OPTIONS] [SERVICES...]" in up
    assert "--timeout float" in up and "<" not in up and "--json <bool>" not in up
    assert "╭" not in up  # plain text, like compose's
    exec_help = _help("exec")
    assert "Usage: fovea exec [OPTIONS] SERVICE COMMAND..." in exec_help and "-u, --user string" in exec_help
    assert "-T, --no-tty" in exec_help
    assert "--keep int" in _help("images", "prune")


def test_completion_is_offered_and_completes_commands_and_services() -> None:
    root = _help()
    assert "--install-completion" in root and "--show-completion" in root
    env = {"_FOVEA_COMPLETE": "complete_bash", "COMP_CWORD": "1", "COMP_WORDS": "fovea res", "PATH": "/usr/bin:/bin"}
    commands = run_fovea([], env)
    assert commands.stdout.split() == ["restart", "restore"], commands.stderr
    services = run_fovea([], {**env, "COMP_CWORD": "2", "COMP_WORDS": "fovea restart post"})
    assert services.stdout.split() == ["postgres"], services.stderr


def test_doctor_without_an_engine_fails_each_check_that_needs_one_with_the_fix(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "FOVEA_DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "FOVEA_PROJECT": f"t{uuid.uuid4().hex[:8]}",
           "FOVEA_SECRETS_DIR": str(tmp_path / "secrets")}
    done = run_fovea(["doctor"], env, timeout=120)
    assert done.returncode == 1
    marks = {line.split()[1]: line.split()[0] for line in done.stdout.splitlines() if line[:1] in "✓✗"}
    assert [name for name, mark in marks.items() if mark == "✗"] == ["engine", "disk", "ports", "images", "gpu", "clock"]
    assert marks["secrets"] == "✓" and done.stdout.count("fix: start dockerd") == 6
