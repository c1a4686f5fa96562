"""`fovea secrets rotate NAME`: a new value, applied to the data that holds a copy of it, then to the services.

Some secrets are also kept inside the data: postgres stores its role's password (set once, at initdb), the
backend's users table the admin's password hash (seeded once). Writing a new file alone would leave them
with the old one, and the backend and the probes would fail forever. The stack declares those "data-bound"
secrets and how each is applied (`Secret(applied_by=…)`: a command the owning service ships, the value on
stdin); rotate runs that hook (`data/secret_hooks.py`) and knows nothing of the tables behind it.

Every other secret is read by its services when they start (session_secret, redis_password): the new file
and a recreate of the services that mount it are the whole rotation. A data-bound secret edited by hand is
refused by `plan`/`up` (`check_data_secrets`) until `fovea secrets rotate NAME --edited` applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fovea_ctl.data.secret_hooks import apply_secret
from fovea_ctl.errors import FoveaError, ServiceFailed, UsageError

if TYPE_CHECKING:
    from fovea_ctl.reconcile.desired import DesiredUnit
    from fovea_ctl.reconcile.observe import ObservedState
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.data.project_protocol import DataProject

SECRETS_MOUNT = "/run/secrets/"


@dataclass
class RotateResult:
    name: str
    applied_to: list[str] = field(default_factory=list)  # what now holds the new value
    recreated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _users_of(project: DataProject, name: str) -> list[str]:
    observed = project.observe()
    return [u.name for u in project.stack.units.values()
            if name in u.secrets and not u.one_shot and observed.container(u.name) is not None]


def rotate_secret(project: DataProject, name: str, reporter: Reporter, edited: bool = False) -> RotateResult:
    """A new value (or, with `edited`, the one now in the file) applied to the data, then `up` recreates
    the services that mount the secret, so everything authenticates with it."""
    from fovea_ctl.reconcile.plan import OpKind
    from fovea_ctl.core.signals import signals_deferred

    store = project.secrets
    if name not in store.declared:
        raise UsageError(f"unknown secret {name!r} (declared: {', '.join(store.declared)})")
    if store.supplied_by_user(name) and not edited:
        raise UsageError(f"secret {name} is supplied through FOVEA_SECRET_{name.upper()}[_FILE]: change the value "
                         f"there, then run `fovea secrets rotate {name} --edited`")
    result = RotateResult(name=name)
    # Under the project lock, and only once an interrupted restore is rolled back: the new value goes
    # into the data that stays, never into data the next command would roll back.
    with project.writing():
        bound = name in store.data_bound()
        users = _users_of(project, name)
        old = store.value(name)
        new = old if edited else store.generate(name)
        if bound and users:
            # Neither a signal nor a failure may leave the data and the file disagreeing.
            with signals_deferred():
                try:
                    result.applied_to = [apply_secret(project, name, new)]
                except FoveaError as exc:  # the hook changed nothing, and the file was not written yet
                    raise FoveaError(f"secret {name} not {'applied' if edited else 'rotated'}: {exc.message}; "
                                     f"{'the data keeps the old value' if edited else 'the old value stays in force'}",
                                     hint=exc.hint) from None
                if not edited:
                    try:
                        store.write(name, new)
                    except BaseException:
                        apply_secret(project, name, old)
                        raise
        elif not edited:
            store.write(name, new)
        project.applied_secrets.add(name)
        if users:
            plan, applied = project.up(reporter, users)
            result.recreated = sorted({op.unit for op in plan.operations if op.unit and op.kind is OpKind.CREATE_CONTAINER})
            if applied.failures:
                raise ServiceFailed(f"secret {name} rotated, but services failed to start with it: "
                                    + "; ".join(f.describe() for f in applied.failures))
        else:
            result.notes.append("no service that uses it has a container: the new value is used from the next `up`")
    if name == "session_secret" or any(u.env.get("BACKEND_SESSION_SECRET_FILE") == f"{SECRETS_MOUNT}{name}"
                                       for u in project.stack.units.values()):
        result.notes.append("every session is invalidated: users log in again")
    return result


def check_data_secrets(project: DataProject, desired: dict[str, DesiredUnit], observed: ObservedState) -> None:
    """Refuse to recreate services over a data-bound secret that changed outside `rotate`: the data still
    holds the old value, and the new containers would never authenticate."""
    bound = project.secrets.data_bound() - project.applied_secrets
    for name in sorted(bound):
        key = f"secret:{name}"
        for unit, wanted in desired.items():
            container = observed.container(unit)
            if container is None or key not in container.hash_parts or key not in wanted.hash_parts:
                continue
            if container.hash_parts[key] != wanted.hash_parts[key]:
                raise UsageError(
                    f"secret {name} changed since {unit} was created, but the data still holds the old value "
                    f"(it was edited outside `fovea secrets rotate`)",
                    hint=f"`fovea secrets rotate {name} --edited` applies the edited value to the data and the "
                         "services; or put the old value back")


def prepare_reapply_data_secrets(project: DataProject) -> Callable[[], list[str]]:
    """For a restore: the live secrets win, so the restored data is given their values again. Called while
    the services still run: the values are read now (a FoveaError when one cannot be); the returned step
    runs each data-bound secret's hook once the restored data is in place (its owner may be stopped then:
    the hook runs in a one-off container of it), says what it did, and raises a FoveaError when a hook
    refuses (the restore then rolls back)."""
    live = {name: project.secrets.value(name) for name in sorted(project.secrets.data_bound())}

    def write_all() -> list[str]:
        return [f"live {name} applied to the restored data ({apply_secret(project, name, value)})"
                for name, value in live.items()]

    return write_all
