"""`rq-worker` probes: the worker is registered in Redis (and not marked dead), read from the host over the
Redis service's published port instead of a `docker exec` of a Python process. Kubernetes has no action for
it (fovea's render refuses it rather than guess)."""

from __future__ import annotations

from fovea_ctl.docker.redis_cli import REDIS_PASSWORD_SECRET
from fovea_ctl.docker.socket_client import rq_worker_registered
from fovea_ctl.probes.check import Check, ProbeKind
from fovea_ctl.probes.redis import redis_password

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from fovea_ctl.model import RqWorkerProbe, Service, Stack
    from fovea_ctl.probes.check import Target


class RqWorkerCheck(Check):
    kind = "rq-worker"
    FIELDS = ("port", "worker", "password_secret")

    def __init__(self, port: int, worker: str, password_secret: str) -> None:
        self.port = port
        self.worker = worker  # the RQ name; {hostname} is the container's short id (Docker's default hostname)
        self.password_secret = password_secret

    def run(self, target: Target, quick: bool = False) -> None:
        worker = self.worker.replace("{hostname}", target.container_id[:12])
        rq_worker_registered(self.port, redis_password(self.password_secret, target), worker, target.timeout_s)


class RqWorkerKind(ProbeKind):
    name = "rq-worker"

    def check(self, probe: RqWorkerProbe, service: Service, stack: Stack) -> Check:
        redis = stack.units[probe.redis]
        redis_port = redis.port_for(probe.redis_port)
        assert redis_port is not None, "the stack's own check: an rq-worker probe names a port its redis publishes"
        return RqWorkerCheck(stack.host_port(redis_port), probe.worker,
                             getattr(redis.probe, "password_secret", None) or REDIS_PASSWORD_SECRET)
