"""What the plan decides, applied on a real engine: a create takes the id of the image its plan just built (so the
next plan is `nothing to do`), and `--remove-orphans` removes a container outside the stack as one of the run's
operations while what the stack holds is kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from fovea_ctl.images import build_image
from fovea_ctl.model import BuildRecipe, ImageSpec, RedisProbe, Stack
from fovea_ctl.reconcile.plan import OpKind
from fovea_ctl.reconcile.project import Project
from fovea_ctl.settings.effective import Settings
from tests.conftest import ProjectFactory, RecordingReporter
from tests.test_up import redis_service


def test_a_build_then_an_orphan_removal_converge(make_project: ProjectFactory, tmp_path: Path) -> None:
    plain = make_project(lambda s: Stack(name=s.project, port_base=s.port_base, services=[redis_service("cache")]))
    redis = plain.resolver().resolve(plain.stack.units["cache"])
    if redis.missing:
        assert redis.recipe is not None
        build_image(plain.settings, redis.recipe, redis.ref)
    # An image no cache can answer, made in seconds: the redis image plus a label of this run's own.
    marker = uuid.uuid4().hex[:8]
    context = tmp_path / "marked"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {redis.ref}\nLABEL io.fovea.test-marker={marker}\n")
    marked = ImageSpec(recipe=BuildRecipe(name=f"fovea/test-marked-{marker}", context=str(context)))

    def stack(with_old: bool) -> Callable[[Settings], Stack]:
        def make(settings: Settings) -> Stack:
            services = [redis_service("cache", probe=RedisProbe(budget_s=30)).model_copy(update={"image": marked})]
            if with_old:
                services.append(redis_service("old"))
            return Stack(name=settings.project, port_base=settings.port_base, services=services)
        return make

    project = make_project(stack(with_old=True))
    built_ref = ""
    try:
        plan, result = project.up(RecordingReporter())
        assert result.ok, [f.describe() for f in result.failures]
        build = plan.operations[0]
        assert build.kind is OpKind.BUILD_IMAGE and build.cause == "no image with this content hash"
        built_ref = build.target
        create = next(op for op in plan.operations if op.kind is OpKind.CREATE_CONTAINER and op.unit == "cache")
        assert create.image_from == build.id
        # The container was made with the built image's id in its config hash: nothing left to change.
        assert project.plan().text() == "nothing to do"

        dropped = Project(project.settings, stack(with_old=False)(project.settings))  # "old" left the stack
        kept = dropped.plan()
        assert kept.text() == "nothing to do" and "orphan container" in kept.warnings[0]
        cache_id = dropped.observe().containers["cache"].id
        plan, result = dropped.up(RecordingReporter(), remove_orphans=True)
        assert result.ok and plan.text() == f"#1 remove container {project.settings.container_name('old')} — orphan"
        after = dropped.observe()
        assert list(after.containers) == ["cache"] and after.containers["cache"].id == cache_id
        assert dropped.plan(remove_orphans=True).text() == "nothing to do"
    finally:
        with project.writing():
            project.down(timeout_s=2)
        if built_ref:
            project.engine.remove_image(built_ref)  # made by this test only
