"""`fovea smoke`: green on a healthy stack, names the right check when a service is broken on purpose,
and leaves no containers, networks or volumes behind either way."""

from __future__ import annotations

import json

from fovea_ctl.model import Stack
from fovea_ctl.core.context import load_stack
from fovea_ctl.reconcile.project import Project
from fovea_ctl.settings.effective import Settings
from fovea_ctl.ops.smoke import run_smoke
from tests.conftest import ProjectFactory, RecordingReporter, run_fovea


def assert_nothing_left(project: Project) -> None:
    name = project.settings.project
    assert project.engine.list_containers(name) == []
    assert project.engine.list_networks(name) == []
    assert project.engine.list_volumes(name) == []
    assert not project.settings.state_dir.exists()


def test_smoke_passes_on_a_healthy_stack_and_tears_everything_down(make_project: ProjectFactory) -> None:
    project = make_project()  # only for its environment (root, engine); smoke picks its own name and ports
    result = run_fovea(["smoke", "--json", "--timeout", "300"], make_project.env(project), timeout=360)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert outcomes["every service ready"] == "passed"
    assert outcomes["Prometheus holds backend metrics"] == "passed"
    # the stack ships a model-service: the job must run through the queue to automatic annotations,
    # and the worker's inference metrics must reach Prometheus as the backend's do
    assert outcomes["detection job end to end"] == "passed"
    assert outcomes["Prometheus holds model-service metrics"] == "passed"
    smoke_project = Project(project.settings.model_copy(update={"project": report["project"]}))
    assert_nothing_left(smoke_project)


def test_smoke_names_the_failing_check_and_shows_the_logs_when_the_collector_is_broken(
        make_project: ProjectFactory) -> None:
    def stack(settings: Settings) -> Stack:
        real = load_stack(settings)
        # Ready (its HTTP health answers) but forwarding into the void: only the metrics check can catch it.
        broken = next(s for s in real.services if s.name == "otel-collector").model_copy(update={"command": [
            "-httpListenAddr=:4318", "-opentelemetry.usePrometheusNaming",
            "-remoteWrite.tmpDataPath=/var/lib/vmagent", "-remoteWrite.url=http://prometheus:9090/api/v1/nowhere"]})
        return real.model_copy(update={"services": [broken if s.name == broken.name else s for s in real.services]})

    project = make_project(stack, secrets_dir=None)
    result = run_smoke(project, RecordingReporter(), timeout_s=240)
    assert not result.ok
    failed = result.failed
    assert failed is not None and failed.name == "Prometheus holds backend metrics", result.checks
    assert set(failed.services) >= {"otel-collector", "prometheus"} and failed.logs["otel-collector"]
    assert [c.outcome for c in result.checks if c.name in ("backend health", "admin login")] == ["passed", "passed"]
    assert_nothing_left(project)
