"""What every probe kind shares: a `Check` (a probe on the wire, resolved to host ports, JSON-ready for the
status roster) runs against a `Target` (the container and how to reach it) and raises ProbeFailed until ready;
a `ProbeKind` compiles a declared probe (fovea_ctl.model) into its check, its Docker HEALTHCHECK test and its
Kubernetes action. Each kind is one module of this package; fovea_ctl.probes.kinds registers them.

Standard library only (no typing, no dataclasses): `fovea status` imports this on every call.
"""

from __future__ import annotations

import os

from fovea_ctl.docker.socket_client import ProbeFailed

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from fovea_ctl.model import Probe, Service, Stack

    ExecIn = Callable[[str, list[str]], tuple[int, bytes]]  # (container id, argv) -> (exit code, output)
    # A check as JSON: {"kind": ..., plus that kind's fields}; the roster keeps these.
    CheckJson = dict[str, Any]

__all__ = ["Check", "ProbeFailed", "ProbeKind", "Target", "read_secret_file", "secret_file"]


class Target:
    """The container a check runs against: its id, a `docker exec` into it, where the host keeps the
    secrets a check presents, and — when the stack's secret store is at hand (`up`) — a reader of secret
    values, which is what lets a PostgreSQL check log in rather than only ask."""

    __slots__ = ("container_id", "exec_in", "secrets_dir", "timeout_s", "password")

    def __init__(self, container_id: str, exec_in: ExecIn, secrets_dir: str | None, timeout_s: float,
                 password: Callable[[str], str] | None = None) -> None:
        self.container_id = container_id
        self.exec_in = exec_in
        self.secrets_dir = secrets_dir
        self.timeout_s = timeout_s
        self.password = password


class Check:
    """One kind's probe on the wire. Subclasses name their `kind` (the JSON tag) and their `FIELDS` (the
    JSON keys, in order, a None value left out), and run one attempt."""

    kind = ""
    FIELDS: tuple[str, ...] = ()

    def run(self, target: Target, quick: bool = False) -> None:
        """One attempt; ProbeFailed says why the service is not ready. `quick` (status) skips what costs
        more than asking (a PostgreSQL login)."""
        raise NotImplementedError

    def to_json(self) -> CheckJson:
        document: CheckJson = {"kind": self.kind}
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        return document

    @classmethod
    def from_json(cls, document: CheckJson) -> Check:
        """The check `to_json` wrote; KeyError or TypeError when the document is not one."""
        return cls(**{name: document[name] for name in cls.FIELDS if name in document})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Check) and type(other) is type(self) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_json()!r})"


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


def secret_file(secrets_dir: str, name: str) -> str:
    """Where secret `name` lives on the host, as SecretStore.path finds it (nothing is created here)."""
    return os.environ.get(f"FOVEA_SECRET_{name.upper()}_FILE") or os.path.join(secrets_dir, name)


def read_secret_file(secrets_dir: str, name: str) -> str:
    with open(secret_file(secrets_dir, name), encoding="utf-8") as handle:
        return handle.read().strip()


class Unprobeable(Check):
    """A probe this stack leaves no way to run (a TCP banner on a port that is not published): never ready,
    and `detail` says why."""

    kind = "fail"
    FIELDS = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail

    def run(self, target: Target, quick: bool = False) -> None:
        raise ProbeFailed(self.detail)
