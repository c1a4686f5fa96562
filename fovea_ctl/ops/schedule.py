"""`fovea backup schedule --daily HH:MM`: a systemd timer + service (or, without systemd, a cron entry)
that runs `fovea backup CLASS --verify --to DIR`, then `fovea backup prune --keep N --dir DIR`.

The units carry everything the run needs (this interpreter's fovea, the project's root, name, port base,
secrets folder, engine address) so they do not depend on the shell that wrote them. `--show` prints what
is installed, `--remove` takes it away. Rendering is pure: tests check the text and run the very commands
the units would run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fovea_ctl.errors import FoveaError, UsageError

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project

Scheduler = Literal["systemd", "cron"]
CLASSES = ("critical", "important", "all")
# Passed on to the scheduled run when set here: backups stay encrypted (and verifiable) as yours are.
PASSED_ON = ("FOVEA_BACKUP_AGE_RECIPIENT", "FOVEA_BACKUP_AGE_IDENTITY", "FOVEA_IMAGE_SOURCE", "FOVEA_PUBLISH",
             "FOVEA_DOCKER_CLI")


@dataclass(frozen=True)
class BackupSchedule:
    hour: int
    minute: int
    backup_class: str
    keep: int
    to: Path

    @property
    def daily(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


def parse_schedule(daily: str, backup_class: str, keep: int, to: Path) -> BackupSchedule:
    """Checked input, or UsageError naming the bad value (nothing is written before this passes)."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", daily.strip())
    if not match:
        raise UsageError(f"--daily wants HH:MM in 24-hour time, e.g. 03:30 (got {daily!r})")
    if backup_class not in CLASSES:
        raise UsageError(f"--class is one of {', '.join(CLASSES)} (got {backup_class!r})")
    if keep < 1:
        raise UsageError(f"--keep must be 1 or more: a scheduled prune never removes the last backup (got {keep})")
    return BackupSchedule(int(match.group(1)), int(match.group(2)), backup_class, keep, Path(to).resolve())


def unit_name(project: Project) -> str:
    return f"fovea-backup-{project.settings.project}"


def fovea_command() -> list[str]:
    """This installation's fovea, by absolute path (a timer runs without the user's PATH or venv)."""
    return [sys.executable, "-m", "fovea_ctl"]


def commands(schedule: BackupSchedule) -> list[list[str]]:
    """What one scheduled run does, in order; the second only after the first succeeded."""
    fovea = fovea_command()
    return [[*fovea, "backup", schedule.backup_class, "--verify", "--to", str(schedule.to)],
            [*fovea, "backup", "prune", "--keep", str(schedule.keep), "--dir", str(schedule.to)]]


def environment(project: Project) -> dict[str, str]:
    """The settings that name this project, explicit: the scheduled run must reach this project, not
    whatever the defaults of its environment would pick."""
    settings = project.settings
    env = {"FOVEA_ROOT": str(settings.root), "FOVEA_PROJECT": settings.project,
           "FOVEA_PORT_BASE": str(settings.port_base), "FOVEA_SECRETS_DIR": str(settings.effective_secrets_dir)}
    if settings.docker_host:
        env["FOVEA_DOCKER_HOST"] = settings.docker_host
    env.update({name: os.environ[name] for name in PASSED_ON if os.environ.get(name)})
    return env


