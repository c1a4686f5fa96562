"""`fovea secrets rotate NAME`: a new value, applied to the data that holds a copy of it, then to the services.

Some secrets are also kept inside the data: postgres stores its role's password (set once, at initdb, from
POSTGRES_PASSWORD_FILE), the backend's users table the admin's bcrypt hash (seeded once). Writing a new
file alone would leave them with the old one, and the backend and the probes would fail forever. Those
"data-bound" secrets are found from the stack (the env var that points a service at the secret's file):

- `POSTGRES_PASSWORD_FILE=/run/secrets/<name>` on a service: `ALTER ROLE <POSTGRES_APP_USER> PASSWORD ...`,
  through `docker exec psql` over the local socket (the SQL on stdin, never in argv);
- `BACKEND_ADMIN_PASSWORD_FILE=/run/secrets/<name>`: the backend image hashes the new value (its own
  `hash_password`, the value on stdin) and the admin row gets the hash.

Every other secret is read by its services when they start (session_secret, redis_password): the new file
and a recreate of the services that mount it are the whole rotation. A data-bound secret edited by hand is
refused by `plan`/`up` (`check_data_secrets`) until `fovea secrets rotate NAME --edited` applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from fovea_ctl.errors import FoveaError, ServiceFailed, UsageError

if TYPE_CHECKING:
    from psycopg.sql import Composable

    from fovea_ctl.reconcile.desired import DesiredUnit
    from fovea_ctl.model import Service
    from fovea_ctl.reconcile.observe import ObservedState
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.data.project_protocol import DataProject

SECRETS_MOUNT = "/run/secrets/"
ROLE_PASSWORD_ENV = "POSTGRES_PASSWORD_FILE"
ADMIN_PASSWORD_ENV = "BACKEND_ADMIN_PASSWORD_FILE"
HASH_ON_STDIN = "import sys; from fovea_backend.auth import hash_password; print(hash_password(sys.stdin.read()))"


@dataclass
class RotateResult:
    name: str
    applied_to: list[str] = field(default_factory=list)  # what now holds the new value
    recreated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _holder(project: DataProject, env: str, name: str) -> Service | None:
    for unit in project.stack.units.values():
        if not unit.job_of and unit.env.get(env) == f"{SECRETS_MOUNT}{name}":
            return unit
    return None


def data_bound(project: DataProject) -> set[str]:
    """Secrets a copy of which lives in the data (a role password, a password hash)."""
    return {name for name in project.secrets.declared
            if _holder(project, ROLE_PASSWORD_ENV, name) or _holder(project, ADMIN_PASSWORD_ENV, name)}


def _database_server(project: DataProject) -> Service:
    for unit in project.stack.units.values():
        if not unit.job_of and ROLE_PASSWORD_ENV in unit.env:
            return unit
    raise FoveaError("the stack has no postgres service (no service sets POSTGRES_PASSWORD_FILE)")


def _sql_on_stdin(project: DataProject, server: Service, statement: Composable) -> str:
    """One statement (built with psycopg's `sql` module: values quoted by it) as the superuser, on stdin:
    a secret in it never appears in an argv."""
    from fovea_ctl.data.backup import exec_text, postgres_access, running_container

    user, database = postgres_access(server)
    return exec_text(project, running_container(project, server),
                     ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database, "-At"],
                     user="postgres", stdin=iter([statement.as_string(None).encode()])).strip()


def _set_role_password(project: DataProject, server: Service, value: str) -> str:
    from psycopg import sql

    from fovea_ctl.data.backup import app_role

    role = app_role(server)
    _sql_on_stdin(project, server, sql.SQL("ALTER ROLE {} PASSWORD {};").format(sql.Identifier(role), sql.Literal(value)))
    return f"postgres role {role}"


def _admin_hash(project: DataProject, backend: Service, value: str) -> str:
    """`value` hashed by the backend image's own `hash_password` (in its running container when there is one)."""
    from fovea_ctl.data.backup import exec_text, helper_container, image_for

    container = project.observe().container(backend.name)
    if container is not None and container.running:
        hashed = exec_text(project, container.id, ["python3", "-c", HASH_ON_STDIN], stdin=iter([value.encode()]))
    else:
        with helper_container(project, image_for(project, backend), {}) as helper:
            hashed = exec_text(project, helper, ["python3", "-c", HASH_ON_STDIN], stdin=iter([value.encode()]))
    hashed = hashed.strip()
    if not hashed.startswith("$2"):
        raise FoveaError(f"{backend.name}'s hash_password returned something that is not a bcrypt hash")
    return hashed


def _store_admin_hash(project: DataProject, hashed: str) -> str:
    """The admin's new hash, and the end of every session the admin had: a password change locks out
    whoever held the old one, signed in or not (one statement: both or neither)."""
    from psycopg import sql

    updated = _sql_on_stdin(project, _database_server(project), sql.SQL(
        "WITH admin AS (UPDATE users SET password_hash = {} WHERE username = 'admin' RETURNING id), "
        "ended AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM admin) RETURNING 1) "
        "SELECT (SELECT count(*) FROM admin), (SELECT count(*) FROM ended);").format(sql.Literal(hashed)))
    users, sessions = (updated or "0|0").split("|")
    if users == "0":
        return "no admin user yet (the backend seeds it from the new value)"
    return f"the backend's admin user (its {sessions} session{'s' if sessions != '1' else ''} ended)"


def _writes_to_data(project: DataProject, name: str, value: str) -> list[Callable[[], str]]:
    """The steps that put `value` into the data holding a copy of secret `name`; the slow part (the
    backend hashing the admin password) is done now, the steps only write."""
    writes: list[Callable[[], str]] = []
    server = _holder(project, ROLE_PASSWORD_ENV, name)
    if server is not None:
        writes.append(partial(_set_role_password, project, server, value))
    backend = _holder(project, ADMIN_PASSWORD_ENV, name)
    if backend is not None:
        writes.append(partial(_store_admin_hash, project, _admin_hash(project, backend, value)))
    return writes


def _apply_to_data(project: DataProject, name: str, value: str) -> list[str]:
    return [write() for write in _writes_to_data(project, name, value)]


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
        bound = name in data_bound(project)
        users = _users_of(project, name)
        old = store.value(name)
        new = old if edited else store.generate(name)
        if bound and users:
            # Neither a signal nor a failure may leave the data and the file disagreeing.
            with signals_deferred():
                result.applied_to = _apply_to_data(project, name, new)
                if not edited:
                    try:
                        store.write(name, new)
                    except BaseException:
                        _apply_to_data(project, name, old)
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
    bound = data_bound(project) - project.applied_secrets
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
    the services still run (the backend hashes the admin password; a FoveaError when it cannot); the
    returned step only writes, once the restored data is in place, says what it did, and raises a
    FoveaError when a value cannot be written (the restore then rolls back)."""
    prepared = [(name, _writes_to_data(project, name, project.secrets.value(name))) for name in sorted(data_bound(project))]

    def write_all() -> list[str]:
        return [f"live {name} applied to the restored data ({', '.join(write() for write in writes)})"
                for name, writes in prepared]

    return write_all
