"""Logging setup, and what happens to MODEL_OTLP_ENDPOINT.

The CPU image carries no OpenTelemetry SDK (Debian trixie lacks the exporter packages and the wheelhouse
stays small), so a configured endpoint is used only when the SDK is importable (the GPU image can add it);
otherwise the service says once, plainly, that metrics are not exported.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("model_service")


def setup_logging() -> None:
    logging.basicConfig(level=os.environ.get("MODEL_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    endpoint = os.environ.get("MODEL_OTLP_ENDPOINT")
    if not endpoint:
        return
    try:
        from opentelemetry import metrics
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    except ImportError:
        log.warning("MODEL_OTLP_ENDPOINT=%s is set but this image has no OpenTelemetry SDK: metrics are not "
                    "exported", endpoint)
        return
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint))
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    log.info("exporting metrics to %s", endpoint)
