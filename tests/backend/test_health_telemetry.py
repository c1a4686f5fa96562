"""/health turns 503 naming redis when redis stops; metrics are named for Prometheus and cost nothing
when no collector listens."""

from __future__ import annotations

import time

import httpx
from backend_harness import ServedApp, free_port, make_settings
from fovea_backend.telemetry import Telemetry, metrics_url
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


def test_health_is_503_naming_redis_while_redis_is_stopped(served: ServedApp, anon: httpx.Client, backend_deps) -> None:  # type: ignore[no-untyped-def]
    assert anon.get("/health").status_code == 200
    backend_deps.stop_redis()
    try:
        started = time.monotonic()
        response = anon.get("/health")
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        assert response.json()["failing"] == ["redis"] and response.json()["postgres"] == "ok"
        assert response.json()["redis"].startswith("error")
    finally:
        backend_deps.start_redis()
    deadline = time.monotonic() + 10
    while anon.get("/health").status_code != 200:
        assert time.monotonic() < deadline, "health did not recover after redis came back"
        time.sleep(0.1)


def test_health_is_503_naming_postgres_when_its_database_goes_away(backend_deps, secret_files, fresh_database,
                                                                   admin_conn) -> None:  # type: ignore[no-untyped-def]
    from fovea_backend import migrate

    db = fresh_database()
    settings = make_settings(backend_deps, secret_files, db)
    migrate.run(settings)
    with ServedApp(settings, run_job_sync=False) as served, served.client() as c:
        assert c.get("/health").status_code == 200
        admin_conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')  # kills the pool's sessions, refuses new ones
        response = c.get("/health")
        assert response.status_code == 503
        assert response.json()["failing"] == ["postgres"] and response.json()["redis"] == "ok"


def test_metrics_url_rule() -> None:
    assert metrics_url("http://otel-collector:4318") == "http://otel-collector:4318/opentelemetry/v1/metrics"
    assert metrics_url("http://otel-collector:4318/") == "http://otel-collector:4318/opentelemetry/v1/metrics"
    assert metrics_url("http://collector:4318/v1/metrics") == "http://collector:4318/v1/metrics"


def test_instruments_have_the_prometheus_names() -> None:
    reader = InMemoryMetricReader()
    telemetry = Telemetry(f"http://127.0.0.1:{free_port()}", extra_readers=(reader,))
    try:
        labels = {"method": "GET", "route": "/api/videos", "status": "200"}
        telemetry.requests.add(1, labels)
        telemetry.duration.record(0.01, labels)
        telemetry.jobs_submitted.add(1, {"queue": "object-detection"})
        data = reader.get_metrics_data()
        names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        assert names == {"fovea_api_requests", "fovea_api_request_duration_seconds", "fovea_queue_jobs_submitted"}
    finally:
        telemetry.shutdown()


def test_requests_stay_fast_when_the_collector_is_down(backend_deps, secret_files, admin_password: str, migrated) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(backend_deps, secret_files, otlp_endpoint=dead)
    with ServedApp(settings, run_job_sync=False) as served, served.client(admin_password) as c:
        assert served.state.telemetry.enabled
        started = time.monotonic()
        for _ in range(50):
            assert c.get("/api/personas").status_code == 200
        assert (time.monotonic() - started) / 50 < 0.1
        assert c.get("/api/nope").status_code == 404


def test_metrics_are_posted_as_otlp_protobuf_to_the_collector_path() -> None:
    import http.server
    import threading

    received: list[tuple[str, str, int]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length", "0"))
            self.rfile.read(length)
            received.append((self.path, self.headers.get("content-type", ""), length))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    telemetry = Telemetry(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        telemetry.requests.add(1, {"method": "GET", "route": "/health", "status": "200"})
        telemetry._provider.force_flush(timeout_millis=5000)
        assert received and received[0][0] == "/opentelemetry/v1/metrics"
        assert received[0][1] == "application/x-protobuf" and received[0][2] > 0
    finally:
        telemetry.shutdown()
        server.shutdown()
