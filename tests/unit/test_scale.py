"""Scaling what can scale: the stack says which services are stateless, validation refuses the rest.

Unit tests (no engine): the validation messages, the units a scaled stack derives, and the plans that
scale up and back down. `tests/test_swarm.py` and `tests/test_scale_up.py` run replicas for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fovea_ctl.docker.views import VolumeView
from fovea_ctl.errors import StackInvalid, UsageError
from fovea_ctl.model import (
    Condition,
    ExecProbe,
    ImageSpec,
    Mount,
    Placement,
    Port,
    Priority,
    RedisProbe,
    ScalePolicy,
    Service,
    Stack,
    StackError,
    Volume,
)
from fovea_ctl.reconcile.observe import ObservedState
from fovea_ctl.reconcile.plan import make_plan
from fovea_ctl.core.scale import parse_scale, scaled_stack
from fovea_ctl.settings.effective import Settings
from tests.unit.test_plan import converged as converged_units
from tests.unit.test_plan import desired, settings_for

IMAGE = ImageSpec(registry="example/image:1")


def queue_stack() -> Stack:
    return Stack(
        name="p",
        volumes=[Volume(name="queue-data", priority=Priority.IMPORTANT),
                 Volume(name="cache", priority=Priority.RECREATABLE)],
        services=[
            Service(name="queue", image=IMAGE, ports=[Port(container=6379)], probe=RedisProbe(),
                    mounts=[Mount(volume="queue-data", target="/data")], placement=Placement(node_labels={"disk": "ssd"})),
            Service(name="api", image=IMAGE, ports=[Port(container=8000)], scale=ScalePolicy(max_replicas=4),
                    depends_on={"queue": Condition.READY}),
            Service(name="worker", image=IMAGE, scale=ScalePolicy(max_replicas=3), probe=ExecProbe(command=["true"]),
                    mounts=[Mount(volume="cache", target="/cache"), Mount(volume="queue-data", target="/q", read_only=True)],
                    depends_on={"queue": Condition.READY}),
            Service(name="backend", image=IMAGE, single_instance_reason="its uploads are staged in the process"),
        ],
    )


def converged(units: dict, settings: Settings) -> ObservedState:
    state = converged_units(units, settings)
    state.volumes = {settings.volume_name(v): VolumeView(settings.volume_name(v), {}, "", "") for v in ("queue-data", "cache")}
    return state


def refusal(requests: str) -> str:
    with pytest.raises(StackInvalid) as caught:
        scaled_stack(queue_stack(), requests)
    return caught.value.message


def test_a_stateful_service_is_refused_with_the_volume_it_writes() -> None:
    assert refusal("queue=2") == (
        "cannot scale:\n  service 'queue', field replicas: queue cannot scale: "
        "it writes the queue-data volume, which two instances would corrupt")


def test_a_service_with_its_own_reason_is_refused_with_that_reason() -> None:
    assert "backend cannot scale: its uploads are staged in the process" in refusal("backend=2")


def test_scale_beyond_the_maximum_and_unknown_services_are_refused() -> None:
    assert "service 'worker', field replicas: 4 is above its max_replicas 3" in refusal("worker=4")
    assert "service 'nope', field replicas: unknown service" in refusal("nope=2")


def test_a_published_port_cannot_be_shared_by_local_replicas() -> None:
    assert "api publishes host port 8000, which 2 instances on one node cannot share" in refusal("api=2")


def test_a_scale_policy_on_a_service_that_writes_state_is_an_invalid_stack() -> None:
    with pytest.raises(ValueError) as caught:
        Stack(name="p", volumes=[Volume(name="db", priority=Priority.CRITICAL)],
              services=[Service(name="db", image=IMAGE, scale=ScalePolicy(max_replicas=2),
                                mounts=[Mount(volume="db", target="/d")])])
    assert "service 'db', field scale: it writes the critical volume 'db'" in str(caught.value)
    with pytest.raises(ValueError, match="replicas 5 is above max_replicas 2"):
        Service(name="w", image=IMAGE, scale=ScalePolicy(max_replicas=2, replicas=5))
        Stack(name="p", services=[Service(name="w", image=IMAGE, scale=ScalePolicy(max_replicas=2, replicas=5))])


def test_scale_requests_parse_or_fail_with_one_line() -> None:
    assert parse_scale(["worker=3", "api=1"]) == {"worker": 3, "api": 1}
    assert parse_scale("worker=2, api=1") == {"worker": 2, "api": 1}
    for bad in ("worker", "worker=0", "worker=x"):
        with pytest.raises(UsageError, match="expected SERVICE=N"):
            parse_scale(bad)


def test_replicas_are_units_of_their_own_and_the_first_keeps_the_service_name() -> None:
    stack = scaled_stack(queue_stack(), "worker=3")
    assert [n for n in stack.units if n.startswith("worker")] == ["worker", "worker-2", "worker-3"]
    replica = stack.units["worker-3"]
    assert replica.replica_of == "worker" and replica.depends_on == {"queue": Condition.READY}
    assert stack.units["worker"].replica_of is None


def test_scaling_up_adds_containers_and_scaling_down_removes_only_the_extras(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    one = queue_stack()
    three = scaled_stack(one, "worker=3")
    at_one = desired(one, settings)
    up = make_plan(three, settings, desired(three, settings), converged(at_one, settings))
    assert [op.describe() for op in up.operations] == [
        "#1 create container worker-2 — no container",
        "#2 start container worker-2 — new container  [after #1; needs queue ready]",
        "#3 create container worker-3 — no container",
        "#4 start container worker-3 — new container  [after #3; needs queue ready]",
    ]
    units_three = desired(three, settings)
    assert units_three["worker-2"].spec.labels["io.fovea.replica-of"] == "worker"
    assert units_three["worker-2"].spec.name == "p-worker-2"
    # Replicas share one definition: the first one is not recreated when more are added.
    assert units_three["worker-2"].hash_parts["definition"] == units_three["worker"].hash_parts["definition"]
    at_three = converged(units_three, settings)
    assert make_plan(three, settings, units_three, at_three).text() == "nothing to do"
    down = make_plan(one, settings, at_one, at_three)
    assert down.text() == "#1 remove container p-worker-2 — scaled down to 1\n#2 remove container p-worker-3 — scaled down to 1"
    assert not down.warnings  # surplus replicas are not orphans


def test_placement_is_part_of_the_model() -> None:
    assert queue_stack().units["queue"].placement == Placement(node_labels={"disk": "ssd"})
    with pytest.raises(ValueError):
        Placement(node_labels={"bad label!": "x"})


def test_the_fovea_stack_scales_workers_and_refuses_the_database() -> None:
    from fovea_ctl.core.context import load_stack
    from fovea_ctl.settings.effective import Settings

    assert "model-worker" not in load_stack(Settings(project="scale-test")).units  # the API's worker is the default
    stack = load_stack(Settings(project="scale-test", scale="model-worker=1"))
    assert stack.units["model-worker"].scale is not None
    assert stack.units["postgres"].scale is None and stack.units["redis"].scale is None
    assert stack.units["backend"].scale is None
    assert stack.units["postgres"].placement is not None
    with pytest.raises(StackInvalid, match="postgres cannot scale: it writes the postgres-data volume"):
        scaled_stack(stack, "postgres=2")
    assert isinstance(StackError(["x"]), ValueError)


def test_naming_a_scaled_service_targets_all_its_replicas() -> None:
    stack = scaled_stack(queue_stack(), "worker=3")
    assert stack.dependency_order(["worker"]) == ["queue", "worker", "worker-2", "worker-3"]


def test_a_targeted_plan_leaves_other_services_replicas_alone(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    three = scaled_stack(queue_stack(), "worker=3")
    one = queue_stack()
    at_three = converged(desired(three, settings), settings)
    assert make_plan(one, settings, desired(one, settings), at_three, targets=["queue"]).text() == "nothing to do"
