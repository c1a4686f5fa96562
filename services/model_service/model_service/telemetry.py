"""Logging setup, and metrics over OTLP/HTTP when MODEL_OTLP_ENDPOINT is set.

Metrics (Prometheus names through the collector's Prometheus naming, as the backend's):
`fovea_model_inferences_total{task,device}` (model calls), `fovea_model_frames_total{task,device}`,
`fovea_model_inference_duration_seconds{task,device}` (one model call, a batch of frames), and
`fovea_model_gpu_memory_bytes{device,kind}` when CUDA is in use. With no endpoint, or if the exporter
cannot start, every record is a no-op: telemetry never stops the service.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("model_service")

EXPORT_INTERVAL_MS = 10_000
# One model call is a batch of frames: tens of ms on a GPU, seconds on a loaded CPU.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def metrics_url(endpoint: str) -> str:
    """A bare collector address gets the offline collector's (vmagent's) OTLP metrics path."""
    parts = urlsplit(endpoint)
    if parts.path and parts.path != "/":
        return endpoint
    return endpoint.rstrip("/") + "/opentelemetry/v1/metrics"


def collector_auth() -> dict[str, str]:
    """Basic auth for the stack's collector (user `fovea`, the password from MODEL_OTLP_PASSWORD_FILE)."""
    path = os.environ.get("MODEL_OTLP_PASSWORD_FILE")
    if not path:
        return {}
    import base64

    with open(path, encoding="utf-8") as handle:
        password = handle.read().strip()
    return {"Authorization": "Basic " + base64.b64encode(f"fovea:{password}".encode()).decode()}


class Metrics:
    def __init__(self) -> None:
        self._inferences: Any = None
        self._frames: Any = None
        self._duration: Any = None

    def start(self, endpoint: str, service_name: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
        from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource

        # Cumulative: Prometheus (behind vmagent) understands only cumulative counters.
        exporter = OTLPMetricExporter(endpoint=metrics_url(endpoint), timeout=2, headers=collector_auth(), preferred_temporality={
            Counter: AggregationTemporality.CUMULATIVE, Histogram: AggregationTemporality.CUMULATIVE})
        provider = MeterProvider(
            resource=Resource.create({"service.name": service_name}),
            metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=EXPORT_INTERVAL_MS)],
            views=[View(instrument_name="fovea_model_inference_duration_seconds",
                        aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS))],
        )
        meter = provider.get_meter("model_service")
        self._inferences = meter.create_counter("fovea_model_inferences", description="model calls")
        self._frames = meter.create_counter("fovea_model_frames", description="frames through a model")
        self._duration = meter.create_histogram("fovea_model_inference_duration_seconds",
                                                description="one model call (a batch of frames), seconds")
        meter.create_observable_gauge("fovea_model_gpu_memory_bytes", callbacks=[_gpu_memory],
                                      description="CUDA memory of this process (absent on CPU)")

    @contextmanager
    def inference(self, task: str, device: str, frames: int) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self._inferences is None:
            return
        labels = {"task": task, "device": device}
        self._inferences.add(1, labels)
        self._frames.add(frames, labels)
        self._duration.record(time.perf_counter() - started, labels)


def _gpu_memory(options: Any) -> Iterator[Any]:
    from opentelemetry.metrics import Observation

    import torch

    if not torch.cuda.is_available():
        return
    for index in range(torch.cuda.device_count()):
        device = f"cuda:{index}"
        yield Observation(torch.cuda.memory_allocated(index), {"device": device, "kind": "allocated"})
        yield Observation(torch.cuda.memory_reserved(index), {"device": device, "kind": "reserved"})


METRICS = Metrics()


_set_up = False


def setup_logging(service_name: str = "fovea-model-service") -> None:
    """Once per process (the API and the queue worker may share one): a second exporter would count twice."""
    global _set_up
    if _set_up:
        return
    _set_up = True
    logging.basicConfig(level=os.environ.get("MODEL_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    endpoint = os.environ.get("MODEL_OTLP_ENDPOINT")
    if not endpoint:
        return
    try:
        METRICS.start(endpoint, service_name)
    except Exception as exc:  # noqa: BLE001 - telemetry must never stop the service from starting
        log.warning("metrics disabled: cannot set up the OTLP exporter for %s: %s", endpoint, exc)
        return
    log.info("exporting metrics to %s", metrics_url(endpoint))
