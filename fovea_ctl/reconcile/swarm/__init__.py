"""The same typed stack on Docker Swarm: `fovea swarm deploy | plan | status | down`.

- `deploy`: observed services → a plan (the same `Plan`, operations and text as the local one) → a rollout in
  dependency order, gated on fovea's own probes;
- `state`: `swarm status` (observed state read back from labels) and `swarm down`;
- elsewhere, by layer: fovea_ctl.render.swarm_spec, each unit as the Swarm service it should be
  (content-addressed secrets and configs, dnsrr, host-mode ports, placement constraints, replicas), with the
  local config hash plus Swarm's own parts; fovea_ctl.docker.swarm, the Swarm calls, as typed views.
"""

from fovea_ctl.reconcile.swarm.deploy import SwarmDeployer, SwarmDeployResult
from fovea_ctl.reconcile.swarm.state import SwarmDownResult, SwarmStatus, swarm_down, swarm_status

__all__ = ["SwarmDeployResult", "SwarmDeployer", "SwarmDownResult", "SwarmStatus", "swarm_down", "swarm_status"]
