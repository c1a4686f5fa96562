"""`fovea backup critical|important|all|list|verify|prune` and `fovea restore`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from fovea_ctl.cli.app import app, echo_json, project

if TYPE_CHECKING:
    from fovea_ctl.core.run_progress import PlainReporter

backup_app = typer.Typer(help="Backups by priority class: take, list, verify (trial restore), prune.",
                         no_args_is_help=True)
app.add_typer(backup_app, name="backup")

ToOption = Annotated[Optional[Path], typer.Option("--to", help="Backup folder (default: FOVEA_BACKUP_DIR or <root>/backups)")]
DirOption = Annotated[Optional[Path], typer.Option("--dir", help="Backup folder (default: FOVEA_BACKUP_DIR or <root>/backups)")]
JsonOption = Annotated[bool, typer.Option("--json", help="A JSON summary on stdout; nothing interactive")]


def _take(backup_class: str, to: Path | None, json_out: bool, verify: bool) -> None:
    from fovea_ctl.data.backup import BackupClass, backup_root, create_backup, make_progress, verify_backup

    target = project()
    progress = make_progress(json_out)
    try:
        result = create_backup(target, BackupClass(backup_class), backup_root(target, to), progress)
        if verify:
            result.verified = verify_backup(target, result.path, progress)
    finally:
        progress.close()
    if json_out:
        echo_json(result)
        return
    copied = result.manifest.copied
    total = sum(i.size for i in copied)
    sys.stderr.write(f"fovea: backup {result.manifest.id}: {len(copied)} items, {total / 1e6:.1f} MB at {result.path}"
                     f"{' (verified)' if result.verified else ''}\n")
    for item in result.manifest.items:
        if item.skipped:
            sys.stderr.write(f"  skipped {item.name}: {item.skipped}\n")


@backup_app.command("critical")
def critical(to: ToOption = None, json_out: JsonOption = False,
             verify: Annotated[bool, typer.Option("--verify", help="Verify right after (trial restore)")] = False) -> None:
    """postgres (pg_dump) and video files (tar + zstd)."""
    _take("critical", to, json_out, verify)


@backup_app.command("important")
def important(to: ToOption = None, json_out: JsonOption = False,
              verify: Annotated[bool, typer.Option("--verify", help="Verify right after (trial restore)")] = False) -> None:
    """Critical items, plus redis (RDB), `.env` (redacted) and secrets (age-encrypted, or left out)."""
    _take("important", to, json_out, verify)


@backup_app.command("all")
def all_(to: ToOption = None, json_out: JsonOption = False,
         verify: Annotated[bool, typer.Option("--verify", help="Verify right after (trial restore)")] = False) -> None:
    """Everything important; recreatable volumes are recorded in the manifest, not copied."""
    _take("all", to, json_out, verify)


@backup_app.command("list")
def list_(directory: DirOption = None, json_out: JsonOption = False) -> None:
    """This project's complete backups, oldest first (partial ones never show)."""
    from fovea_ctl.data.backup import backup_root, list_backups

    target = project()
    backups = list_backups(backup_root(target, directory), target.settings.project)
    if json_out:
        echo_json([{"id": b.id, "path": str(b.path), "class": b.manifest.backup_class.value,
                    "created_at": b.manifest.created_at.isoformat(), "size": sum(i.size for i in b.manifest.copied),
                    "verified": b.verified_ok} for b in backups])
        return
    for b in backups:
        size = sum(i.size for i in b.manifest.copied)
        state = "verified" if b.verified_ok else ("FAILED verify" if b.verified else "not verified")
        sys.stdout.write(f"{b.id:<34} {b.manifest.backup_class.value:<10} {size / 1e6:10.1f} MB  {state}\n")


@backup_app.command("verify")
def verify(ref: Annotated[str, typer.Argument(help="Backup id or path")], directory: DirOption = None,
           json_out: JsonOption = False) -> None:
    """Checksums, then a trial restore of every item (throwaway containers, live data untouched)."""
    from fovea_ctl.data.backup import backup_root, make_progress, resolve_backup, verify_backup

    target = project()
    progress = make_progress(json_out)
    try:
        record = verify_backup(target, resolve_backup(backup_root(target, directory), ref), progress)
    finally:
        progress.close()
    if json_out:
        echo_json(record)
        return
    for name, check in record.checks.items():
        sys.stderr.write(f"  {name}: {check}\n")
    sys.stderr.write("fovea: backup verified\n")


