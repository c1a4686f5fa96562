"""`fovea upgrade`: after the checkout changed, apply its plan with a way back.

1. The plan is shown. When it runs a migration (an init job is recreated) or replaces a service that
   holds critical or important data, a `backup critical` is taken and verified first; without one the
   upgrade refuses, unless `--no-backup` says to go on.
2. What the running containers ran before (image tag and id) and the backup's id are recorded in
   `.fovea/<project>/upgrade.json`; then `up` applies the plan.
3. If the new stack does not become ready, `fovea upgrade --rollback` puts back the data from that
   backup (a `restore`: staged beside the live data, swapped, init jobs rerun) and runs the previous
   images. Those come from the code that built them: fovea's tags are content hashes of the checkout, so
   the rollback first checks that the checkout resolves to the recorded tags again (after `git checkout`
   of the recorded commit) and says exactly which differ otherwise; `images prune` keeps them, so nothing
   is rebuilt.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.reconcile.observe import ObservedState

if TYPE_CHECKING:
    from fovea_ctl.reconcile.apply import ApplyResult
    from fovea_ctl.data.backup import TransferProgress
    from fovea_ctl.reconcile.plan import Plan
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.data.restore import RestoreResult

RECORD = "upgrade.json"


class UpgradeRecord(BaseModel):
    started_at: datetime
    targets: list[str] | None
    commit: str | None  # the checkout's git commit before the upgrade, when it is a git checkout
    previous_images: dict[str, str]  # unit -> image tag its container ran before
    plan: str
    reasons: list[str]  # why a backup was taken (empty: none needed)
    backup_id: str | None = None
    backup_path: str | None = None


@dataclass
class UpgradeOutcome:
    plan: Plan
    reasons: list[str] = field(default_factory=list)
    record: UpgradeRecord | None = None
    result: ApplyResult | None = None  # None: nothing to do


def record_path(project: Project) -> Path:
    return project.settings.private_state_dir() / RECORD


def load_record(project: Project) -> UpgradeRecord | None:
    path = record_path(project)
    return UpgradeRecord.model_validate_json(path.read_text()) if path.is_file() else None


def _save_record(project: Project, record: UpgradeRecord) -> None:
    from fovea_ctl.settings.private_files import write_private

    write_private(record_path(project), record.model_dump_json(indent=2).encode(), durable=True)


def checkout_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def backup_reasons(project: Project, plan: Plan) -> list[str]:
    """Why this plan puts data at risk: a migration it runs, a data-holding service it replaces."""
    from fovea_ctl.model import Priority
    from fovea_ctl.reconcile.plan import OpKind

    reasons: list[str] = []
    units = project.stack.units
    for op in plan.operations:
        unit = units.get(op.unit or "")
        if unit is None:
            continue
        if op.kind is OpKind.CREATE_CONTAINER and unit.job_of:
            reasons.append(f"runs {unit.name} ({op.cause})")
        elif op.kind is OpKind.REMOVE_CONTAINER and not unit.one_shot:
            held = [m.volume for m in unit.mounts
                    if project.stack.volume(m.volume).priority in (Priority.CRITICAL, Priority.IMPORTANT)]
            if held:
                reasons.append(f"replaces {unit.name}, which holds {', '.join(held)} ({op.cause})")
    return reasons


def prepare(project: Project, targets: list[str] | None) -> UpgradeOutcome:
    """The plan and whether it needs a safety backup; changes nothing."""
    plan = project.plan(targets)
    return UpgradeOutcome(plan=plan, reasons=backup_reasons(project, plan) if not plan.empty else [])


def upgrade(project: Project, outcome: UpgradeOutcome, reporter: Reporter, progress: TransferProgress,
            no_backup: bool = False, backup_dir: Path | None = None, timeout_s: float | None = None) -> UpgradeOutcome:
    """Back up (when the plan needs it), record the way back, apply. All under one hold of the project lock."""
    from fovea_ctl.data.backup import BackupClass, backup_root, create_backup, verify_backup

    if outcome.plan.empty:
        return outcome
    with project.writing():
        observed = project.observe()
        record = UpgradeRecord(
            started_at=datetime.now(UTC), targets=outcome.plan.units,
            commit=checkout_commit(project.settings.root),
            previous_images={name: c.image for name, c in observed.containers.items() if name in outcome.plan.units},
            plan=outcome.plan.text(), reasons=outcome.reasons)
        if outcome.reasons and not no_backup:
            try:
                taken = create_backup(project, BackupClass.CRITICAL, backup_root(project, backup_dir), progress)
                verify_backup(project, taken.path, progress)
            except FoveaError as exc:
                raise FoveaError(f"refusing to upgrade: the safety backup failed: {exc.message}",
                                 hint="fix the cause and retry, or `fovea upgrade --no-backup` to go on without one") from None
            record.backup_id, record.backup_path = taken.manifest.id, str(taken.path)
        _save_record(project, record)
        outcome.record = record
        _, outcome.result = project.up(reporter, outcome.plan.units, timeout_s=timeout_s)
    return outcome


@dataclass
class RollbackPlan:
    record: UpgradeRecord
    steps: list[str]


def plan_rollback(project: Project) -> RollbackPlan:
    """What `--rollback` will do, checked: the recorded upgrade, and a checkout that resolves to the
    previous images again. UsageError (nothing changed) naming what differs otherwise."""
    record = load_record(project)
    if record is None:
        raise UsageError(f"no upgrade of project {project.settings.project!r} to roll back")
    resolver = project.resolver()
    differ = []
    for name, previous in sorted(record.previous_images.items()):
        unit = project.stack.units.get(name)
        now = resolver.resolve(unit).ref if unit is not None else None
        if unit is not None and now != previous:
            differ.append(f"{name}: the checkout gives {now}, before the upgrade it ran {previous}")
    if differ:
        where = f"`git checkout {record.commit}`" if record.commit else "the code from before the upgrade"
        raise UsageError("the checkout is not the one from before the upgrade, so its images are not the previous "
                         "ones:\n  " + "\n  ".join(differ),
                         hint=f"check out {where}, then `fovea upgrade --rollback` again")
    steps = []
    if record.backup_id:
        steps.append(f"restore backup {record.backup_id} (taken before the upgrade: {', '.join(record.reasons)}): the "
                     "database and volumes it holds, staged beside the live data and swapped in; the data written "
                     "since is replaced (kept aside until the restored services are ready)")
    images = sorted(set(record.previous_images.values()))
    missing = [ref for ref in images if project.engine.image_id(ref) is None]
    steps.append(f"run the previous images: {', '.join(images)}"
                 + (f" (rebuilt from this checkout first: {', '.join(missing)} no longer present)" if missing else ""))
    return RollbackPlan(record, steps)


def rollback(project: Project, reporter: Reporter, progress: TransferProgress) -> tuple[RollbackPlan, RestoreResult | ApplyResult]:
    from fovea_ctl.data.restore import restore_backup

    chosen = plan_rollback(project)
    record = chosen.record
    targets = record.targets or list(record.previous_images)
    with project.writing():
        # The containers the upgrade made go first (dependents first): a restore starts a job's existing
        # container again, and the upgrade's migration job would run the new migrations on the old data.
        observed = project.observe()
        upgraded = {name: c for name, c in observed.containers.items()
                    if name in targets and c.image != record.previous_images.get(name)}
        project.stop_in_reverse_order(ObservedState(observed.project, observed.network, observed.volumes, upgraded),
                                      None, reporter)
        done: RestoreResult | ApplyResult
        if record.backup_id and record.backup_path:
            # Stops the data's users, swaps the backup's data in beside the live copy, starts what it stopped.
            done = restore_backup(project, Path(record.backup_path), reporter, progress)
        # What the upgrade had replaced, from this checkout (the previous images): the migration job finds
        # the restored schema current.
        _, applied = project.up(reporter, targets)
        if applied.failures:
            from fovea_ctl.errors import ServiceFailed

            raise ServiceFailed("rolled back, but services failed to start: "
                                + "; ".join(f.describe() for f in applied.failures))
        done = done if record.backup_id else applied
        record_path(project).unlink(missing_ok=True)
    return chosen, done
