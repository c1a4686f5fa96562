"""Readiness probes. Each kind of declared probe (fovea_ctl.model's Probe union) is one class in
fovea_ctl.probes.kinds that gives its live check, its Docker HEALTHCHECK test and its Kubernetes action; the
checks themselves, which `fovea status` reads back from its roster and runs, are in fovea_ctl.probes.checks;
fovea_ctl.probes.readiness waits on a check with backoff.

The readiness names below are imported on first use (PEP 562): `fovea status` loads this package for its
checks alone, and each module it imports is time on every call.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this package
if TYPE_CHECKING:
    from fovea_ctl.probes.readiness import (
        Cancelled,
        ContainerStopped,
        ProbeContext,
        ProbeFailed,
        probe_context_for,
        probe_once,
        wait_until_ready,
    )

__all__ = ["Cancelled", "ContainerStopped", "ProbeContext", "ProbeFailed", "probe_context_for", "probe_once",
           "wait_until_ready"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from fovea_ctl.probes import readiness

        return getattr(readiness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
