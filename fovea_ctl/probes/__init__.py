"""Readiness probes. Each kind of declared probe (fovea_ctl.model's Probe union) owns its behaviour in one
module here — its live check on the wire, its Docker HEALTHCHECK test, its Kubernetes action — and
fovea_ctl.probes.kinds registers them; fovea_ctl.probes.readiness waits on a check with backoff.

Standard library only at import, like everything `fovea status` loads.
"""

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
