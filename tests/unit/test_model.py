"""Stack validation: each invalid stack gives an error naming the service and the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fovea_ctl.model import (
    Condition,
    HttpProbe,
    ImageSpec,
    Mount,
    Port,
    Priority,
    RedisProbe,
    Service,
    Stack,
    StackError,
    Volume,
    find_cycle,
)

IMAGE = ImageSpec(registry="example/image:1")


def svc(name: str, **kwargs: object) -> Service:
    return Service(name=name, image=IMAGE, **kwargs)  # type: ignore[arg-type]


def problems_of(**kwargs: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Stack(name="t", **kwargs)  # type: ignore[arg-type]
    errors = caught.value.errors()
    stack_error = errors[0]["ctx"]["error"]
    assert isinstance(stack_error, StackError)
    return stack_error.problems


def test_unknown_dependency_names_service_and_field() -> None:
    problems = problems_of(services=[svc("backend", depends_on={"postgress": Condition.STARTED})])
    assert problems == ["service 'backend', field depends_on: unknown service 'postgress'"]


def test_cycle_is_printed_as_a_path() -> None:
    problems = problems_of(services=[
        svc("a", depends_on={"b": Condition.STARTED}),
        svc("b", depends_on={"c": Condition.STARTED}),
        svc("c", depends_on={"a": Condition.STARTED}),
    ])
    assert any("dependency cycle a -> b -> c -> a" in p for p in problems)


def test_duplicate_host_port_after_the_base() -> None:
    problems = problems_of(port_base=100, services=[
        svc("one", ports=[Port(container=80, host=8000)]),
        svc("two", ports=[Port(container=8000)]),
    ])
    assert problems == ["service 'two', field ports: host port 8100 is already published by 'one'"]


def test_ready_dependency_on_a_service_without_probe() -> None:
    problems = problems_of(services=[svc("db"), svc("api", depends_on={"db": Condition.READY})])
    assert "service 'api', field depends_on: 'db' is required ready but has no probe" in problems[0]


def test_two_enabled_variants_of_one_role() -> None:
    problems = problems_of(services=[
        svc("model-service", role="model", variant="cpu"),
        svc("model-service-gpu", role="model", variant="gpu"),
    ])
    assert "variants of role 'model' are exclusive" in problems[0]
    assert "field enabled" in problems[0]


def test_disabled_variant_is_fine() -> None:
    stack = Stack(name="t", services=[
        svc("model-service", role="model", variant="cpu"),
        svc("model-service-gpu", role="model", variant="gpu", enabled=False),
    ])
    assert list(stack.units) == ["model-service"]


def test_volume_without_priority_class_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        Volume(name="video-data")  # type: ignore[call-arg]
    assert caught.value.errors()[0]["loc"] == ("priority",)


def test_mount_of_undeclared_volume() -> None:
    problems = problems_of(services=[svc("api", mounts=[Mount(volume="nope", target="/x")])])
    assert problems == ["service 'api', field mounts: unknown volume 'nope' (declare it in the stack's volumes)"]


def test_secret_values_cannot_be_env() -> None:
    with pytest.raises(ValidationError, match="secrets are mounted as files"):
        svc("api", env={"DB_PASSWORD": "hunter2"})


def test_init_jobs_become_units_the_service_waits_for() -> None:
    from fovea_ctl.model import InitJob

    stack = Stack(
        name="t",
        volumes=[Volume(name="data", priority=Priority.CRITICAL)],
        services=[
            svc("db", probe=RedisProbe()),
            svc("api", depends_on={"db": Condition.READY}, probe=HttpProbe(port=80),
                init_jobs=[InitJob(name="migrate", command=["migrate"], inputs=["migrations"])]),
        ],
    )
    assert stack.dependency_order() == ["db", "api-migrate", "api"]
    job = stack.units["api-migrate"]
    assert job.one_shot and job.command == ["migrate"] and job.hash_inputs == ["migrations"]
    assert stack.units["api"].depends_on == {"db": Condition.READY, "api-migrate": Condition.COMPLETED}


def test_find_cycle_none_for_a_dag() -> None:
    assert find_cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None


def test_the_fovea_stack_loads() -> None:
    from fovea_ctl.core.context import load_stack
    from fovea_ctl.settings.effective import Settings

    stack = load_stack(Settings(project="x", port_base=1000))
    assert {"postgres", "redis", "prometheus"} <= set(stack.units)
    assert stack.host_port(stack.units["postgres"].ports[0]) == 6432
    assert all(v.priority for v in stack.volumes)


def test_stack_copies_are_revalidated_and_recompute_their_units() -> None:
    stack = Stack(name="t", services=[svc("a"), svc("b", depends_on={"a": Condition.STARTED})])
    assert list(stack.units) == ["a", "b"]  # computed and cached on the original
    fewer = stack.model_copy(update={"services": [svc("a")]})
    assert list(fewer.units) == ["a"]  # not the original's cached units
    with pytest.raises(ValidationError, match="unknown service 'ghost'"):
        stack.model_copy(update={"services": [svc("a", depends_on={"ghost": Condition.STARTED})]})
    with pytest.raises(ValidationError, match="secrets are mounted as files"):
        svc("a").model_copy(update={"env": {"DB_PASSWORD": "x"}})


def test_the_frontend_is_on_3000_and_grafana_moves_to_3002_in_registry_mode() -> None:
    from fovea_ctl.core.context import load_stack
    from fovea_ctl.settings.effective import Settings

    offline = load_stack(Settings(project="x", port_base=1000))
    assert offline.links() == {"app": "http://127.0.0.1:4000/", "metrics": "http://127.0.0.1:4000/metrics"}
    assert offline.links(["backend"]) == {}
    assert offline.units["frontend"].depends_on == {"backend": Condition.READY}
    registry = load_stack(Settings(project="x", port_base=1000, image_source="registry"))  # validates: no clash
    assert registry.host_port(registry.units["grafana"].ports[0]) == 3002 + 1000
