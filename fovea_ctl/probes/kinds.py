"""Every probe kind, by the `kind` its declared probe carries (fovea_ctl.model's Probe union) and by the
`kind` its check carries on the wire: the one place a new kind is added.

Keyed by the kind's name rather than the model's class, so nothing here imports fovea_ctl.model (pydantic):
`fovea status` reads checks back from its roster through this module on every call.
"""

from __future__ import annotations

from fovea_ctl.probes.check import Check, ProbeKind, Unprobeable
from fovea_ctl.probes.exec_command import ExecCheck, ExecKind
from fovea_ctl.probes.http import HttpCheck, HttpKind
from fovea_ctl.probes.postgres import PostgresCheck, PostgresKind
from fovea_ctl.probes.redis import RedisCheck, RedisKind
from fovea_ctl.probes.rq_worker import RqWorkerCheck, RqWorkerKind
from fovea_ctl.probes.tcp_banner import TcpBannerCheck, TcpBannerKind

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import Probe, Service, Stack
    from fovea_ctl.probes.check import CheckJson

PROBE_KINDS: dict[str, ProbeKind] = {kind.name: kind for kind in (
    PostgresKind(), RedisKind(), HttpKind(), TcpBannerKind(), ExecKind(), RqWorkerKind())}

CHECKS: dict[str, type[Check]] = {check.kind: check for check in (
    PostgresCheck, RedisCheck, HttpCheck, TcpBannerCheck, ExecCheck, RqWorkerCheck, Unprobeable)}


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


def check_from_json(document: CheckJson) -> Check:
    """A check `Check.to_json` wrote; KeyError or TypeError when the document is not one (an unknown kind)."""
    return CHECKS[document["kind"]].from_json(document)
