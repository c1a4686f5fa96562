"""`fovea smoke`: bring a throwaway copy of the stack up, prove it works end to end, tear it down.

A unique project name and a free port base, so it runs beside a user's stack and beside other CI jobs.
Checks run in order and stop at the first failure (later ones would only fail for the same reason);
each failing check names the services involved, whose logs are then shown. Teardown always removes
containers, the network, volumes (critical ones included: nothing in a smoke project is anyone's data)
and the project's generated secrets, unless `keep` is set.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

from fovea_ctl.errors import FoveaError
from fovea_ctl.model import Stack
from fovea_ctl.core.run_progress import Reporter
from fovea_ctl.reconcile.project import Project
from fovea_ctl.settings.effective import Settings

LOG_LINES = 40
METRIC = "fovea_api_requests_total"
MODEL_METRIC = "fovea_model_inferences_total"  # recorded by the worker during the detection job
TEST_VIDEO_SCRIPT = "tests/model_service/make_test_video.sh"  # the model-service tests' clip, made by its ffmpeg


class CheckFailed(Exception):
    def __init__(self, detail: str, services: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.services = services


class CheckSkipped(Exception):
    pass


@dataclass
class CheckResult:
    name: str
    outcome: str  # passed | failed | skipped | not run
    detail: str = ""
    seconds: float = 0.0
    services: list[str] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class SmokeResult:
    project: str
    port_base: int
    checks: list[CheckResult]
    kept: bool
    teardown: str = ""

    @property
    def ok(self) -> bool:
        return all(c.outcome in ("passed", "skipped") for c in self.checks)

    @property
    def failed(self) -> CheckResult | None:
        return next((c for c in self.checks if c.outcome == "failed"), None)


def free_port_base(default_ports: list[int], low: int = 10000) -> int:
    """A base at which every published port of the stack is free on 127.0.0.1 right now, below the kernel's
    ephemeral range where the machine has room for that: a port in that range can be taken by any outgoing
    connection between this check and the container's bind (seen as PortTaken on busy machines)."""
    ephemeral_low = _ephemeral_port_low()
    top = ephemeral_low - max(default_ports)
    if top <= low:  # no room below the ephemeral range: anywhere that fits
        top = 65535 - max(default_ports)
    for _ in range(200):
        base = random.randrange(low, top, 7)
        if all(_port_free(base + port) for port in default_ports):
            return base
    raise RuntimeError("no free port base found for the smoke project")


def _ephemeral_port_low() -> int:
    """The first port the kernel hands out to outgoing connections (Linux's ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def smoke_settings(base: Settings) -> Settings:
    """The user's settings with a unique project and a free port base (the stack decides which ports),
    every port published: the checks talk to the backend and Prometheus directly."""
    from fovea_ctl.core.context import load_stack

    project = f"smoke-{uuid.uuid4().hex[:8]}"
    ports = [p.default_host for s in load_stack(base).services for p in s.ports]
    return base.model_copy(update={"project": project, "port_base": free_port_base(ports), "secrets_dir": None,
                                   "publish": "all"})


class Http:
    """A tiny cookie-keeping client for 127.0.0.1-published ports (no extra dependency in the CLI)."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.timeout_s = timeout_s

    def call(self, method: str, url: str, body: object = None, authorization: str | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data else {}
        if authorization:
            headers["authorization"] = authorization
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=self.timeout_s) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        except (urllib.error.URLError, OSError) as exc:
            return 0, f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}"
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw[:200].decode(errors="replace")


