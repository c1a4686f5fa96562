"""`redis` probes: AUTH (with the password secret, once it exists) then PING, answered PONG; inside the
container, redis-cli with the password from the mounted secret (fovea_ctl.docker.redis_cli)."""

from __future__ import annotations

from fovea_ctl.docker.redis_cli import REDIS_PASSWORD_SECRET, redis_ping_check
from fovea_ctl.docker.socket_client import redis_ping
from fovea_ctl.probes.check import Check, ProbeKind, host_port, read_secret_file
from fovea_ctl.probes.exec_command import ExecCheck

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import RedisProbe, Service, Stack
    from fovea_ctl.probes.check import Target


def redis_password(password_secret: str | None, target: Target) -> str | None:
    """The password to AUTH with: the secret's value if that secret exists; None (no AUTH) while there is none."""
    if not target.secrets_dir or not password_secret:
        return None
    try:
        return read_secret_file(target.secrets_dir, password_secret) or None
    except FileNotFoundError:
        return None


class RedisCheck(Check):
    kind = "redis"
    FIELDS = ("port", "password_secret")

    def __init__(self, port: int, password_secret: str) -> None:
        self.port = port
        self.password_secret = password_secret

    def run(self, target: Target, quick: bool = False) -> None:
        redis_ping(self.port, redis_password(self.password_secret, target), target.timeout_s)


class RedisKind(ProbeKind):
    name = "redis"

    def check(self, probe: RedisProbe, service: Service, stack: Stack) -> Check:
        port = host_port(service, stack, probe.port)
        if port is None:
            return ExecCheck(redis_ping_check(probe.password_secret))
        return RedisCheck(port, probe.password_secret or REDIS_PASSWORD_SECRET)

    def k8s_action(self, probe: RedisProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import ExecAction

        return {"exec": ExecAction(command=list(probe.healthcheck or ["redis-cli", "ping"]))}