def _systemd_quote(argument: str) -> str:
    """One ExecStart/Environment word: double-quoted when it needs it; `%` and `$` escaped (specifiers,
    variable expansion)."""
    escaped = argument.replace("%", "%%").replace("$", "$$")
    if escaped and not re.search(r'[\s"\'\\;]', escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_service(project: Project, schedule: BackupSchedule) -> str:
    lines = [
        "[Unit]",
        f"Description=fovea: {schedule.backup_class} backup of project {project.settings.project} (verified; "
        f"keeps {schedule.keep} per class)",
        "After=network-online.target docker.service",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={_systemd_quote(str(project.settings.root))}",
        *(f"Environment={_systemd_quote(f'{key}={value}')}" for key, value in environment(project).items()),
        # Backup files are made 0600 by fovea itself; this keeps anything else the run writes private too.
        "UMask=0077",
        *(f"ExecStart={' '.join(_systemd_quote(word) for word in command)}" for command in commands(schedule)),
    ]
    return "\n".join(lines) + "\n"


def render_timer(project: Project, schedule: BackupSchedule) -> str:
    return "\n".join([
        "[Unit]",
        f"Description=fovea: daily {schedule.backup_class} backup of project {project.settings.project} at {schedule.daily}",
        "",
        "[Timer]",
        f"OnCalendar=*-*-* {schedule.daily}:00",
        "Persistent=true",  # a run missed while the machine was off happens at the next boot
        f"Unit={unit_name(project)}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]) + "\n"


def cron_marker(project: Project) -> str:
    return f"# {unit_name(project)}"


def render_cron(project: Project, schedule: BackupSchedule) -> str:
    """One crontab line; `%` is cron's newline, so it is escaped."""
    env = " ".join(shlex.quote(f"{k}={v}") for k, v in environment(project).items())
    steps = " && ".join(shlex.join(command) for command in commands(schedule))
    line = f"cd {shlex.quote(str(project.settings.root))} && umask 077 && env {env} sh -c {shlex.quote(steps)}"
    return f"{schedule.minute} {schedule.hour} * * * {line.replace('%', chr(92) + '%')} {cron_marker(project)}"


# -- where they go ----------------------------------------------------------------------------------
def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def available_scheduler() -> Scheduler:
    if systemd_running():
        return "systemd"
    if shutil.which("crontab"):
        return "cron"
    raise UsageError("neither a running systemd nor cron (`crontab`) on this machine: nothing can run a schedule here",
                     hint="install cron (apt-get install cron), or run `fovea backup schedule --daily HH:MM --print` "
                          "and give its command to your scheduler")


def systemd_unit_dir() -> Path:
    """System units as root, the user's own otherwise (enable lingering to run while logged out)."""
    if os.geteuid() == 0:
        return Path("/etc/systemd/system")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"


def _systemctl(*args: str) -> None:
    scope = [] if os.geteuid() == 0 else ["--user"]
    done = subprocess.run(["systemctl", *scope, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise FoveaError(f"`systemctl {' '.join([*scope, *args])}` failed: {done.stderr.strip()[-300:]}")


@dataclass
class Installed:
    scheduler: Scheduler
    where: list[str]  # files written, or "crontab of <user>"
    text: str  # what was written


def install(project: Project, schedule: BackupSchedule, scheduler: Scheduler | None = None,
            unit_dir: Path | None = None, activate: bool = True) -> Installed:
    """Write (or replace) the schedule; with `activate`, have systemd or cron load it now."""
    chosen = scheduler or available_scheduler()
    if chosen == "systemd":
        directory = unit_dir or systemd_unit_dir()
        directory.mkdir(parents=True, exist_ok=True)
        service, timer = directory / f"{unit_name(project)}.service", directory / f"{unit_name(project)}.timer"
        service_text, timer_text = render_service(project, schedule), render_timer(project, schedule)
        service.write_text(service_text)
        timer.write_text(timer_text)
        if activate:
            _systemctl("daemon-reload")
            _systemctl("enable", "--now", timer.name)
        return Installed("systemd", [str(service), str(timer)], service_text + "\n" + timer_text)
    line = render_cron(project, schedule)
    _write_crontab([*(kept for kept in _read_crontab() if not kept.endswith(cron_marker(project))), line])
    return Installed("cron", ["crontab"], line)


def show(project: Project, unit_dir: Path | None = None) -> Installed | None:
    directory = unit_dir or systemd_unit_dir()
    service, timer = directory / f"{unit_name(project)}.service", directory / f"{unit_name(project)}.timer"
    if timer.is_file():
        text = timer.read_text() + "\n" + (service.read_text() if service.is_file() else "")
        return Installed("systemd", [str(service), str(timer)], text)
    if shutil.which("crontab"):
        lines = [line for line in _read_crontab() if line.endswith(cron_marker(project))]
        if lines:
            return Installed("cron", ["crontab"], "\n".join(lines))
    return None


def remove(project: Project, unit_dir: Path | None = None, activate: bool = True) -> list[str]:
    """Take the schedule away (timer stopped and disabled first); what was removed."""
    removed: list[str] = []
    directory = unit_dir or systemd_unit_dir()
    timer = directory / f"{unit_name(project)}.timer"
    if timer.is_file() and activate and systemd_running():
        _systemctl("disable", "--now", timer.name)
    for path in (timer, directory / f"{unit_name(project)}.service"):
        if path.is_file():
            path.unlink()
            removed.append(str(path))
    if removed and activate and systemd_running():
        _systemctl("daemon-reload")
    if shutil.which("crontab"):
        lines = _read_crontab()
        kept = [line for line in lines if not line.endswith(cron_marker(project))]
        if len(kept) != len(lines):
            _write_crontab(kept)
            removed.append("crontab entry")
    return removed


def _read_crontab() -> list[str]:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=30)
    return done.stdout.splitlines() if done.returncode == 0 else []  # exit 1: no crontab yet


def _write_crontab(lines: list[str]) -> None:
    done = subprocess.run(["crontab", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise FoveaError(f"`crontab -` refused the new table: {done.stderr.strip()[-300:]}")
