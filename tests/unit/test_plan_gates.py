"""The decisions `up` used to make while running, now in the plan (no engine): each unit's readiness gate, and
the build whose image id a create takes."""

from __future__ import annotations

from pathlib import Path

from fovea_ctl.docker.views import ContainerView
from fovea_ctl.model import Condition, ImageSpec, Service, Stack
from fovea_ctl.reconcile.observe import ObservedState
from fovea_ctl.reconcile.plan import OpKind, make_plan
from tests.unit.test_plan import converged, desired, make_stack, root, settings_for

__all__ = ["root"]  # the fixture, shared with test_plan


def _with_status(observed: ObservedState, unit: str, **fields: str) -> ObservedState:
    observed.containers[unit] = ContainerView(**{**observed.containers[unit].__dict__, **fields})
    return observed


def test_a_new_unit_with_a_probe_is_gated_on_it_after_its_start(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    plan = make_plan(stack, settings, desired(stack, settings), ObservedState(project="p"))
    assert [gate.describe() for gate in plan.gates] == ["#7 wait ready db — new container  [after #4]"]
    assert [op.id for op in plan.for_unit("db")] == [3, 4, 7]  # api has no probe: ready once started


def test_a_kept_unit_is_probed_unless_its_healthcheck_already_says_healthy(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    units = desired(stack, settings)
    unmarked = make_plan(stack, settings, units, converged(units, settings))
    assert unmarked.text() == "nothing to do"  # gates read, they write nothing
    assert [g.describe() for g in unmarked.gates] == ["#1 wait ready db — kept, not marked healthy by its HEALTHCHECK"]
    healthy = _with_status(converged(units, settings), "db", status_text="Up 1 minute (healthy)")
    assert make_plan(stack, settings, units, healthy).gates == []


def test_a_started_container_is_gated_with_the_cause_of_its_start(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    units = desired(stack, settings)
    state = _with_status(converged(units, settings), "db", state="exited", status_text="Exited (1)")
    plan = make_plan(stack, settings, units, state)
    assert [g.describe() for g in plan.gates] == ["#2 wait ready db — container exited  [after #1]"]


def test_a_create_takes_the_image_id_of_the_build_it_waits_for(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    before = desired(stack, settings)
    plan = make_plan(stack, settings, desired(stack, settings, {"api": None}), converged(before, settings))
    pull = plan.operations[0]
    create = next(op for op in plan.operations if op.kind is OpKind.CREATE_CONTAINER)
    assert pull.kind is OpKind.PULL_IMAGE and create.image_from == pull.id and pull.id in create.after
    assert all(op.image_from is None for op in plan.operations if op is not create)


def job_stack() -> Stack:
    return Stack(name="p", services=[
        Service(name="db", image=ImageSpec(registry="db:1")),
        Service(name="migrate", image=ImageSpec(registry="db:1"), one_shot=True, depends_on={"db": Condition.STARTED}),
    ])


def test_a_job_is_gated_on_its_exit_unless_it_already_completed(tmp_path: Path) -> None:
    stack, settings = job_stack(), settings_for(tmp_path)
    units = desired(stack, settings)
    fresh = make_plan(stack, settings, units, ObservedState(project="p"))
    assert [g.describe() for g in fresh.gates] == ["#6 wait completed migrate — one-shot job  [after #5]"]
    done = _with_status(converged(units, settings), "migrate", state="exited", status_text="Exited (0) 1 minute ago")
    assert make_plan(stack, settings, units, done).gates == []
    running = converged(units, settings)  # kept, still running: its dependents wait for its exit
    assert [g.describe() for g in make_plan(stack, settings, units, running).gates] == [
        "#1 wait completed migrate — job still running"]


def test_orphan_removals_belong_to_no_unit_and_wait_for_nothing(root: Path) -> None:
    stack, settings = make_stack(), settings_for(root)
    units = desired(stack, settings)
    state = converged(units, settings)
    state.containers["old"] = ContainerView(**{**state.containers["db"].__dict__, "id": "id-old", "name": "p-old",
                                               "service": "old"})
    plan = make_plan(stack, settings, units, state, remove_orphans=True)
    assert [(op.kind, op.engine_id, op.after) for op in plan.unit_independent()] == [
        (OpKind.REMOVE_CONTAINER, "id-old", [])]
