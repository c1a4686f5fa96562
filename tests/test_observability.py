"""Observability: backend metrics reach Prometheus through the collector, every dashboard panel's query
returns data after traffic, the mode-specific wiring is consistent, and `fovea up` sends its own trace."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
import types
import urllib.error
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fovea_ctl.reconcile.project import Project
from fovea_ctl.ops.smoke import Http
from fovea_ctl.ops.videos import add_videos, backend_session
from tests.conftest import ProjectFactory, RecordingReporter, detect_and_wait, make_clip, run_fovea, \
    stack_without_job_retries
from tests.unit.test_observability_wiring import DASHBOARDS

MODEL_SERIES = "fovea_model_"  # exported by the model-service itself: only a real one running jobs has them


def panel_queries(model_service: bool) -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of the panels on the model-service's own series, or of the rest."""
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                if (MODEL_SERIES in target["expr"]) == model_service:
                    found.append((path.name, panel["title"], target["expr"]))
    return found


class Prometheus:
    """The project's Prometheus over its published port, with the credential it asks for (basic auth)."""

    def __init__(self, project: Project) -> None:
        from fovea_ctl.docker.socket_client import authorization

        unit = project.stack.units["prometheus"]
        self.url = f"http://127.0.0.1:{project.stack.host_port(unit.ports[0])}"
        auth = unit.probe.auth  # type: ignore[union-attr]
        self.authorization = authorization(auth.scheme, auth.user, project.secrets.value(auth.secret))


def wait_for_panel_data(http: Http, prometheus: Prometheus, queries: list[tuple[str, str, str]],
                        traffic: Callable[[], None], timeout_s: float = 60) -> None:
    """Every query returns a series within the deadline (exports every 10 s; rates need two samples)."""
    empty = queries
    deadline = time.monotonic() + timeout_s
    while empty and time.monotonic() < deadline:
        traffic()
        time.sleep(2)
        empty = [q for q in empty if not query(http, prometheus, q[2])]
    assert not empty, "panels without data:\n" + "\n".join(f"{d} / {t}: {e}" for d, t, e in empty)


# -- live metrics path ------------------------------------------------------------------------------
def fake_tasks(fail: bool) -> types.ModuleType:
    """`model_service.tasks` for a host-side RQ worker: augment succeeds, or crashes."""
    module = types.ModuleType("model_service.tasks")

    def augment(persona: dict[str, Any], ontology: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if fail:
            raise RuntimeError("simulated model crash")
        return {"suggestions": [{"category": "entityTypes", "name": "Wheelchair", "description": "A mobility aid",
                                 "confidence": 0.7, "reason": "smoke"}]}

    module.augment = augment  # type: ignore[attr-defined]
    return module


def run_worker(redis_port: int, password: str, fail: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    package = types.ModuleType("model_service")
    package.__path__ = []  # type: ignore[attr-defined]
    tasks = fake_tasks(fail)
    package.tasks = tasks  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "model_service", package)
    monkeypatch.setitem(sys.modules, "model_service.tasks", tasks)
    connection = redis.Redis(host="127.0.0.1", port=redis_port, password=password)
    SimpleWorker([Queue("ontology-augmentation", connection=connection, serializer=JSONSerializer)],
                 connection=connection, serializer=JSONSerializer).work(burst=True)


def test_backend_metrics_reach_prometheus_and_every_dashboard_query_returns_data(
        make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(stack_without_job_retries)  # the failure panels get data within the test
    _, result = project.up(RecordingReporter(), ["backend"])
    assert result.ok, [f.describe() for f in result.failures]
    s = project.stack
    api = f"http://127.0.0.1:{s.host_port(s.units['backend'].ports[0])}"
    prometheus = Prometheus(project)
    redis_port = s.host_port(s.units["redis"].ports[0])

    http = Http()
    assert http.call("POST", f"{api}/api/auth/login", {"username": "admin", "password": "wrong"})[0] == 401
    assert http.call("POST", f"{api}/api/auth/login",
                     {"username": "admin", "password": project.secrets.value("admin_password")})[0] == 200
    status, persona = http.call("POST", f"{api}/api/personas", {"name": "analyst"})
    assert status == 201, persona
    for fail in (False, True):
        status, accepted = http.call("POST", f"{api}/api/ontology/augment", {"personaId": persona["id"]})  # type: ignore[index]
        assert status == 202, accepted
        run_worker(redis_port, project.secrets.value("redis_password"), fail, monkeypatch)
        job = f"{api}/api/jobs/{accepted['jobId']}"  # type: ignore[index]
        deadline = time.monotonic() + 15
        while http.call("GET", job)[1]["status"] not in ("completed", "failed"):  # type: ignore[index]
            assert time.monotonic() < deadline, "the backend never saw the job finish"
            time.sleep(0.3)

    queries = panel_queries(model_service=False)
    assert len(queries) >= 20

    def traffic() -> None:
        http.call("GET", f"{api}/health")
        http.call("GET", f"{api}/api/personas")

    wait_for_panel_data(http, prometheus, queries, traffic)
    requests = query(http, prometheus, 'fovea_api_requests_total{route="/api/auth/login",status="401"}')
    assert requests and requests[0]["metric"]["service_name"] == "fovea-backend"


def test_model_service_panels_return_data_after_a_detection_job(make_project: ProjectFactory, tmp_path: Path) -> None:
    """The fovea_model_* panels need the real model-service: one detection job on the test clip feeds them."""
    project = make_project()
    _, result = project.up(RecordingReporter(), ["backend", "model-service"])  # its own process consumes the queues
    assert result.ok, [f.describe() for f in result.failures]
    add_videos(project, [make_clip(project, tmp_path / "panels.mp4")])
    prometheus = Prometheus(project)
    client = backend_session(project)
    try:
        video = next(v for v in client.get("/api/videos").json() if v["filename"] == "panels.mp4")
        assert detect_and_wait(client, video["id"])["status"] == "completed"
    finally:
        client.close()
    queries = panel_queries(model_service=True)
    assert len(queries) >= 5
    wait_for_panel_data(Http(), prometheus, queries, traffic=lambda: None, timeout_s=90)


def query(http: Http, prometheus: Prometheus, expr: str) -> list[dict[str, Any]]:
    status, body = http.call("GET", f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}),
                             authorization=prometheus.authorization)
    assert status == 200, (expr, body)
    return body["data"]["result"]  # type: ignore[index]


