"""Every kind of declared probe (fovea_ctl.model's Probe union), each one class here that gives the three things
that run it: its live check (fovea_ctl.probes.checks, host ports resolved; a port the stack does not publish
becomes a check inside the container), its Docker HEALTHCHECK test and its Kubernetes action. The one place a
new kind is added, with its check.

Keyed by the kind's name rather than the model's class, so this module imports nothing of fovea_ctl.model
(pydantic) at run time; lightkube only when a Kubernetes action is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fovea_ctl.docker.redis_cli import REDIS_PASSWORD_SECRET, redis_ping_check
from fovea_ctl.probes.checks import (
    Check,
    ExecCheck,
    HttpCheck,
    PostgresCheck,
    RedisCheck,
    RqWorkerCheck,
    TcpBannerCheck,
    Unprobeable,
)

if TYPE_CHECKING:
    from fovea_ctl.model import (
        ExecProbe,
        HttpProbe,
        PostgresProbe,
        Probe,
        RedisProbe,
        RqWorkerProbe,
        Service,
        Stack,
        TcpBannerProbe,
    )

# GET over bash's /dev/tcp, exit 0 on a 2xx status: every fovea-built image is Debian (bash is essential
# there), while python3 or curl are not in all of them. $0: the port, $1: the path; with a credential, $2:
# its scheme (basic | bearer), $3: the user, $4: the secret's file inside the container, read by bash
# builtins and handed to coreutils' base64 on a pipe, so the value is in no process's argv.
HTTP_GET_2XX = ["bash", "-c", """auth=
if [ -n "$2" ]; then
  IFS= read -r secret < "$4" || [ -n "$secret" ] || exit 1
  if [ "$2" = basic ]; then auth="Authorization: Basic $(printf '%s:%s' "$3" "$secret" | base64 -w0)"
  else auth="Authorization: Bearer $secret"; fi
  auth="$auth"$'\\r\\n'
fi
exec 3<>"/dev/tcp/127.0.0.1/$0" && printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n%s\\r\\n' "$1" "$auth" >&3 \\
  && read -r _ code _ <&3 && [[ $code == 2?? ]]"""]


class ProbeKind:
    """How one kind of declared probe becomes the three things that run it: the live check (host ports
    resolved; a port the stack does not publish becomes a check inside the container), the Docker
    HEALTHCHECK test, and the Kubernetes action of its startup and readiness probes."""

    name = ""  # the model's `kind` literal this compiles

    def check(self, probe: Any, service: Service, stack: Stack) -> Check:
        raise NotImplementedError

    def healthcheck_test(self, probe: Probe) -> list[str] | None:
        """The image's own check as Docker's HEALTHCHECK test: the same for every kind, since it is the
        command the stack declares (`healthcheck`), not one fovea derives."""
        return ["CMD", *probe.healthcheck] if probe.healthcheck else None

    def k8s_action(self, probe: Any) -> dict[str, Any]:
        """Keyword arguments of a lightkube Probe: the action that checks what the live check checks."""
        raise TypeError(f"no Kubernetes probe for {type(probe).__name__}")


def host_port(service: Service, stack: Stack, container_port: int) -> int | None:
    """The host port `container_port` is published on, when this stack publishes it (FOVEA_PUBLISH=user-facing
    keeps internal ports inside the network)."""
    return {port.container: stack.host_port(port) for port in stack.published_ports(service)}.get(container_port)


def pg_isready(probe: PostgresProbe) -> list[str]:
    """The check inside the container, when the port is not published and as Kubernetes' default."""
    return ["pg_isready", "-q", "-U", probe.user, "-d", probe.database]