class Smoke:
    def __init__(self, project: Project, reporter: Reporter, timeout_s: float) -> None:
        self.project = project
        self.reporter = reporter
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.http = Http()

    # -- helpers -----------------------------------------------------------------------------------
    def url(self, service: str, container_port: int, path: str) -> str:
        stack: Stack = self.project.stack
        unit = stack.units.get(service)
        port = unit.port_for(container_port) if unit else None
        if port is None:
            raise CheckFailed(f"{service} publishes no port {container_port}", [service])
        return f"http://127.0.0.1:{stack.host_port(port)}{path}"

    def credential(self, service: str) -> str | None:
        """What a client of `service` presents: the credential its own probe presents (Prometheus: basic auth)."""
        from fovea_ctl.docker.socket_client import authorization

        auth = getattr(self.project.stack.units[service].probe, "auth", None)
        return authorization(auth.scheme, auth.user, self.project.secrets.value(auth.secret)) if auth else None

    def left(self, cap: float) -> float:
        return max(1.0, min(cap, self.deadline - time.monotonic()))

    def model_service(self) -> str | None:
        units = self.project.stack.units
        return next((n for n, u in units.items() if (u.role or n).startswith("model-service") and not u.one_shot
                     and u.probe is not None), None)

    # -- checks --------------------------------------------------------------------------------------
    def services_ready(self) -> None:
        from fovea_ctl.ops.status import collect_status

        _, result = self.project.up(self.reporter, timeout_s=self.left(self.timeout_s))
        if not result.ok:
            failures = result.failures or []
            detail = "; ".join(f.describe() for f in failures) or "up was interrupted"
            raise CheckFailed(detail, [f.unit for f in failures if f.kind != "dependency failed"] or
                              [f.unit for f in failures])
        report = collect_status(self.project)
        not_ready = [s for s in report.services if not s.ready and s.state != "unavailable"]
        if not_ready:
            raise CheckFailed("; ".join(f"{s.name}: {s.detail}" for s in not_ready), [s.name for s in not_ready])

    def backend_health(self) -> None:
        status, body = self.http.call("GET", self.url("backend", 3001, "/health"))
        if status != 200:
            raise CheckFailed(f"GET /health answered {status}: {body}", ["backend"])

    def admin_login(self) -> None:
        password = self.project.secrets.value("admin_password")
        status, body = self.http.call("POST", self.url("backend", 3001, "/api/auth/login"),
                                      {"username": "admin", "password": password})
        if status != 200:
            raise CheckFailed(f"POST /api/auth/login as admin answered {status}: {body}", ["backend"])

    def persona_round_trip(self) -> None:
        name = f"smoke persona {uuid.uuid4().hex[:6]}"
        status, created = self.http.call("POST", self.url("backend", 3001, "/api/personas"),
                                         {"name": name, "role": "smoke test", "informationNeed": "does it work"})
        if status != 201 or not isinstance(created, dict):
            raise CheckFailed(f"POST /api/personas answered {status}: {created}", ["backend", "postgres"])
        status, read = self.http.call("GET", self.url("backend", 3001, f"/api/personas/{created['id']}"))
        if status != 200 or not isinstance(read, dict) or read.get("name") != name:
            raise CheckFailed(f"GET /api/personas/{created['id']} answered {status}: {read}", ["backend", "postgres"])

    def detection_job(self) -> None:
        model = self.model_service()
        if model is None:
            raise CheckSkipped("no model-service in this stack")
        # The model-service reads videos read-only; its ffmpeg makes the clip in /tmp, and it reaches the
        # video-data volume the way a user's file does: `fovea videos add` through the backend.
        script = (self.project.settings.root / TEST_VIDEO_SCRIPT).read_text()
        container = self.project.observe().containers[model]
        code, output = self.project.engine.exec(container.id, ["sh", "-c", script.replace("/out/", "/tmp/smoke-")])
        if code != 0:
            raise CheckFailed(f"making the test video in {model} failed ({code}): {output.decode(errors='replace')[-300:]}", [model])
        from fovea_ctl.ops.videos import add_videos

        with tempfile.TemporaryDirectory(prefix="fovea-smoke-") as workdir:
            clip = Path(workdir) / "smoke-bus_pan.mp4"
            clip.write_bytes(self.project.engine.read_file(container.id, "/tmp/smoke-bus_pan.mp4"))
            try:
                add_videos(self.project, [clip], replace=True)
            except FoveaError as exc:
                raise CheckFailed(f"fovea videos add of the test video failed: {exc.message}", ["backend"]) from None
        status, videos = self.http.call("GET", self.url("backend", 3001, "/api/videos"))
        video = next((v for v in videos if isinstance(v, dict) and "smoke-bus_pan" in json.dumps(v)), None) \
            if isinstance(videos, list) else None
        if video is None:
            raise CheckFailed(f"the test video is not listed after sync: {str(videos)[:300]}", ["backend", model])
        status, accepted = self.http.call("POST", self.url("backend", 3001, f"/api/videos/{video['id']}/detect"), {})
        if status != 202 or not isinstance(accepted, dict):
            raise CheckFailed(f"POST detect answered {status}: {accepted}", ["backend"])
        job_id = accepted.get("jobId") or accepted.get("job_id")
        workers = [n for n in self.project.stack.units if n.startswith(model)]
        end = time.monotonic() + self.left(300)
        job: object = None
        while time.monotonic() < end:
            status, job = self.http.call("GET", self.url("backend", 3001, f"/api/jobs/{job_id}"))
            fields = job if isinstance(job, dict) else {}
            state = fields.get("status")
            if state == "completed":
                if not (fields.get("result") or {}):
                    raise CheckFailed(f"detection job {job_id} completed without a result", ["backend", *workers])
                status, annotations = self.http.call("GET", self.url("backend", 3001, f"/api/annotations/{video['id']}"))
                automatic = [a for a in annotations if isinstance(a, dict) and a.get("source") == "automatic"] \
                    if isinstance(annotations, list) else []
                if not automatic:
                    raise CheckFailed(f"no automatic annotations after detection ({status}: {str(annotations)[:200]})",
                                      ["backend", *workers])
                return
            if state == "failed":
                raise CheckFailed(f"detection job {job_id} failed: {fields.get('error')}", ["backend", *workers])
            time.sleep(1.0)
        raise CheckFailed(f"detection job {job_id} not finished in time (last: {str(job)[:200]})", ["backend", "redis", *workers])

    def prometheus_metrics(self) -> None:
        self._prometheus_holds(METRIC, ["otel-collector", "prometheus", "backend"])

    def model_metrics(self) -> None:
        model = self.model_service()
        if model is None:
            raise CheckSkipped("no model-service in this stack")
        self._prometheus_holds(MODEL_METRIC, ["otel-collector", "prometheus", model])

    def _prometheus_holds(self, metric: str, involved: list[str]) -> None:
        """Services export every 10 s; the collector forwards at once: allow a few intervals."""
        query = urllib.parse.urlencode({"query": f"sum({metric})"})
        url = self.url("prometheus", 9090, f"/api/v1/query?{query}")
        credential = self.credential("prometheus")
        end = time.monotonic() + self.left(45)
        last: object = None
        while time.monotonic() < end:
            self.http.call("GET", self.url("backend", 3001, "/health"))  # keep traffic flowing
            status, last = self.http.call("GET", url, authorization=credential)
            if status == 200 and isinstance(last, dict) and last.get("data", {}).get("result"):
                return
            time.sleep(2.0)
        raise CheckFailed(f"Prometheus holds no {metric} after traffic (last answer: {str(last)[:200]})", involved)

    def checks(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("every service ready", self.services_ready),
            ("backend health", self.backend_health),
            ("admin login", self.admin_login),
            ("persona round trip", self.persona_round_trip),
            ("detection job end to end", self.detection_job),
            ("Prometheus holds backend metrics", self.prometheus_metrics),
            ("Prometheus holds model-service metrics", self.model_metrics),
        ]

    def logs_of(self, services: list[str]) -> dict[str, list[str]]:
        containers = self.project.observe().containers
        return {name: self.project.engine.log_tail(containers[name].id, LOG_LINES) if name in containers
                else ["(no container)"] for name in dict.fromkeys(services)}


