"""`exec` probes: a command run inside the container with `docker exec`, ready when it exits 0. Other kinds
fall back to an ExecCheck when the stack does not publish the port they would reach from the host."""

from __future__ import annotations

from fovea_ctl.errors import EngineError
from fovea_ctl.probes.check import Check, ProbeFailed, ProbeKind

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import ExecProbe, Service, Stack
    from fovea_ctl.probes.check import Target


class ExecCheck(Check):
    kind = "exec"
    FIELDS = ("command",)

    def __init__(self, command: list[str]) -> None:
        self.command = list(command)

    def run(self, target: Target, quick: bool = False) -> None:
        try:
            code, output = target.exec_in(target.container_id, self.command)
        except EngineError as exc:  # e.g. "container is not running": the state check that follows says why
            raise ProbeFailed(f"`{' '.join(self.command)}`: {exc.message}") from None
        if code != 0:
            raise ProbeFailed(f"`{' '.join(self.command)}` exited {code}: "
                              f"{output.decode(errors='replace').strip()[-160:]}")


class ExecKind(ProbeKind):
    name = "exec"

    def check(self, probe: ExecProbe, service: Service, stack: Stack) -> Check:
        return ExecCheck(probe.command)

    def k8s_action(self, probe: ExecProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import ExecAction

        return {"exec": ExecAction(command=list(probe.command))}
