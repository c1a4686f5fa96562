"""`fovea images build`'s display: one line per image, its latest BuildKit step, elapsed time, failures with the log."""

from __future__ import annotations

BUILD_STACK = '''
from fovea_ctl.model import BuildRecipe, ImageSpec, Service, Stack
def build_stack(settings):
    def image(name):
        return ImageSpec(recipe=BuildRecipe(name=f"fovea/buildtest-{name}", context=f"images/{name}"))
    return Stack(name=settings.project, port_base=settings.port_base, services=[
        Service(name=name, image=image(name), command=["true"], one_shot=True) for name in ("one", "two", "broken")
    ])
'''


def test_images_build_runs_independent_builds_at_once_and_names_the_failed_log(make_project, tmp_path) -> None:
    import uuid

    from tests.conftest import run_fovea, write_stack_root

    root = write_stack_root(tmp_path, BUILD_STACK)
    marker = uuid.uuid4().hex  # a fresh content hash: these images are built now, not found
    for name in ("one", "two", "broken"):
        (root / "images" / name).mkdir(parents=True)
        (root / "images" / name / "marker").write_text(marker)
        copied = "absent-file" if name == "broken" else "marker"
        (root / "images" / name / "Dockerfile").write_text(f"FROM debian:trixie-slim\nCOPY {copied} /marker\n")
    project = make_project(root=root)
    try:
        result = run_fovea(["images", "build"], make_project.env(project), timeout=600)
        assert result.returncode == 4, result.stderr
        lines = result.stderr.splitlines()
        for name in ("one", "two"):
            assert any(line.startswith(f"fovea/buildtest-{name}:") and line.endswith("built") for line in lines), lines
        failed = next(line for line in lines if line.startswith("fovea/buildtest-broken:") and "FAILED" in line)
        assert failed.endswith("fovea_buildtest-broken.log")
        assert "1 of 3 images failed" in result.stderr
    finally:
        for image in project.resolver().resolve_stack(project.stack).values():
            if not image.missing:
                project.engine.api.remove_image(image.ref)
