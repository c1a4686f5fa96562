"""Running a secret's declared hook (`Secret.applied_by`): the one way fovea puts a secret's value into the
data that keeps a copy of it. fovea knows which service applies it and the command that service ships,
nothing of that service's tables.

The hook runs by `docker exec` in the service's running container; when none runs (a restore has stopped
the backend while it swaps its data in), in a one-off container of the service: its image, env, secrets
and network, but no volumes (it must not share a data directory with anything), no published port, no
name on the network (nothing may reach it as the service), removed at once. The value goes on stdin.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fovea_ctl.errors import FoveaError

if TYPE_CHECKING:
    from fovea_ctl.data.project_protocol import DataProject
    from fovea_ctl.model import AppliedBy, Secret, Service


def _hook(secret: Secret) -> AppliedBy:
    if secret.applied_by is None:
        raise FoveaError(f"secret {secret.name} declares no applied_by: nothing in the data holds it")
    return secret.applied_by


def _owner(project: DataProject, hook: AppliedBy) -> Service:
    service = project.stack.units.get(hook.service)
    if service is None:  # SecretStore refuses such a stack; a service skipped in this configuration lands here
        raise FoveaError(f"service {hook.service} is not part of this stack's configuration")
    return service


@contextmanager
def _one_off(project: DataProject, service: Service) -> Iterator[str]:
    """An idle container of `service` for the hook's exec (see the module's docstring), removed on exit."""
    from fovea_ctl.data.backup import image_for
    from fovea_ctl.docker.labels import helper_labels
    from fovea_ctl.reconcile.desired import desired_unit

    resolved = project.resolver().resolve(service)
    spec = desired_unit(service, project.stack, project.settings, resolved, project.secrets).spec
    spec = dataclasses.replace(
        spec, name=f"{spec.name}-apply-secret-{uuid.uuid4().hex[:8]}", image=image_for(project, service),
        labels=helper_labels(project.settings.project), aliases=[], port_bindings={}, volume_mounts=[],
        healthcheck=None, restart_policy=None, gpu=None, entrypoint=["sleep", "infinity"], command=[])
    engine = project.engine
    container = engine.create_container(spec)
    try:
        engine.start_container(container)
        yield container
    finally:
        try:
            engine.remove_helper(container)
        except FoveaError:
            pass


def apply_secret(project: DataProject, name: str, value: str) -> str:
    """Run secret `name`'s hook with `value` on stdin; what now holds it (the hook's last line of output),
    or a FoveaError saying which service's command refused it (and, per the hook's contract, changed nothing)."""
    hook = _hook(project.secrets.declared[name])
    service = _owner(project, hook)
    container = project.observe().container(service.name)
    if container is not None and container.running:
        return _run(project, container.id, name, hook, value)
    with _one_off(project, service) as one_off:
        # What the hook needs (a server, a database) may be what is not running.
        return _run(project, one_off, name, hook, value,
                    hint=f"{service.name} is not running: the hook ran in a one-off container of it; if it needs "
                         f"{service.name} itself, `fovea up {service.name}` first")


def _run(project: DataProject, container: str, name: str, hook: AppliedBy, value: str, hint: str | None = None) -> str:
    stream = project.engine.exec_stream(container, hook.command, user=hook.user, stdin=iter([value.encode()]))
    out = b"".join(stream).decode(errors="replace").strip()
    if stream.exit_code != 0:
        told = stream.stderr.decode(errors="replace").strip()
        raise FoveaError(f"{hook.service}'s `{' '.join(hook.command)[:80]}` did not apply secret {name} "
                         f"(exit {stream.exit_code}){': ' + told[-600:] if told else ''}", hint=hint)
    return out.splitlines()[-1] if out else hook.service
