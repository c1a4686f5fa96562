"""`fovea swarm deploy | status | down` on a real single-node Swarm that this module creates and leaves.

The engine is shared: `tests/swarm_harness.py` refuses (the test fails, never skips) when the engine is
already in Swarm mode, touches only objects labelled with fovea's Swarm stack labels, and always leaves the
Swarm again. Deployed: the backend slice (postgres, redis, prometheus, collector, migrate, backend) and the
model worker with 2 replicas, on ports >= 26000.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from fovea_ctl.model import Condition
from fovea_ctl.reconcile.project import Project
from fovea_ctl.ops.smoke import TEST_VIDEO_SCRIPT, free_port_base
from fovea_ctl.reconcile.swarm import SwarmDeployer, swarm_down, swarm_status
from fovea_ctl.docker.swarm import SwarmEngine
from fovea_ctl.ops.videos import add_videos, backend_session
from tests.conftest import STACK_PORTS, ProjectFactory, RecordingReporter, run_fovea
from tests.swarm_harness import SwarmRefused, backend_slice
from tests.swarm_harness import single_node_swarm as single_node_swarm_of_this_test


@pytest.fixture(scope="module")
def single_node_swarm(engine_ready: None) -> Iterator[None]:
    try:
        with single_node_swarm_of_this_test():
            yield
    except SwarmRefused as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def deployed(single_node_swarm: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, RecordingReporter]]:
    factory = ProjectFactory(tmp_path_factory.mktemp("swarm"))
    project = factory(lambda settings: backend_slice(settings, worker_replicas=2), project=f"swarm-{uuid.uuid4().hex[:8]}",
                      port_base=free_port_base(STACK_PORTS, low=17000))
    reporter = RecordingReporter()
    try:
        result = SwarmDeployer(project, reporter).deploy()
        assert result.ok, "\n".join(result.failures)
        yield project, reporter
    finally:
        try:
            swarm_down(project, volumes=True, force=True)
        finally:
            factory.cleanup()


def task_container(project: Project, unit: str, index: int = 0) -> str:
    swarm = SwarmEngine(project.engine)
    service = next(s for s in swarm.services(project.settings.project) if s.unit == unit)
    running = [t for t in swarm.tasks(service.id) if t.state == "running" and t.container_id]
    return running[index].container_id  # type: ignore[return-value]


def test_rollout_follows_the_dependency_dag(deployed: tuple[Project, RecordingReporter]) -> None:
    project, reporter = deployed
    stack = project.stack
    for name, unit in stack.units.items():
        if unit.replica_of:
            continue
        created = reporter.first(name, "creating")
        for dependency, condition in unit.depends_on.items():
            gate = {Condition.STARTED: "creating", Condition.READY: "ready", Condition.COMPLETED: "completed"}[condition]
            assert reporter.first(dependency, gate) <= created, f"{name} created before {dependency} was {condition.value}"
    # what `docker stack deploy` cannot do: the backend waits for its migration, which waits for postgres
    assert reporter.first("postgres", "ready") < reporter.first("backend-migrate", "creating")
    assert reporter.first("backend-migrate", "completed") < reporter.first("backend", "creating")


def test_backend_answers_health_and_login_over_its_published_port(deployed: tuple[Project, RecordingReporter]) -> None:
    project, _ = deployed
    port = project.stack.host_port(project.stack.units["backend"].ports[0])
    assert port >= 17000  # under the test's own port base (free_port_base low=17000), not the default 8000
    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
    assert health.status_code == 200, health.text
    with closing(backend_session(project)) as client:  # logs in as admin with the Swarm secret's value
        assert client.get("/api/videos").status_code == 200


def test_status_reads_the_deployment_back(deployed: tuple[Project, RecordingReporter]) -> None:
    project, _ = deployed
    report = swarm_status(project)
    rows = {r.name: r for r in report.services}
    assert set(rows) == {"postgres", "redis", "prometheus", "otel-collector", "backend-migrate", "backend", "model-worker"}
    assert report.all_ready, [(r.name, r.detail) for r in report.services if not r.ready]
    assert (rows["model-worker"].running, rows["model-worker"].desired) == (2, 2)
    assert rows["backend-migrate"].role == "job" and rows["backend-migrate"].detail == "completed"


def test_a_detection_job_completes_with_two_workers_taking_jobs_in_parallel(
        deployed: tuple[Project, RecordingReporter], tmp_path: Path) -> None:
    project, _ = deployed
    engine = project.engine
    workers = [task_container(project, "model-worker", i) for i in range(2)]
    script = (project.settings.root / TEST_VIDEO_SCRIPT).read_text().replace("/out/", "/tmp/swarm-")
    code, output = engine.exec(workers[0], ["sh", "-c", script])
    assert code == 0, output
    clip = tmp_path / "swarm-bus_pan.mp4"
    clip.write_bytes(engine.read_file(workers[0], "/tmp/swarm-bus_pan.mp4"))
    add_videos(project, [clip], backend_container=task_container(project, "backend"))
    with closing(backend_session(project)) as client:
        video = next(v for v in client.get("/api/videos").json() if v["filename"] == clip.name)
        jobs = []
        for _ in range(2):
            accepted = client.post(f"/api/videos/{video['id']}/detect", json={"sampleEvery": 1})
            assert accepted.status_code == 202, accepted.text
            jobs.append(accepted.json()["jobId"])
        deadline = time.monotonic() + 600
        for job_id in jobs:
            while (job := client.get(f"/api/jobs/{job_id}").json())["status"] not in ("completed", "failed"):
                assert time.monotonic() < deadline, f"job not finished: {job}"
                time.sleep(0.5)
            assert job["status"] == "completed", job
            assert sum(len(f["detections"]) for f in job["result"]["frames"]) > 0
    # Each worker's own log names the job it ran: the two jobs went to two workers.
    logs = [b"\n".join(line for _, line in engine.logs(w)).decode(errors="replace") for w in workers]
    takers = [sorted(i for i, log in enumerate(logs) if job_id in log) for job_id in jobs]
    assert sorted(t[0] for t in takers if t) == [0, 1], takers


def test_a_redeploy_with_nothing_changed_changes_nothing(deployed: tuple[Project, RecordingReporter]) -> None:
    project, _ = deployed
    swarm = SwarmEngine(project.engine)
    before = {s.unit: s.version for s in swarm.services(project.settings.project)}
    deployer = SwarmDeployer(project, RecordingReporter())
    assert deployer.plan()[0].text() == "nothing to do"
    result = deployer.deploy()
    assert result.ok and result.plan.empty, result.failures
    assert {s.unit: s.version for s in swarm.services(project.settings.project)} == before


def test_a_changed_secret_rolls_only_the_services_that_use_it(deployed: tuple[Project, RecordingReporter]) -> None:
    project, _ = deployed
    swarm = SwarmEngine(project.engine)
    name = project.settings.project
    before = {s.unit: s.version for s in swarm.services(name)}
    old_secrets = {s.name for s in swarm.secrets(name)}
    path = project.secrets.path("admin_password")
    path.write_text("a-new-admin-password-for-the-swarm-test")
    plan = SwarmDeployer(project, RecordingReporter()).plan()[0]
    assert "update service backend — secret changed: admin_password" in plan.text()
    result = SwarmDeployer(project, RecordingReporter()).deploy()
    assert result.ok, result.failures
    after = {s.unit: s.version for s in swarm.services(name)}
    changed = sorted(u for u in after if after[u] != before[u])
    users = sorted(n for n, u in project.stack.units.items() if "admin_password" in u.secrets)
    assert changed == users == ["backend", "backend-migrate"]  # the migration job mounts the backend's secrets
    secrets_now = {s.name for s in swarm.secrets(name)}
    assert len(secrets_now) == len(old_secrets) and secrets_now != old_secrets  # the old one is pruned
    # The new task reads the new value (the admin user's stored password is the application's business).
    code, digest = project.engine.exec(task_container(project, "backend"), ["sha256sum", "/run/secrets/admin_password"])
    assert code == 0 and digest.split()[0].decode() == hashlib.sha256(path.read_bytes()).hexdigest()
    port = project.stack.host_port(project.stack.units["backend"].ports[0])
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200


def test_cli_status_and_plan(deployed: tuple[Project, RecordingReporter]) -> None:
    project, _ = deployed
    settings = project.settings
    env = {**os.environ, "FOVEA_ROOT": str(settings.root), "FOVEA_PROJECT": settings.project,
           "FOVEA_PORT_BASE": str(settings.port_base), "FOVEA_SECRETS_DIR": str(settings.effective_secrets_dir),
           "FOVEA_SCALE": "model-worker=2"}  # dedicated workers are in the stack only when asked for
    status = run_fovea(["swarm", "status", "--json"], env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert '"model-worker"' in status.stdout and '"ready": true' in status.stdout
    # The CLI loads the whole stack (model-service too): its plan would add what the slice left out.
    plan = run_fovea(["swarm", "plan"], env)
    assert plan.returncode == 0, plan.stderr
    assert "create service model-service — no service" in plan.stdout


def test_z_down_removes_everything_but_critical_volumes(deployed: tuple[Project, RecordingReporter]) -> None:
    project, _ = deployed
    name = project.settings.project
    swarm = SwarmEngine(project.engine)
    result = swarm_down(project, volumes=True)
    assert not swarm.services(name) and not swarm.secrets(name) and not swarm.configs(name)
    assert not swarm.networks(name) and not swarm.task_containers(name)
    assert result.network_removed
    kept = set(result.kept_volumes)
    assert kept == {project.settings.volume_name("postgres-data"), project.settings.volume_name("video-data")}
    assert project.settings.volume_name("redis-data") in result.removed_volumes
    remaining = {v.name for v in project.engine.list_volumes(name)}
    assert kept <= remaining
