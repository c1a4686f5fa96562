"""A single-node Swarm made for one test module or benchmark, and the stack slice they deploy.

The Docker engine is shared with other work: `single_node_swarm` refuses (raises) when the engine is already
in Swarm mode, since leaving a Swarm it did not create would destroy someone's services. It only removes
objects labelled by fovea's Swarm stacks, always leaves the Swarm again, and removes `docker_gwbridge` only
when that network did not exist before.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fovea_ctl.docker.labels import LABEL_SWARM_STACK, STACK_NAMESPACE
from fovea_ctl.model import Stack
from fovea_ctl.core.context import load_stack
from fovea_ctl.settings.effective import Settings

DOCKER = "/usr/bin/docker"  # Debian's client, the engine's own version
BACKEND_SLICE = ("postgres", "redis", "prometheus", "otel-collector", "backend")
NODE_LABEL = "io.fovea.data=true"  # the stack pins postgres to the node holding its data


class SwarmRefused(RuntimeError):
    pass


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=check)


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


@contextmanager
def single_node_swarm() -> Iterator[None]:
    state = swarm_state()
    if state != "inactive":
        raise SwarmRefused(
            f"the engine is already in Swarm mode ({state}); this harness makes and leaves its own Swarm and will "
            "not leave one it did not create. If a crashed run left it, run `docker swarm leave --force` once "
            "nothing else uses the Swarm.")
    had_gwbridge = docker("network", "inspect", "docker_gwbridge", check=False).returncode == 0
    docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        node = docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
        docker("node", "update", "--label-add", NODE_LABEL, node)
        yield
    finally:
        # Whatever a failed run left: only services/secrets/configs of fovea's Swarm stacks or fovea benches.
        for kind in ("service", "secret", "config"):
            for label in (LABEL_SWARM_STACK, STACK_NAMESPACE):
                listed = docker(kind, "ls", "-q", "--filter", f"label={label}", check=False).stdout.split()
                if listed:
                    docker(kind, "rm", *listed, check=False)
        docker("swarm", "leave", "--force", check=False)
        if not had_gwbridge:
            for _ in range(30):
                if docker("network", "rm", "docker_gwbridge", check=False).returncode == 0:
                    break
                time.sleep(1)
        if swarm_state() != "inactive":
            raise RuntimeError("the engine is still in Swarm mode after `docker swarm leave --force`")


def backend_slice(settings: Settings, worker_replicas: int = 0) -> Stack:
    """postgres, redis, prometheus, the collector, backend (+ its migrate job), optionally N model workers."""
    # Dedicated workers exist in the stack only when asked for (the model-service holds the default one).
    full = load_stack(settings.model_copy(update={"scale": "model-worker=1"}) if worker_replicas else settings)
    names = {*BACKEND_SLICE, *(["model-worker"] if worker_replicas else [])}
    return Stack(name=full.name, port_base=full.port_base, volumes=full.volumes, secrets=full.secrets,
                 services=[s for s in full.services if s.name in names],
                 replicas={"model-worker": worker_replicas} if worker_replicas > 1 else {})
