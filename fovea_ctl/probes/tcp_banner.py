"""`tcp-banner` probes: connect from the host and read the greeting the server sends first. Only from the
host: there is no in-container fallback, so an unpublished port is an Unprobeable check."""

from __future__ import annotations

from fovea_ctl.docker.socket_client import tcp_banner
from fovea_ctl.probes.check import Check, ProbeKind, Unprobeable, host_port

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import Service, Stack, TcpBannerProbe
    from fovea_ctl.probes.check import Target


class TcpBannerCheck(Check):
    kind = "tcp-banner"
    FIELDS = ("port", "expect")

    def __init__(self, port: int, expect: str) -> None:
        self.port = port
        self.expect = expect

    def run(self, target: Target, quick: bool = False) -> None:
        tcp_banner(self.port, self.expect, target.timeout_s)


class TcpBannerKind(ProbeKind):
    name = "tcp-banner"

    def check(self, probe: TcpBannerProbe, service: Service, stack: Stack) -> Check:
        port = host_port(service, stack, probe.port)
        if port is None:
            return Unprobeable(f"tcp-banner probe needs port {probe.port} published")
        return TcpBannerCheck(port, probe.expect)

    def k8s_action(self, probe: TcpBannerProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import TCPSocketAction

        return {"tcpSocket": TCPSocketAction(port=probe.port)}
