"""Swarm plans computed without an engine: create / update (each cause) / keep / prune, as plan text — the same
renderer and the same "nothing to do" line as the local plan's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fovea_ctl.docker.labels import LABEL_SWARM_KIND
from fovea_ctl.docker.swarm import SwarmObjectView, SwarmServiceView
from fovea_ctl.reconcile.project import Project
from fovea_ctl.reconcile.swarm.deploy import SwarmObserved, make_swarm_plan
from fovea_ctl.render.swarm_spec import DesiredSwarmService, desired_services
from tests.unit.test_render_k8s import fake_images
from tests.unit.test_swarm_spec import slice_with_workers


def _desired(tmp_path: Path) -> tuple[Project, dict[str, DesiredSwarmService]]:
    stack, settings, secrets = slice_with_workers(tmp_path)
    return Project(settings, stack), desired_services(stack, settings, fake_images(stack), secrets)


def _deployed(desired: dict[str, DesiredSwarmService]) -> SwarmObserved:
    """What the engine would report after a deploy of exactly `desired`."""
    services = {name: SwarmServiceView(id=f"id-{name}", name=f"spec-test_{name}", unit=name, version=1,
                                       config_hash=unit.config_hash, hash_parts=dict(unit.hash_parts),
                                       replicas=None if unit.one_shot else unit.replicas, ports=dict(unit.host_ports),
                                       image=unit.image.ref, force_update=0, labels={})
                for name, unit in desired.items()}
    objects = {o.name: SwarmObjectView(f"id-{o.name}", o.name, {LABEL_SWARM_KIND: o.kind})
               for unit in desired.values() for o in [*unit.secrets, *unit.configs]}
    return SwarmObserved(services=services,
                         secrets={n: o for n, o in objects.items() if o.labels[LABEL_SWARM_KIND] == "secret"},
                         configs={n: o for n, o in objects.items() if o.labels[LABEL_SWARM_KIND] == "config"},
                         network=SwarmObjectView("net", "spec-test-swarm", {}))


def test_a_deployed_stack_plans_nothing_to_do(tmp_path: Path) -> None:
    project, desired = _desired(tmp_path)
    plan = make_swarm_plan(project, desired, _deployed(desired))
    assert plan.empty and plan.text() == "nothing to do"
    # every service still proves itself ready (a job: completed) — gates read, the text stays the writes
    assert [(g.target, g.kind.value, g.cause) for g in plan.gates] == [
        (name, "wait completed" if desired[name].one_shot else "wait ready", "kept") for name in plan.units]


def test_from_nothing_the_network_objects_and_services_are_created_in_dependency_order(tmp_path: Path) -> None:
    project, desired = _desired(tmp_path)
    plan = make_swarm_plan(project, desired, SwarmObserved({}, {}, {}, None))
    lines = plan.text().splitlines()
    assert lines[0] == "#1 create network spec-test-swarm — no network"
    objects = [o for unit in desired.values() for o in [*unit.secrets, *unit.configs]]
    assert lines[1:1 + len({o.name for o in objects})] == [
        f"#{i} create {o.kind} {o.name} — content changed or new"
        for i, o in enumerate({o.name: o for o in objects}.values(), 2)]
    services = [line.split(" — ")[0].split(" ", 1)[1] for line in lines if " service " in line]
    assert services == [f"create service {name}" for name in project.stack.dependency_order() if name in desired]
    assert all(line.endswith(" — no service") for line in lines if " service " in line)
    assert [int(line.split()[0][1:]) for line in lines] == list(range(1, len(lines) + 1))
    creates = {op.unit: op.id for op in plan.operations if op.unit}
    assert all(g.after == [creates[g.target]] and g.id > len(lines) for g in plan.gates)


def test_a_changed_secret_updates_its_users_and_prunes_the_old_object(tmp_path: Path) -> None:
    project, before = _desired(tmp_path)
    observed = _deployed(before)
    project.secrets.path("admin_password").write_text("another-admin-password-value")
    after = desired_services(project.stack, project.settings, fake_images(project.stack), project.secrets)
    observed.services["old-worker"] = replace(observed.services["redis"], id="id-old", name="spec-test_old-worker",
                                              unit="old-worker")
    text = make_swarm_plan(project, after, observed).text()
    new = next(o.name for o in after["backend"].secrets if o.name not in observed.secrets)
    old = next(o for o in observed.secrets if o.startswith("spec-test-admin_password-") and o != new)
    assert text == "\n".join([
        f"#1 create secret {new} — content changed or new",
        "#2 update service backend-migrate — secret changed: admin_password",
        "#3 update service backend — secret changed: admin_password",
        "#4 remove service old-worker — not in the stack",
        f"#5 remove secret {old} — no longer used",
    ])
