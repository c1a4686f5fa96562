"""Desired Swarm state without an engine: content-addressed secrets and configs, dnsrr + host-mode ports,
placement constraints, replicas, and the v3 file `fovea render swarm` writes for `docker stack deploy`."""

from __future__ import annotations

from pathlib import Path

from fovea_ctl.model import Stack
from fovea_ctl.secrets import SecretStore
from fovea_ctl.settings import Settings
from fovea_ctl.swarm.spec import desired_services, service_spec
from fovea_ctl.swarm.stackfile import render_swarm_stack
from tests.swarm_harness import backend_slice
from tests.test_render_k8s import fake_images
from tests.conftest import ROOT


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
    document = render_swarm_stack(stack, settings, fake_images(stack), secrets)
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
