"""OpenTelemetry metrics over OTLP/HTTP, only when BACKEND_OTLP_ENDPOINT is set.

Unset, every instrument is a no-op and the OpenTelemetry packages are never imported. Set, the SDK
exports from a background thread every 10 s with a 2 s timeout, so a collector that is down costs a
logged warning per interval and nothing on the request path.

Endpoint rule: a URL with a path is used verbatim as the metrics URL; a bare `scheme://host:port` gets
`/opentelemetry/v1/metrics` appended, the path of the stack's offline collector (vmagent, see
DESIGN.md). For a stock OpenTelemetry Collector give the full URL, `http://otel-collector:4318/v1/metrics`.
Instrument names are already Prometheus-shaped: with `-opentelemetry.usePrometheusNaming` the counter
`fovea_api_requests` arrives as `fovea_api_requests_total`.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("fovea_backend.telemetry")
EXPORT_INTERVAL_MS = 10_000
EXPORT_TIMEOUT_MS = 2_000
# Request durations are mostly a few ms; buckets up to 10 s for uploads and exports.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def metrics_url(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.path and parts.path != "/":
        return endpoint
    return endpoint.rstrip("/") + "/opentelemetry/v1/metrics"


class _Noop:
    def add(self, *_: Any, **__: Any) -> None:
        pass

    def record(self, *_: Any, **__: Any) -> None:
        pass


class Telemetry:
    def __init__(self, endpoint: str | None, extra_readers: tuple[Any, ...] = (),
                 headers: dict[str, str] | None = None) -> None:
        self._provider: Any = None
        self.requests: Any = _Noop()
        self.duration: Any = _Noop()
        self.jobs_submitted: Any = _Noop()
        self.jobs_completed: Any = _Noop()
        self.jobs_failed: Any = _Noop()
        if endpoint:
            try:
                self._start(metrics_url(endpoint), extra_readers, headers or {})
            except Exception as exc:  # noqa: BLE001 - telemetry must never stop the API from starting
                log.warning("metrics disabled: cannot set up the OTLP exporter: %s", exc)

    def _start(self, url: str, extra_readers: tuple[Any, ...], headers: dict[str, str]) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
        from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource

        # Cumulative temporality: Prometheus (behind vmagent) only understands cumulative counters.
        exporter = OTLPMetricExporter(
            endpoint=url,
            headers=headers,  # the collector's basic auth (from a secret file: settings.otlp_headers)
            timeout=EXPORT_TIMEOUT_MS / 1000,
            preferred_temporality={Counter: AggregationTemporality.CUMULATIVE, Histogram: AggregationTemporality.CUMULATIVE},
        )
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=EXPORT_INTERVAL_MS, export_timeout_millis=EXPORT_TIMEOUT_MS)
        self._provider = MeterProvider(
            resource=Resource.create({"service.name": "fovea-backend"}),
            metric_readers=[reader, *extra_readers],  # extra readers: tests inspect what would be exported
            views=[
                View(
                    instrument_name="fovea_api_request_duration_seconds",
                    aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS),
                )
            ],
        )
        meter = self._provider.get_meter("fovea_backend")
        self.requests = meter.create_counter("fovea_api_requests", description="HTTP requests served")
        self.duration = meter.create_histogram("fovea_api_request_duration_seconds", description="HTTP request duration in seconds")
        self.jobs_submitted = meter.create_counter("fovea_queue_jobs_submitted", description="jobs enqueued")
        self.jobs_completed = meter.create_counter("fovea_queue_jobs_completed", description="jobs finished successfully")
        self.jobs_failed = meter.create_counter("fovea_queue_jobs_failed", description="jobs failed after retries")
        log.info("exporting metrics to %s", url)

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def shutdown(self) -> None:
        if self._provider is not None:
            try:
                self._provider.shutdown(timeout_millis=EXPORT_TIMEOUT_MS)
            except Exception as exc:  # noqa: BLE001
                log.warning("metrics shutdown: %s", exc)


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware task per request); labels use the route template, not the raw
    path, so `/api/personas/{persona_id}` stays one series however many personas exist."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The Telemetry lives on the app state, created at startup; before that (or when disabled) pass through.
        state = getattr(scope.get("app"), "state", None)
        telemetry: Telemetry | None = getattr(getattr(state, "backend", None), "telemetry", None)
        if scope["type"] != "http" or telemetry is None or not telemetry.enabled:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            attributes = {
                "method": scope.get("method", ""),
                "route": getattr(route, "path", "unmatched"),
                "status": str(status),
            }
            telemetry.requests.add(1, attributes)
            telemetry.duration.record(time.perf_counter() - started, attributes)
