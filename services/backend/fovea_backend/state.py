"""What a running backend holds: settings, the Postgres pool, Redis clients, the job-sync thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool

from fovea_backend.cache import BodyCache
from fovea_backend.jobs import JobSync
from fovea_backend.settings import Settings
from fovea_backend.telemetry import Telemetry
from fovea_backend.throttle import LoginThrottle


@dataclass
class BackendState:
    settings: Settings
    pool: ConnectionPool
    # RQ stores pickled bytes, so its client must not decode responses.
    redis: redis.Redis
    telemetry: Telemetry
    job_sync: JobSync
    annotation_bodies: BodyCache
    login_throttle: LoginThrottle


def get_state(request: Request) -> BackendState:
    return request.app.state.backend  # type: ignore[no-any-return]


# What a route takes to reach the running backend: `state: StateDep`.
StateDep = Annotated[BackendState, Depends(get_state)]
