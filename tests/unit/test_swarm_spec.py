"""Desired Swarm state without an engine: content-addressed secrets and configs, dnsrr + host-mode ports,
placement constraints, replicas, and the v3 file `fovea render swarm` writes for `docker stack deploy`."""

from __future__ import annotations

from pathlib import Path

from fovea_ctl.model import Stack
from fovea_ctl.core.context import load_stack
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings
from fovea_ctl.docker.swarm import node_resources
from fovea_ctl.render.swarm_spec import desired_services, placement_problem, service_spec
from fovea_ctl.render.resolved import resolve
from fovea_ctl.render.swarm import render_swarm_stack
from tests.conftest import ROOT
from tests.swarm_harness import backend_slice
from tests.unit.test_render_k8s import fake_images


def slice_with_workers(tmp_path: Path) -> tuple[Stack, Settings, SecretStore]:
    settings = Settings(root=ROOT, project="spec-test", port_base=26000, secrets_dir=tmp_path / "secrets")
    stack = backend_slice(settings, worker_replicas=3)
    return stack, settings, SecretStore(settings, stack)


def test_services_are_dnsrr_with_host_mode_ports_placement_and_replicas(tmp_path: Path) -> None:
    stack, settings, secrets = slice_with_workers(tmp_path)
    desired = desired_services(stack, settings, fake_images(stack), secrets)
    assert "model-worker-2" not in desired  # Swarm scales one service, not replica units
    assert desired["model-worker"].replicas == 3
    ids = {o.name: f"id-{o.name}" for d in desired.values() for o in [*d.secrets, *d.configs]}
    postgres = service_spec(desired["postgres"], stack, settings, "net", ids)
    assert postgres["endpoint_spec"]["Mode"] == "dnsrr"
    assert postgres["endpoint_spec"]["Ports"] == [
        {"Protocol": "tcp", "PublishedPort": 31432, "TargetPort": 5432, "PublishMode": "host"}]
    assert postgres["task_template"]["Placement"]["Constraints"] == ["node.labels.io.fovea.data == true"]
    assert postgres["task_template"]["ContainerSpec"]["Secrets"][0]["File"]["Name"] == "postgres_password"
    migrate = service_spec(desired["backend-migrate"], stack, settings, "net", ids)
    assert "ReplicatedJob" in migrate["mode"] and "update_config" not in migrate


def test_a_changed_secret_changes_the_name_and_only_its_users(tmp_path: Path) -> None:
    stack, settings, secrets = slice_with_workers(tmp_path)
    before = desired_services(stack, settings, fake_images(stack), secrets)
    secrets.path("admin_password").write_text("another-admin-password-value")
    after = desired_services(stack, settings, fake_images(stack), secrets)
    changed = sorted(n for n in after if after[n].config_hash != before[n].config_hash)
    assert changed == ["backend", "backend-migrate"]
    old = {s.name for s in before["backend"].secrets}
    new = {s.name for s in after["backend"].secrets}
    assert len(old - new) == 1 and next(iter(old - new)).startswith("spec-test-admin_password-")
    value = secrets.value("admin_password")
    assert all(value not in s.name for s in after["backend"].secrets)


def test_render_swarm_is_a_v3_file_stack_deploy_accepts(tmp_path: Path) -> None:
    stack, settings, secrets = slice_with_workers(tmp_path)
    document = render_swarm_stack(resolve(stack, settings, fake_images(stack), secrets))
    assert document["version"] == "3.8"
    backend = document["services"]["backend"]
    assert backend["deploy"]["endpoint_mode"] == "dnsrr"
    assert backend["ports"] == [{"target": 3001, "published": 29001, "protocol": "tcp", "mode": "host"}]
    assert backend["depends_on"] == ["postgres", "redis", "otel-collector", "backend-migrate"]
    assert document["services"]["model-worker"]["deploy"]["replicas"] == 3
    assert document["services"]["backend-migrate"]["deploy"]["restart_policy"]["condition"] == "on-failure"
    # stack deploy prefixes names with the stack's; Swarm allows 64 characters
    assert all(len(f"{settings.project}_{name}") <= 64 for name in document.get("configs", {}))
    text = str(document)
    assert secrets.value("postgres_password") not in text


