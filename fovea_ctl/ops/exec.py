"""`fovea exec|psql|redis-cli|shell`: a command inside a running service, attached to this terminal.

The shortcuts need no password typed and put none in argv: `psql` connects as the cluster's superuser
over the local socket inside the container (as backup's dumps do, no password exists for it);
`redis-cli` reads the password from the secret file mounted in the container into REDISCLI_AUTH of that
one shell (`fovea_ctl.docker.redis_cli`, the convention of every Redis exec).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fovea_ctl.errors import FoveaError, ServiceNotRunning, UsageError

if TYPE_CHECKING:
    from fovea_ctl.docker.views import ContainerView
    from fovea_ctl.model import Service
    from fovea_ctl.reconcile.project import Project

# Tried in this order by `fovea shell`: the first one the image has.
SHELLS = ("bash", "sh")
# What the runtime answers for an executable the image lacks (`exec: "x": executable file not found`).
NOT_FOUND_CODES = (126, 127)


def running_container(project: Project, service: str) -> ContainerView:
    """The container of `service`, which must be running. Unknown service: UsageError (2); stopped or
    never created: ServiceNotRunning (6), saying how to start it."""
    project.check_targets([service])
    container = project.observe().container(service)
    if container is None:
        raise ServiceNotRunning(f"{service} has no container in project {project.settings.project!r}",
                                hint=f"create and start it with `fovea up {service}`")
    if not container.running:
        raise ServiceNotRunning(f"{service} is not running ({container.status_text or container.state}); "
                                "a command runs only inside a running container",
                                hint=f"start it with `fovea start {service}`")
    return container


def attach(project: Project, container: ContainerView, command: list[str], *, tty: bool, user: str | None = None) -> int:
    """`command` in `container` with this terminal attached, through the docker client fovea builds with."""
    from fovea_ctl.images import buildkit_client

    try:
        client = buildkit_client(project.settings)
    except FoveaError:
        raise FoveaError("no docker client found to attach this terminal to the container",
                         hint="install Debian's docker.io or set FOVEA_DOCKER_CLI") from None
    return project.engine.exec_attached(client, container.id, command, tty=tty, user=user)


def exec_in(project: Project, service: str, command: list[str], *, tty: bool, user: str | None = None) -> int:
    """Run `command` inside `service`, attached to this terminal; its exit code."""
    if not command:
        raise UsageError("give the command to run, e.g. `fovea exec backend ls /`")
    return attach(project, running_container(project, service), command, tty=tty, user=user)


def service_with_probe(project: Project, kind: str, what: str) -> Service:
    """The stack's service probed as `kind` (postgres, redis): found by what it is, not by its name."""
    found = next((u for u in project.stack.units.values() if u.probe is not None and u.probe.kind == kind
                  and not u.job_of and not u.replica_of), None)
    if found is None:
        raise UsageError(f"this stack has no {what} service")
    return found


def psql_command(service: Service, sql: str | None) -> list[str]:
    """psql as the cluster's superuser into the application's database over the local socket: no password."""
    from fovea_ctl.data.backup.containers import postgres_access

    user, database = postgres_access(service)
    return ["psql", "-U", user, "-d", database, *(["-v", "ON_ERROR_STOP=1", "-c", sql] if sql is not None else [])]


def psql(project: Project, sql: str | None, *, tty: bool) -> int:
    service = service_with_probe(project, "postgres", "PostgreSQL")
    return attach(project, running_container(project, service.name), psql_command(service, sql), tty=tty, user="postgres")


def redis_cli_command(service: Service, args: list[str]) -> list[str]:
    """redis-cli ARGS authenticated from the service's mounted password file (never argv, never printed)."""
    from fovea_ctl.docker.redis_cli import redis_cli

    return redis_cli(*args, secret=getattr(service.probe, "password_secret", None))


def redis_cli_in(project: Project, args: list[str], *, tty: bool) -> int:
    service = service_with_probe(project, "redis", "Redis")
    return attach(project, running_container(project, service.name), redis_cli_command(service, args), tty=tty)


def find_shell(project: Project, container: ContainerView, service: str, candidates: tuple[str, ...] = SHELLS) -> str:
    """The first of `candidates` the container can run; a service without any: UsageError naming them."""
    for shell in candidates:
        code, _ = project.engine.exec(container.id, [shell, "-c", "exit 0"])
        if code == 0:
            return shell
        if code not in NOT_FOUND_CODES:
            raise FoveaError(f"{shell} in {service} exited {code} on `exit 0`")
    raise UsageError(f"{service} has no shell (tried {', '.join(candidates)}); run one of its programs with "
                     f"`fovea exec {service} PROGRAM`")


def shell(project: Project, service: str, *, tty: bool, candidates: tuple[str, ...] = SHELLS) -> int:
    container = running_container(project, service)
    return attach(project, container, [find_shell(project, container, service, candidates)], tty=tty)
