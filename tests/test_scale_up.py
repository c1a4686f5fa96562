"""`fovea up --scale model-worker=2` on the real engine: two worker containers, each probed on its own, seen
by status, plan and down; scaling back to one removes only the extra container."""

from __future__ import annotations

from fovea_ctl.reconcile.project import Project
from fovea_ctl.ops.status import collect_status
from tests.conftest import ProjectFactory, RecordingReporter, run_fovea


def test_up_scale_runs_replicas_and_scales_back_down(make_project: ProjectFactory) -> None:
    project = make_project(scale="model-worker=2")
    _, result = project.up(RecordingReporter(), ["model-worker"])
    assert result.ok, [f.describe() for f in result.failures]
    containers = project.observe().containers
    assert {"model-worker", "model-worker-2"} <= set(containers)
    assert containers["model-worker-2"].name == f"{project.settings.project}-model-worker-2"
    assert containers["model-worker-2"].labels["io.fovea.replica-of"] == "model-worker"
    report = {s.name: s for s in collect_status(project).services}
    assert report["model-worker"].ready and report["model-worker-2"].ready

    env = {**make_project.env(project), "FOVEA_SCALE": "model-worker=2"}
    assert run_fovea(["plan", "model-worker"], env).stdout.strip() == "nothing to do"
    refused = run_fovea(["up", "--scale", "redis=2"], env)
    assert refused.returncode == 2
    assert "redis cannot scale: it writes the redis-data volume" in refused.stderr

    # model-worker=1: one dedicated worker (with no scale at all the model-service's own worker is the only one)
    one = Project(project.settings.model_copy(update={"scale": "model-worker=1"}))
    assert "remove container " + containers["model-worker-2"].name + " — scaled down to 1" in one.plan(["model-worker"]).text()
    _, result = one.up(RecordingReporter(), ["model-worker"])
    assert result.ok
    assert "model-worker-2" not in one.observe().containers and "model-worker" in one.observe().containers
