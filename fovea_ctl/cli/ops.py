"""`fovea stats`, `fovea df`, `fovea doctor`, `fovea upgrade` (ops/stats, ops/df, ops/doctor, ops/upgrade)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, complete_service, echo_json, project


@app.command()
def stats(
    services: Annotated[Optional[list[str]], typer.Argument(
        help="Only these services", show_default=False, autocompletion=complete_service)] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="One sample, then exit (also when not a terminal)")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One sample as JSON")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between live samples", min=0.5)] = 2.0,
) -> None:
    """CPU, memory against each service's limit, network and block I/O; a live table until Ctrl-C."""
    from fovea_ctl.ops.stats import collect_stats, stats_table

    target = project()
    if json_out:
        echo_json([row.model_dump() for row in collect_stats(target, services or None)])
        return
    from rich.console import Console

    console = Console()
    if no_stream or not console.is_terminal:
        console.print(stats_table(collect_stats(target, services or None)))
        return
    from rich.live import Live

    try:
        with Live(stats_table(collect_stats(target, services or None)), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(stats_table(collect_stats(target, services or None)), refresh=True)
    except KeyboardInterrupt:  # the way to leave a live view, not a failure
        return


@app.command()
def df(json_out: Annotated[bool, typer.Option("--json", help="As JSON")] = False) -> None:
    """Disk used by fovea's images (and what `images prune` frees), volumes by priority class, backups."""
    from fovea_ctl.core.transfer_progress import human
    from fovea_ctl.ops.df import disk_usage

    usage = disk_usage(project())
    if json_out:
        echo_json(usage)
        return
    out = sys.stdout.write
    out(f"{'IMAGES':<12} {usage.images.count} fovea images, {human(usage.images.bytes)}; "
        f"`fovea images prune` frees {human(usage.images.reclaimable_bytes)} ({usage.images.reclaimable_tags} tags)\n")
    for volume_class in usage.volumes:
        names = ", ".join(f"{name} {human(size) if size >= 0 else '?'}" for name, size in volume_class.volumes.items())
        out(f"{volume_class.priority.upper():<12} {human(volume_class.bytes)}" + (f" ({names})" if names else "") + "\n")
    out(f"{'BACKUPS':<12} {usage.backups.count} backups, {human(usage.backups.bytes)} in {usage.backups.folder}\n")


@app.command()
def doctor(json_out: Annotated[bool, typer.Option("--json", help="As JSON")] = False) -> None:
    """Check this machine for the stack: engine, client, BuildKit, disk, ports, secret files, images, GPU, clock."""
    from fovea_ctl.ops.doctor import run_doctor

    report = run_doctor(project())
    if json_out:
        echo_json({"ok": report.ok, "checks": [check.model_dump() for check in report.checks]})
    else:
        for check in report.checks:
            mark = "✓" if check.ok else "✗"
            sys.stdout.write(f"{mark} {check.name:<9} {check.detail}\n")
            if not check.ok:
                sys.stdout.write(f"  {'':<9} fix: {check.fix}\n")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def upgrade(
    services: Annotated[Optional[list[str]], typer.Argument(help="Only these services and their dependencies",
                                                            show_default=False, autocompletion=complete_service)] = None,
    no_backup: Annotated[bool, typer.Option("--no-backup", help="Go on without the safety backup")] = False,
    rollback: Annotated[bool, typer.Option("--rollback", help="Put back the data and images from before the last upgrade")] = False,
    to: Annotated[Optional[Path], typer.Option(
        "--to", help="Where the safety backup goes (default: FOVEA_BACKUP_DIR or <root>/backups)")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Bound the apply (seconds)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The outcome as JSON on stdout; progress on stderr")] = False,
) -> None:
    """After the checkout changed: show the plan, back up first when it migrates or replaces data, apply."""
    from fovea_ctl.data.backup import make_progress
    from fovea_ctl.cli.lifecycle import report_up
    from fovea_ctl.errors import ServiceFailed
    from fovea_ctl.ops import upgrade as upgrades
    from fovea_ctl.core.run_progress import make_reporter

    target = project()
    if rollback:
        chosen = upgrades.plan_rollback(target)
        sys.stderr.write("fovea: rolling back the upgrade of " + chosen.record.started_at.strftime("%Y-%m-%d %H:%M UTC")
                         + ":\n" + "".join(f"  {n}. {step}\n" for n, step in enumerate(chosen.steps, 1)))
        reporter, progress = make_reporter(False), make_progress(json_out)
        try:
            _, done = upgrades.rollback(target, reporter, progress)
        finally:
            reporter.close()
            progress.close()
        if json_out:
            echo_json({"rolled_back": True, "steps": chosen.steps, "backup_id": chosen.record.backup_id,
                       "images": sorted(set(chosen.record.previous_images.values()))})
        sys.stderr.write(f"fovea: rolled back; running {', '.join(sorted(set(chosen.record.previous_images.values())))}\n")
        return
    outcome = upgrades.prepare(target, services or None)
    (sys.stderr if json_out else sys.stdout).write(outcome.plan.text() + "\n")

    def summary(ok: bool) -> None:
        if json_out:
            record = outcome.record
            echo_json({"ok": ok, "plan": outcome.plan.text(), "backup_reasons": outcome.reasons,
                       "backup_id": record.backup_id if record else None,
                       "previous_images": record.previous_images if record else {}})

    if outcome.plan.empty:
        sys.stderr.write("fovea: nothing to upgrade\n")
        summary(True)
        return
    if outcome.reasons:
        verb = "going on WITHOUT a backup (--no-backup)" if no_backup else "taking `backup critical --verify` first"
        sys.stderr.write(f"fovea: this plan {'; '.join(outcome.reasons)}: {verb}\n")
    reporter, progress = make_reporter(False), make_progress(json_out)
    try:
        upgrades.upgrade(target, outcome, reporter, progress, no_backup=no_backup, backup_dir=to, timeout_s=timeout)
    finally:
        reporter.close()
        progress.close()
    assert outcome.result is not None and outcome.record is not None
    try:
        report_up(target, outcome.plan, outcome.result, False, verb="upgrade")
    except ServiceFailed as failed:
        summary(False)
        record = outcome.record
        way_back = [f"restore backup {record.backup_id} (the data from before the upgrade)" if record.backup_id
                    else "no backup was taken: the data stays as the upgrade left it",
                    f"run the previous images again: {', '.join(sorted(set(record.previous_images.values())))}"]
        commit = f"`git checkout {record.commit}`" if record.commit else "check out the previous code"
        raise ServiceFailed(f"{failed.message}\n  the upgrade did not become ready. `fovea upgrade --rollback` will:\n    "
                            + "\n    ".join(way_back),
                            hint=f"{commit} (the previous images come from it), then `fovea upgrade --rollback`") from None
    if outcome.record.backup_id:
        sys.stderr.write(f"fovea: upgraded; safety backup {outcome.record.backup_id} is kept\n")
    summary(True)
