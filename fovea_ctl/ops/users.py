"""`fovea users ...`: account administration, run as `python3 -m fovea_backend.users` inside the running backend
container (through the image's entrypoint, so as its unprivileged user with its secrets). The backend owns the
accounts' tables and rules; this side only passes the verb through and reads back one JSON answer. A password
travels on the exec's stdin, never in an argv (ours or the container's)."""

from __future__ import annotations

import json
from typing import Any

from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.reconcile.project import Project

BACKEND_SERVICE = "backend"
BACKEND_COMMAND = ["/usr/local/bin/fovea-backend-entrypoint", "python3", "-m", "fovea_backend.users"]
READ_ONLY_VERBS = frozenset({"list"})


def run_users_command(project: Project, args: list[str], password: str | None = None) -> Any:
    """The backend's answer to `users ARGS...` (with `password` on stdin when given): parsed JSON, or a UsageError
    carrying the backend's reason for bad input (exit 2 there), a FoveaError for anything else."""
    from fovea_ctl.data.backup import running_container

    service = project.stack.units.get(BACKEND_SERVICE)
    if service is None:
        raise FoveaError("the stack has no backend service")
    if args[0] in READ_ONLY_VERBS:
        return _exec(project, running_container(project, service), args, password)
    with project.writing():  # not while a restore swaps the database underneath
        return _exec(project, running_container(project, service), args, password)


def _exec(project: Project, container: str, args: list[str], password: str | None) -> Any:
    stdin = iter([password.encode()]) if password is not None else None
    stream = project.engine.exec_stream(container, [*BACKEND_COMMAND, *args], stdin=stdin)
    out = b"".join(stream)
    reason = stream.stderr.decode(errors="replace").strip()
    if stream.exit_code == 2:
        raise UsageError(reason.removeprefix("users ").splitlines()[-1] if reason else "refused by the backend")
    if stream.exit_code != 0:
        raise FoveaError(f"users {args[0]} failed in the backend (exit {stream.exit_code}): {reason[-800:]}")
    return json.loads(out)