class PostgresKind(ProbeKind):
    """From the host, a StartupMessage (status) or a login and SELECT 1 (up); inside the container, pg_isready."""

    name = "postgres"

    def check(self, probe: PostgresProbe, service: Service, stack: Stack) -> Check:
        port = host_port(service, stack, probe.port)
        if port is None:
            return ExecCheck(pg_isready(probe))
        return PostgresCheck(port, probe.user, probe.database, probe.password_secret)

    def k8s_action(self, probe: PostgresProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import ExecAction

        return {"exec": ExecAction(command=list(probe.healthcheck or pg_isready(probe)))}


class RedisKind(ProbeKind):
    """AUTH (with the password secret, once it exists) then PING; inside the container, redis-cli with the
    password from the mounted secret (fovea_ctl.docker.redis_cli)."""

    name = "redis"

    def check(self, probe: RedisProbe, service: Service, stack: Stack) -> Check:
        port = host_port(service, stack, probe.port)
        if port is None:
            return ExecCheck(redis_ping_check(probe.password_secret))
        return RedisCheck(port, probe.password_secret or REDIS_PASSWORD_SECRET)

    def k8s_action(self, probe: RedisProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import ExecAction

        return {"exec": ExecAction(command=list(probe.healthcheck or ["redis-cli", "ping"]))}


class HttpKind(ProbeKind):
    """GET on 127.0.0.1, ready on a 2xx, presenting the probe's credential; inside the container, the same GET
    over bash's /dev/tcp (HTTP_GET_2XX)."""

    name = "http"

    def check(self, probe: HttpProbe, service: Service, stack: Stack) -> Check:
        auth = probe.auth
        port = host_port(service, stack, probe.port)
        if port is None:
            credential = [auth.scheme, auth.user, f"/run/secrets/{auth.secret}"] if auth else ["", "", ""]
            return ExecCheck([*HTTP_GET_2XX, str(probe.port), probe.path, *credential])
        return HttpCheck(port, probe.path,
                         {"scheme": auth.scheme, "user": auth.user, "secret": auth.secret} if auth else None)

    def k8s_action(self, probe: HttpProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import HTTPGetAction

        return {"httpGet": HTTPGetAction(path=probe.path, port=probe.port)}


class TcpBannerKind(ProbeKind):
    """The greeting the server sends first, read from the host only: an unpublished port is Unprobeable."""

    name = "tcp-banner"

    def check(self, probe: TcpBannerProbe, service: Service, stack: Stack) -> Check:
        port = host_port(service, stack, probe.port)
        if port is None:
            return Unprobeable(f"tcp-banner probe needs port {probe.port} published")
        return TcpBannerCheck(port, probe.expect)

    def k8s_action(self, probe: TcpBannerProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import TCPSocketAction

        return {"tcpSocket": TCPSocketAction(port=probe.port)}


class ExecKind(ProbeKind):
    """A command inside the container (`docker exec`), ready when it exits 0."""

    name = "exec"

    def check(self, probe: ExecProbe, service: Service, stack: Stack) -> Check:
        return ExecCheck(probe.command)

    def k8s_action(self, probe: ExecProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import ExecAction

        return {"exec": ExecAction(command=list(probe.command))}


class RqWorkerKind(ProbeKind):
    """The worker is registered in Redis (and not marked dead), read over the Redis service's port rather than
    a `docker exec` of a Python process. Kubernetes has no action for it: render refuses it rather than guess."""

    name = "rq-worker"

    def check(self, probe: RqWorkerProbe, service: Service, stack: Stack) -> Check:
        redis = stack.units[probe.redis]
        redis_port = redis.port_for(probe.redis_port)
        assert redis_port is not None, "the stack's own check: an rq-worker probe names a port its redis publishes"
        return RqWorkerCheck(stack.host_port(redis_port), probe.worker,
                             getattr(redis.probe, "password_secret", None) or REDIS_PASSWORD_SECRET)


PROBE_KINDS: dict[str, ProbeKind] = {kind.name: kind for kind in (
    PostgresKind(), RedisKind(), HttpKind(), TcpBannerKind(), ExecKind(), RqWorkerKind())}


def kind_of(probe: Probe) -> ProbeKind:
    return PROBE_KINDS[probe.kind]


def check_for(service: Service, stack: Stack) -> Check | None:
    """`service`'s probe as the live check `up` and `status` run (None: the service has no probe)."""
    if service.probe is None:
        return None
    return kind_of(service.probe).check(service.probe, service, stack)


def healthcheck_test(probe: Probe | None) -> list[str] | None:
    """Docker's HEALTHCHECK test for the image's own check, None when the probe declares none."""
    return kind_of(probe).healthcheck_test(probe) if probe is not None else None


def k8s_action(probe: Probe) -> dict[str, Any]:
    return kind_of(probe).k8s_action(probe)