# -- the CLI's own trace -----------------------------------------------------------------------------
class TraceReceiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    raw = gzip.decompress(raw)
                if self.path == "/v1/traces":
                    receiver.bodies.append(raw)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def trace_receiver() -> Iterator[TraceReceiver]:
    server = TraceReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def spans_received(bodies: list[bytes]) -> list[tuple[str, str | None, int, int]]:
    """(name, parent name, start, end) of every span received."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans += list(scope.spans)
    by_id = {span.span_id: span.name for span in spans}
    return [(s.name, by_id.get(s.parent_span_id), s.start_time_unix_nano, s.end_time_unix_nano) for s in spans]


def test_up_sends_a_trace_with_a_span_per_service_when_an_endpoint_is_set(
        make_project: ProjectFactory, trace_receiver: TraceReceiver) -> None:
    project = make_project()
    env = {**make_project.env(project), "FOVEA_OTLP_ENDPOINT": f"http://127.0.0.1:{trace_receiver.server_port}"}
    up = run_fovea(["up", "prometheus", "redis"], env, timeout=120)
    assert up.returncode == 0, up.stderr
    spans = spans_received(trace_receiver.bodies)
    names = {(name, parent) for name, parent, _, _ in spans}
    assert ("fovea up", None) in names
    for service in ("prometheus", "redis"):
        assert (service, "fovea up") in names
        for phase in ("create", "start", "ready"):
            assert (phase, service) in names, (phase, service, sorted(names))
    for name, _, start, end in spans:
        assert end >= start > 0, name
    # without the setting, nothing is sent
    trace_receiver.bodies.clear()
    quiet = run_fovea(["up", "redis"], {**env, "FOVEA_OTLP_ENDPOINT": ""}, timeout=60)
    assert quiet.returncode == 0, quiet.stderr
    assert trace_receiver.bodies == []


# -- Prometheus and the collector behind credentials (issue 19) ------------------------------------------
def test_prometheus_and_the_collector_refuse_every_request_without_credentials_and_have_no_lifecycle_api(
        make_project: ProjectFactory) -> None:
    """Before: a page on any origin could POST Prometheus' /-/quit, and the collector took metric writes,
    /-/reload and /debug/pprof from anyone. Now nothing answers without the generated credentials (a web
    page does not have them), and Prometheus has no lifecycle API at all."""
    import urllib.request

    from fovea_ctl.docker.socket_client import authorization

    project = make_project()
    _, result = project.up(RecordingReporter(), ["otel-collector"])  # with Prometheus, which it needs ready
    assert result.ok, [f.describe() for f in result.failures]
    s = project.stack
    prometheus = f"http://127.0.0.1:{s.host_port(s.units['prometheus'].ports[0])}"
    collector = f"http://127.0.0.1:{s.host_port(s.units['otel-collector'].port_for(4318))}"  # type: ignore[arg-type]
    metrics_password = authorization("basic", "fovea", project.secrets.value("prometheus_password"))
    collector_password = authorization("basic", "fovea", project.secrets.value("collector_password"))

    def status(method: str, url: str, credential: str | None = None, origin: str | None = None) -> int:
        headers = {"Content-Type": "text/plain"} | ({"Authorization": credential} if credential else {}) \
            | ({"Origin": origin} if origin else {})
        request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    for method, path in (("POST", "/-/quit"), ("POST", "/-/reload"), ("GET", "/-/ready"), ("GET", "/api/v1/query?query=up"),
                         ("POST", "/api/v1/write"), ("GET", "/metrics")):
        assert status(method, prometheus + path, origin="http://evil.example") == 401, path
    assert status("POST", prometheus + "/-/quit", metrics_password) == 403  # no lifecycle API, even with the password
    assert status("GET", prometheus + "/api/v1/query?query=up", metrics_password) == 200
    assert status("GET", prometheus + "/api/v1/query?query=up", collector_password) == 401  # each its own secret

    for method, path in (("POST", "/opentelemetry/v1/metrics"), ("GET", "/-/reload"), ("GET", "/debug/pprof/"),
                         ("GET", "/metrics"), ("GET", "/flags")):
        assert status(method, collector + path, origin="http://evil.example") == 401, path
    assert status("GET", collector + "/health") == 200  # the probe's: tells nothing, changes nothing
    assert status("GET", collector + "/metrics", collector_password) == 200
    assert status("GET", prometheus + "/-/ready", metrics_password) == 200  # both still up