# -- the GPU variant (no GPU node exists here: the specs and the node check are what can be proven) --------
def gpu_stack(tmp_path: Path) -> tuple[Stack, Settings, SecretStore]:
    settings = Settings(root=ROOT, project="spec-gpu", port_base=26100, secrets_dir=tmp_path / "secrets", gpu=True)
    stack = load_stack(settings)
    return stack, settings, SecretStore(settings, stack)


def test_swarm_deploy_gpu_reserves_the_nvidia_gpu_generic_resource_on_a_gpu_labelled_node(tmp_path: Path) -> None:
    stack, settings, secrets = gpu_stack(tmp_path)
    desired = desired_services(stack, settings, fake_images(stack), secrets)
    assert "model-service-gpu" in desired and "model-service" not in desired
    ids = {o.name: f"id-{o.name}" for d in desired.values() for o in [*d.secrets, *d.configs]}
    task = service_spec(desired["model-service-gpu"], stack, settings, "net", ids)["task_template"]
    # As `docker service create --generic-resource NVIDIA-GPU=1` writes it (Docker's Swarm GPU documentation).
    assert task["Resources"]["Reservations"]["GenericResources"] == [
        {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}]
    assert task["Placement"]["Constraints"] == ["node.labels.nvidia.com/gpu.present == true"]
    backend = service_spec(desired["backend"], stack, settings, "net", ids)["task_template"]
    assert "Reservations" not in (backend.get("Resources") or {})  # only the GPU service reserves one

    document = render_swarm_stack(resolve(stack, settings, fake_images(stack), secrets))
    assert document["services"]["model-service-gpu"]["deploy"]["resources"]["reservations"] == {
        "generic_resources": [{"discrete_resource_spec": {"kind": "NVIDIA-GPU", "value": 1}}]}


def recorded_node(labels: dict[str, str], generic: list[dict[str, object]]) -> dict[str, object]:
    """One node as `GET /nodes` answers (fields fovea reads; the shape of Docker Engine API 1.41)."""
    return {"ID": "n1", "Spec": {"Labels": labels, "Role": "manager", "Availability": "active"},
            "Description": {"Hostname": "gpu-1", "Resources": {"NanoCPUs": 16_000_000_000, "MemoryBytes": 2**37,
                                                                "GenericResources": generic}}}


def test_a_gpu_service_is_refused_before_deploy_unless_a_labelled_node_advertises_the_gpu(tmp_path: Path) -> None:
    stack, _, _ = gpu_stack(tmp_path)
    gpu_service = stack.units["model-service-gpu"]
    labelled = {"nvidia.com/gpu.present": "true", "io.fovea.data": "true"}
    named = [{"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": "GPU-8a1b"}}]
    discrete = [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 2}}]

    assert placement_problem(gpu_service, [node_resources(recorded_node(labelled, named))]) is None
    assert placement_problem(gpu_service, [node_resources(recorded_node(labelled, discrete))]) is None
    no_label = placement_problem(gpu_service, [node_resources(recorded_node({}, named))])
    assert no_label is not None and "nvidia.com/gpu.present=true" in no_label
    no_gpu = placement_problem(gpu_service, [node_resources(recorded_node(labelled, []))])
    assert no_gpu is not None and "field gpu" in no_gpu and "node-generic-resources" in no_gpu
    # the GPU is on another node than the labelled one: Swarm could never place it
    split = [node_resources(recorded_node(labelled, [])), node_resources(recorded_node({}, named))]
    assert placement_problem(gpu_service, split) is not None
    assert placement_problem(stack.units["backend"], [node_resources(recorded_node({}, []))]) is None