@backup_app.command("prune")
def prune(keep: Annotated[int, typer.Option("--keep", help="Backups to keep per class")], directory: DirOption = None,
          json_out: JsonOption = False) -> None:
    """Remove old backups: the newest N per class stay, and so does the newest verified one."""
    from fovea_ctl.data.backup import backup_root, prune_backups

    target = project()
    removed = prune_backups(backup_root(target, directory), target.settings.project, keep)
    if json_out:
        echo_json({"removed": removed})
        return
    for backup_id in removed:
        sys.stderr.write(f"removed {backup_id}\n")
    if not removed:
        sys.stderr.write("fovea: nothing to prune\n")


@app.command()
def restore(ref: Annotated[Optional[str], typer.Argument(help="Backup id or path")] = None,
            only: Annotated[Optional[list[str]], typer.Option("--only", help="Restore just this item (repeatable)")] = None,
            rollback: Annotated[bool, typer.Option("--rollback", help="Put back the data the last restore replaced "
                                                   "(kept until the restored services are ready)")] = False,
            directory: DirOption = None, json_out: JsonOption = False) -> None:
    """Check every checksum, restore beside the live data, swap on success, restart what was stopped."""
    from fovea_ctl.data.backup import backup_root, make_progress, resolve_backup
    from fovea_ctl.cli.app import fail
    from fovea_ctl.core.run_progress import make_reporter
    from fovea_ctl.data.restore import restore_backup, rollback_restore

    if rollback == (ref is not None):
        fail("give a backup id or path, or --rollback (not both)", 2)
    target = project()
    progress = make_progress(json_out)
    reporter = make_reporter(False) if not json_out else _quiet_reporter()
    try:
        if rollback:
            result = rollback_restore(target, reporter)
        else:
            result = restore_backup(target, resolve_backup(backup_root(target, directory), str(ref)), reporter, progress,
                                    only or None)
    finally:
        progress.close()
        reporter.close()
    if json_out:
        echo_json(result.__dict__)
        return
    for name, seconds in result.restored.items():
        sys.stderr.write(f"  restored {name} in {seconds:.1f} s\n")
    for name, why in result.skipped.items():
        sys.stderr.write(f"  skipped {name}: {why}\n")
    for job in result.rerun_jobs:
        sys.stderr.write(f"  ran {job} again on the restored data\n")
    for note in result.notes:
        sys.stderr.write(f"  {note}\n")
    what = "rolled back" if rollback else "restored"
    sys.stderr.write(f"fovea: {what} from {result.backup_id}; restarted: {', '.join(result.restarted) or 'nothing'}\n")


def _quiet_reporter() -> PlainReporter:
    from fovea_ctl.core.run_progress import PlainReporter

    return PlainReporter()


@backup_app.command("schedule")
def schedule(
    daily: Annotated[Optional[str], typer.Option("--daily", help="Run every day at HH:MM (local time)", show_default=False)] = None,
    backup_class: Annotated[str, typer.Option("--class", help="critical, important or all")] = "critical",
    keep: Annotated[int, typer.Option("--keep", help="Backups kept per class after each run")] = 7,
    to: ToOption = None,
    show: Annotated[bool, typer.Option("--show", help="Print the installed schedule")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the installed schedule")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="Print the units and the cron line; install nothing")] = False,
) -> None:
    """Back up daily with a systemd timer (or cron where systemd is absent): `backup CLASS --verify`, then `prune`."""
    from fovea_ctl.data.backup import backup_root
    from fovea_ctl.cli.app import fail
    from fovea_ctl.ops import schedule as schedules

    target = project()
    if sum([show, remove, daily is not None]) != 1:
        fail("give one of --daily HH:MM, --show or --remove", 2)
    if show:
        installed = schedules.show(target)
        if installed is None:
            fail(f"no backup schedule for project {target.settings.project!r}", 1)
        sys.stdout.write(f"# {installed.scheduler}: {', '.join(installed.where)}\n{installed.text}\n")
        return
    if remove:
        removed = schedules.remove(target)
        for what in removed:
            sys.stderr.write(f"removed {what}\n")
        if not removed:
            sys.stderr.write(f"fovea: no backup schedule for project {target.settings.project!r}\n")
        return
    assert daily is not None
    chosen = schedules.parse_schedule(daily, backup_class, keep, backup_root(target, to))
    if print_only:
        sys.stdout.write(f"# {schedules.unit_name(target)}.service\n{schedules.render_service(target, chosen)}\n"
                         f"# {schedules.unit_name(target)}.timer\n{schedules.render_timer(target, chosen)}\n"
                         f"# crontab line\n{schedules.render_cron(target, chosen)}\n")
        return
    installed = schedules.install(target, chosen)
    sys.stderr.write(f"fovea: {chosen.backup_class} backup daily at {chosen.daily} into {chosen.to} "
                     f"(verified, keeping {chosen.keep}) via {installed.scheduler}: {', '.join(installed.where)}\n")