def run_smoke(project: Project, reporter: Reporter, *, keep: bool = False, timeout_s: float = 600.0,
              on_check: Callable[[CheckResult], None] | None = None) -> SmokeResult:
    """Run every check on `project` (which should be a throwaway one: see `smoke_settings`)."""
    smoke = Smoke(project, reporter, timeout_s)
    results: list[CheckResult] = []
    failed = False
    try:
        for name, check in smoke.checks():
            if failed:
                results.append(CheckResult(name, "not run"))
                continue
            began = time.monotonic()
            try:
                check()
                result = CheckResult(name, "passed")
            except CheckSkipped as exc:
                result = CheckResult(name, "skipped", str(exc))
            except CheckFailed as exc:
                failed = True
                result = CheckResult(name, "failed", exc.detail, services=exc.services, logs=smoke.logs_of(exc.services))
            except Exception as exc:  # noqa: BLE001 - a smoke run reports, it does not crash
                failed = True
                result = CheckResult(name, "failed", f"{exc.__class__.__name__}: {exc}")
            result.seconds = time.monotonic() - began
            results.append(result)
            if on_check:
                on_check(result)
    finally:
        teardown = "kept (--keep)" if keep else tear_down(project)
    return SmokeResult(project.settings.project, project.settings.port_base, results, keep, teardown)


def tear_down(project: Project) -> str:
    """Containers, network, every volume, and the generated secrets: nothing of the smoke project stays."""
    with project.writing():
        removed = project.down(volumes=True, force=True, timeout_s=5)
        for volume in project.engine.list_volumes(project.settings.project):
            project.engine.remove_volume(volume.name)
        shutil.rmtree(project.settings.state_dir, ignore_errors=True)
    return f"removed {len(removed.removed_containers)} containers, {len(removed.removed_volumes)} volumes and the network"
