"""Plans computed without an engine: create / keep / recreate (each cause) / orphan, as plan text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fovea_ctl.reconcile.desired import DesiredUnit, desired_units
from fovea_ctl.docker.views import ContainerView, NetworkView, VolumeView
from fovea_ctl.docker.labels import LABEL_CONFIG_HASH
from fovea_ctl.images import ResolvedImage
from fovea_ctl.model import (
    Condition,
    ConfigFile,
    HttpProbe,
    ImageSpec,
    Mount,
    Port,
    Priority,
    RedisProbe,
    Secret,
    Service,
    Stack,
    Volume,
)
from fovea_ctl.reconcile.observe import ObservedState
from fovea_ctl.reconcile.plan import make_plan
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "db.conf").write_text("max_connections = 10\n")
    return tmp_path


def make_stack(db_command: list[str] | None = None) -> Stack:
    return Stack(
        name="p",
        volumes=[Volume(name="data", priority=Priority.CRITICAL)],
        secrets=[Secret(name="db_password")],
        services=[
            Service(name="db", image=ImageSpec(registry="db:1"), command=db_command, ports=[Port(container=6379)],
                    mounts=[Mount(volume="data", target="/data")], secrets=["db_password"],
                    configs=[ConfigFile(source="configs/db.conf", target="/etc/db.conf")], probe=RedisProbe()),
            Service(name="api", image=ImageSpec(registry="api:1"), depends_on={"db": Condition.READY}),
        ],
    )


def settings_for(root: Path) -> Settings:
    return Settings(root=root, project="p", secrets_dir=root / "secrets")


def desired(stack: Stack, settings: Settings, image_ids: dict[str, str | None] | None = None) -> dict[str, DesiredUnit]:
    ids = image_ids or {}
    images = {name: ResolvedImage(unit.image.registry or "", None, ids.get(name, f"sha256:{name}"))
              for name, unit in stack.units.items()}
    return desired_units(stack, settings, images, SecretStore(settings, stack))


def converged(units: dict[str, DesiredUnit], settings: Settings) -> ObservedState:
    """What the engine would report after `up` created exactly these units."""
    state = ObservedState(project="p", network=NetworkView("n1", settings.network_name, {}))
    state.volumes = {settings.volume_name("data"): VolumeView(settings.volume_name("data"), {}, "", "")}
    for name, unit in units.items():
        state.containers[name] = ContainerView(
            id=f"id-{name}", name=unit.spec.name, service=name, role="service",
            config_hash=unit.spec.labels[LABEL_CONFIG_HASH], hash_parts=dict(unit.hash_parts), state="running",
            status_text="Up 1 minute", image=unit.spec.image, image_id="", ports={}, labels=unit.spec.labels,
        )
    return state


def test_plan_from_nothing_creates_everything_in_dependency_order(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    plan = make_plan(stack, settings, desired(stack, settings), ObservedState(project="p"))
    assert plan.text() == "\n".join([
        "#1 create network p-network — no network",
        "#2 create volume p_data — no volume",
        "#3 create container db — no container  [after #1 #2]",
        "#4 start container db — new container  [after #3]",
        "#5 create container api — no container  [after #1 #2]",
        "#6 start container api — new container  [after #5; needs db ready]",
    ])


def test_converged_project_plans_nothing_to_do(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    units = desired(stack, settings)
    assert make_plan(stack, settings, units, converged(units, settings)).text() == "nothing to do"


def test_definition_change_recreates_the_service_and_its_dependents(root: Path) -> None:
    settings = settings_for(root)
    before = desired(make_stack(), settings)
    stack = make_stack(db_command=["db", "--fast"])
    plan = make_plan(stack, settings, desired(stack, settings), converged(before, settings))
    assert plan.text() == "\n".join([
        "#1 remove container db — replaced: definition changed",
        "#2 create container db — definition changed  [after #1]",
        "#3 start container db — new container  [after #2]",
        "#4 remove container api — replaced: dependency db recreated",
        "#5 create container api — dependency db recreated  [after #4]",
        "#6 start container api — new container  [after #5; needs db ready]",
    ])


def test_mounted_file_change_names_the_file(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    before = desired(stack, settings)
    (root / "configs" / "db.conf").write_text("max_connections = 20\n")
    plan = make_plan(stack, settings, desired(stack, settings), converged(before, settings))
    assert plan.operations[1].describe() == "#2 create container db — config hash changed: configs/db.conf  [after #1]"


def test_secret_change_names_the_secret_but_not_its_value(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    before = desired(stack, settings)
    secret_file = settings.effective_secrets_dir / "db_password"
    old_value = secret_file.read_text()
    secret_file.write_text("a-new-password-value")
    plan = make_plan(stack, settings, desired(stack, settings), converged(before, settings))
    assert plan.operations[1].cause == "secret changed: db_password"
    assert old_value not in plan.text() and "a-new-password-value" not in plan.text()
    labels = json.dumps(desired(stack, settings)["db"].spec.labels)
    assert "a-new-password-value" not in labels


def test_image_change_and_rebuild(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    before = desired(stack, settings)
    changed = make_plan(stack, settings, desired(stack, settings, {"api": "sha256:other"}), converged(before, settings))
    assert changed.text() == "\n".join([
        "#1 remove container api — replaced: image changed",
        "#2 create container api — image changed  [after #1]",
        "#3 start container api — new container  [after #2; needs db ready]",
    ])
    missing = make_plan(stack, settings, desired(stack, settings, {"api": None}), converged(before, settings))
    assert missing.operations[0].describe() == "#1 pull image api:1 — image not present"
    assert missing.operations[2].describe() == "#3 create container api — image rebuilt  [after #1 #2]"


def test_exited_container_is_started_not_recreated(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    units = desired(stack, settings)
    state = converged(units, settings)
    api = state.containers["api"]
    state.containers["api"] = ContainerView(**{**api.__dict__, "state": "exited", "status_text": "Exited (1)"})
    assert make_plan(stack, settings, units, state).text() == (
        "#1 start container api — container exited  [needs db ready]"
    )


def test_orphans_are_reported_and_removed_only_on_request(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    units = desired(stack, settings)
    state = converged(units, settings)
    db = state.containers["db"]
    state.containers["old-worker"] = ContainerView(**{**db.__dict__, "id": "id-old", "name": "p-old-worker",
                                                      "service": "old-worker"})
    kept = make_plan(stack, settings, units, state)
    assert kept.text() == "nothing to do"
    assert kept.warnings and "orphan container p-old-worker" in kept.warnings[0]
    removed = make_plan(stack, settings, units, state, remove_orphans=True)
    assert removed.text() == "#1 remove container p-old-worker — orphan"


def test_targeted_plan_covers_only_the_service_and_its_dependencies(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    plan = make_plan(stack, settings, desired(stack, settings), ObservedState(project="p"), targets=["db"])
    assert plan.units == ["db"]
    assert all(op.unit in (None, "db") for op in plan.operations)


def test_self_registration_is_off_unless_the_settings_turn_it_on(tmp_path: Path) -> None:
    """FOVEA_SELF_REGISTRATION=true hands the backend BACKEND_SELF_REGISTRATION; the default stack names nothing,
    so a stack that never asked keeps its config hash (no recreate)."""
    from stack.fovea_stack import build_stack

    def backend_env(**overrides: object) -> dict[str, str]:
        stack = build_stack(Settings(root=tmp_path, **overrides))  # type: ignore[arg-type]
        return dict(next(unit for unit in stack.services if unit.name == "backend").env)

    assert "BACKEND_SELF_REGISTRATION" not in backend_env()
    assert backend_env(self_registration=True)["BACKEND_SELF_REGISTRATION"] == "true"


def test_the_llm_service_is_off_unless_the_settings_turn_it_on_and_then_the_model_service_uses_it(tmp_path: Path) -> None:
    """FOVEA_LLM=1 enables `llm` (internal network only, probed on its /health) and hands every model-service
    variant its URL; the default stack leaves the model-service's env as it was, so models.yaml decides."""
    from stack.fovea_stack import LLM_MODEL, LLM_PORT, build_stack

    def units(**overrides: object) -> dict[str, Service]:
        return {unit.name: unit for unit in build_stack(Settings(root=tmp_path, **overrides)).services}  # type: ignore[arg-type]

    default = units()
    assert not default["llm"].enabled
    assert not any(name.startswith("MODEL_LLM") for name in default["model-service"].env)
    on = units(llm=True)
    llm = on["llm"]
    assert llm.enabled and llm.ports == [] and llm.depends_on == {}
    assert isinstance(llm.probe, HttpProbe) and (llm.probe.port, llm.probe.path) == (LLM_PORT, "/health")
    assert ["--alias", LLM_MODEL] == llm.command[llm.command.index("--alias"):][:2]
    for name in ("model-service", "model-service-gpu", "model-worker"):
        assert on[name].env["MODEL_LLM_URL"] == f"http://llm:{LLM_PORT}/v1" and on[name].env["MODEL_LLM_MODEL"] == LLM_MODEL
    # The model-service does not wait for it: a summary without the LLM falls back to the evidence template.
    assert "llm" not in on["model-service"].depends_on
