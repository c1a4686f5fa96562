"""The FastAPI application: lifespan (pool, seed, job sync, telemetry), routers, /health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from fovea_backend import __version__, migrate
from fovea_backend.auth import require_session
from fovea_backend.cache import BodyCache
from fovea_backend.csrf import CrossSiteGuard
from fovea_backend.db import make_pool
from fovea_backend.errors import install_error_handlers
from fovea_backend.jobs import JobSync
from fovea_backend.routes import (annotations, assignments, auth, bulk_annotations, formats, history, jobs, personas,
                                  summaries, transcripts, transfer, users, videos, world)
from fovea_backend.schemas import HealthOut
from fovea_backend.seed import seed
from fovea_backend.settings import ConfigError, Settings
from fovea_backend.state import BackendState
from fovea_backend.telemetry import MetricsMiddleware, Telemetry
from fovea_backend.throttle import LoginThrottle

log = logging.getLogger("fovea_backend")


def _open_state(settings: Settings) -> BackendState:
    pool = make_pool(settings)
    pool.open(wait=True, timeout=30)
    try:
        with pool.connection() as conn:
            pending = migrate.pending_versions(conn, migrate.discover())
            if pending:
                raise ConfigError(f"database schema is behind (pending migrations {pending}); run `python3 -m fovea_backend.migrate`")
            if seed(conn, settings.admin_password):
                log.info("seeded the admin user and the Automated persona")
        # Short timeouts: /health must answer "redis is down" quickly, not hang a probe.
        client = redis.Redis.from_url(settings.redis_url, password=settings.redis_password, socket_timeout=2,
                                      socket_connect_timeout=1, health_check_interval=15)
        telemetry = Telemetry(settings.otlp_endpoint, headers=settings.otlp_headers())
        job_sync = JobSync(pool, client, telemetry, settings.job_sync_interval_s)
        return BackendState(settings=settings, pool=pool, redis=client, telemetry=telemetry, job_sync=job_sync,
                            annotation_bodies=BodyCache(settings.annotation_cache_mb * 1024 * 1024),
                            login_throttle=LoginThrottle.from_settings(settings, client))
    except BaseException:
        pool.close()
        raise


API_DOCS_ASSETS = "/docs-assets"


def _serve_api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the copy the `fastapi-offline` wheel pins (hash-locked in requirements.txt):
    FastAPI's default page loads a floating `swagger-ui-dist@5` from a CDN into a page that holds the
    session cookie's origin."""
    import fastapi_offline

    app.mount(API_DOCS_ASSETS, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{API_DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{API_DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{API_DOCS_ASSETS}/favicon.png")


def create_app(settings: Settings, run_job_sync: bool = True) -> FastAPI:
    """`run_job_sync=False` lets tests drive JobSync by hand."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Secrets are read here, at startup, so a missing file fails the start, not the first request.
        _ = settings.session_secret, settings.redis_password
        state = await run_in_threadpool(_open_state, settings)
        app.state.backend = state
        if run_job_sync:
            state.job_sync.start()
        try:
            yield
        finally:
            state.job_sync.stop()
            state.telemetry.shutdown()
            state.redis.close()
            state.pool.close()

    app = FastAPI(
        title="FOVEA backend",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Video annotation API. Log in with POST /api/auth/login; every other /api route needs the session cookie"
                    " or an API token (`Authorization: Bearer`), and a role its line in fovea_backend/roles.py allows.",
    )
    install_error_handlers(app)
    app.add_middleware(CrossSiteGuard, allowed_origins=settings.allowed_origins)
    app.add_middleware(MetricsMiddleware)
    if settings.api_docs:
        _serve_api_docs(app)

    @app.get("/health", response_model=HealthOut, tags=["health"], responses={503: {"model": HealthOut}})
    def health() -> JSONResponse:
        state: BackendState = app.state.backend
        failing: list[str] = []
        try:
            with state.pool.connection(timeout=2) as conn:
                conn.execute("SELECT 1")
            postgres = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", with the reason
            postgres = f"error: {type(exc).__name__}"
            failing.append("postgres")
        try:
            state.redis.ping()
            redis_state = "ok"
        except Exception as exc:  # noqa: BLE001
            redis_state = f"error: {type(exc).__name__}"
            failing.append("redis")
        body = HealthOut(status="unavailable" if failing else "ok", postgres=postgres, redis=redis_state, failing=failing)
        return JSONResponse(body.model_dump(), status_code=503 if failing else 200)

    app.include_router(auth.public)
    protected = [Depends(require_session)]
    # Every protected route's role is checked by require_session against roles.ROUTE_ROLES.
    for module in (auth, users, personas, world, videos, annotations, history, bulk_annotations, jobs, summaries, transfer,
                   formats, assignments, transcripts):
        app.include_router(module.router, dependencies=protected)
    return app
