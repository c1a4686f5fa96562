"""The CLI's own trace of `fovea up`: one span per service (create, start, ready) and per image build.

Only when FOVEA_OTLP_ENDPOINT is set. The reporter that `up` already feeds is wrapped: every event is
timestamped as it arrives, and the spans are built and exported once the run ends, so the unit threads
never touch the SDK. The OpenTelemetry packages are imported only then (they are optional: the `dev`
extra, or `pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`); a missing SDK or a
dead endpoint costs one line on stderr, never the run.

Endpoint rule: a bare `http://host:4318` gets `/v1/traces`; a URL with a path is used as is. The stack's
offline collector (vmagent) takes no traces: point this at an OpenTelemetry Collector or any OTLP/HTTP
trace receiver.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fovea_ctl.core.run_progress import Reporter
from fovea_ctl.settings.effective import Settings

if TYPE_CHECKING:
    from opentelemetry.context import Context

# Phase boundaries, by the reporter's states: a phase runs from its first state to the next phase's.
PHASES = (("create", ("creating", "removing")), ("start", ("starting",)), ("ready", ("probing", "running")))
TERMINAL = ("ready", "completed", "failed", "cancelled")
EXPORT_TIMEOUT_S = 5.0


def traces_url(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.path and parts.path != "/":
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


@dataclass
class UnitEvents:
    first_ns: int
    states: list[tuple[int, str, str]] = field(default_factory=list)  # (time, state, detail)


class TracingReporter:
    """Passes every event on unchanged and remembers when it happened."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.began_ns = time.time_ns()
        self.units: dict[str, UnitEvents] = {}
        self.lock = threading.Lock()

    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        now = time.time_ns()
        with self.lock:
            self.units.setdefault(unit, UnitEvents(now)).states.append((now, state, detail))
        self.inner.event(unit, state, detail, elapsed=elapsed, quiet=quiet)

    def close(self) -> None:
        self.inner.close()


@dataclass
class SpanRecord:
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, str | int | bool]
    error: str | None = None
    children: list[SpanRecord] = field(default_factory=list)


def spans_from(recorder: TracingReporter, images: set[str]) -> list[SpanRecord]:
    """Turn the recorded events into span records (pure: unit tests check it without an SDK)."""
    spans: list[SpanRecord] = []
    end_of_run = time.time_ns()
    for unit, events in recorder.units.items():
        states = events.states
        terminal = next(((t, s, d) for t, s, d in reversed(states) if s in (*TERMINAL, "built")), None)
        end = terminal[0] if terminal else states[-1][0]
        error = terminal[2] or terminal[1] if terminal and terminal[1] in ("failed", "cancelled") else None
        if unit in images:
            spans.append(SpanRecord(f"build {unit}", events.first_ns, end, {"fovea.image": unit}, error))
            continue
        if not any(s in ("creating", "starting", "probing", "running", *TERMINAL) for _, s, _ in states):
            continue  # network, volumes, notes: not a service
        record = SpanRecord(unit, events.first_ns, end, {"fovea.service": unit,
                                                         "fovea.outcome": terminal[1] if terminal else "unfinished"}, error)
        marks = [(next((t for t, s, _ in states if s in starts), None), name) for name, starts in PHASES]
        found = sorted((t, name) for t, name in marks if t is not None)
        for index, (start, name) in enumerate(found):
            stop = found[index + 1][0] if index + 1 < len(found) else (end if terminal else end_of_run)
            record.children.append(SpanRecord(name, start, max(start, stop), {"fovea.service": unit},
                                              error if index == len(found) - 1 else None))
        spans.append(record)
    return spans


def export(settings: Settings, recorder: TracingReporter, images: set[str], ok: bool) -> None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.trace import Status, StatusCode, set_span_in_context
    except ImportError:
        sys.stderr.write("fovea: FOVEA_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed; "
                         "no trace sent (pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http)\n")
        return
    assert settings.otlp_endpoint
    url = traces_url(settings.otlp_endpoint)
    provider = TracerProvider(resource=Resource.create({"service.name": "fovea-cli", "fovea.project": settings.project}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=EXPORT_TIMEOUT_S)))
    tracer = provider.get_tracer("fovea_ctl")

    def emit(record: SpanRecord, parent: Context) -> None:
        span = tracer.start_span(record.name, context=parent, start_time=record.start_ns, attributes=record.attributes)
        if record.error:
            span.set_status(Status(StatusCode.ERROR, record.error))
        for child in record.children:
            emit(child, set_span_in_context(span))
        span.end(end_time=record.end_ns)

    try:
        root = tracer.start_span("fovea up", start_time=recorder.began_ns,
                                 attributes={"fovea.project": settings.project, "fovea.ok": ok})
        if not ok:
            root.set_status(Status(StatusCode.ERROR, "services failed"))
        for record in spans_from(recorder, images):
            emit(record, set_span_in_context(root))
        root.end()
        provider.force_flush(int(EXPORT_TIMEOUT_S * 1000))
    except Exception as exc:  # noqa: BLE001 - a trace must never fail the run it describes
        sys.stderr.write(f"fovea: could not send the trace of `up` to {url}: {exc}\n")
    finally:
        provider.shutdown()


@dataclass
class UpTrace:
    """What `up` hands back to the trace: the reporter to feed, and how the run ended."""

    reporter: Reporter
    images: set[str] = field(default_factory=set)
    ok: bool = False


@contextmanager
def trace_up(settings: Settings, reporter: Reporter) -> Iterator[UpTrace]:
    """`with trace_up(...) as trace:` feed `trace.reporter`; set `trace.images` and `trace.ok`."""
    if not settings.otlp_endpoint:
        yield UpTrace(reporter)
        return
    recorder = TracingReporter(reporter)
    trace = UpTrace(recorder)
    try:
        yield trace
    finally:
        export(settings, recorder, trace.images, trace.ok)
