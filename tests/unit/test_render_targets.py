"""`fovea render`: one ResolvedStack, resolved once, feeds every target's renderer through one signature, and
each answer prints or writes the same way (what is written is what would have been printed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from fovea_ctl.cli.render import TARGETS
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.render.resolved import HostPort, resolve
from fovea_ctl.render.targets import RENDERERS, RenderOptions
from tests.unit.test_render_k8s import fake_images, stack_and_settings


def test_every_target_but_the_secret_commands_has_a_renderer() -> None:
    assert set(RENDERERS) == set(TARGETS) - {"k8s-secrets"}  # k8s-secrets needs no images: it names files


def test_the_resolved_stack_holds_what_the_renderers_share(tmp_path: Path) -> None:
    stack, settings = stack_and_settings(tmp_path)
    resolved = resolve(stack, settings, fake_images(stack), SecretStore(settings, stack))
    assert list(resolved.units) == list(stack.units)
    frontend = resolved.units["frontend"]
    assert frontend.published == (HostPort(settings.port_base + 3000, 3000),)
    assert frontend.healthcheck is not None and frontend.healthcheck[0] == "CMD"
    assert resolved.units["backend-migrate"].healthcheck is None  # a job has no probe
    assert set(resolved.volume_priorities) == {m.volume for u in stack.units.values() for m in u.mounts}
    assert list(resolved.used_secrets) == sorted({s for u in stack.units.values() for s in u.secrets})


def test_each_target_writes_what_it_would_print(tmp_path: Path) -> None:
    stack, settings = stack_and_settings(tmp_path)
    resolved = resolve(stack, settings, fake_images(stack), SecretStore(settings, stack))
    options = RenderOptions(health_interval_s=2.5, project_name="other", image_registry="registry.example:5000")
    for target, renderer in RENDERERS.items():
        rendered = renderer(resolved, options)
        output = tmp_path / f"out-{target}"
        written = rendered.write(output)
        texts = {path.name: path.read_text() for path in written}
        if target == "k8s":
            assert rendered.next_step(output) == f"then: `fovea render k8s-secrets | sh` and `kubectl apply -k {output}`"
            assert "\n---\n".join(t for n, t in texts.items() if n != "kustomization.yaml") == rendered.text()
            assert "image: registry.example:5000/fovea/" in rendered.text()
        else:
            assert rendered.next_step(output) is None and written == [output]
            assert texts[output.name] == rendered.text()
    compose = yaml.safe_load(RENDERERS["compose"](resolved, options).text())
    assert compose["name"] == "other" and compose["services"]["postgres"]["healthcheck"]["interval"] == "2.5s"
    swarm = yaml.safe_load(RENDERERS["swarm"](resolved, options).text())
    assert swarm["services"]["frontend"]["ports"] == [
        {"target": 3000, "published": settings.port_base + 3000, "protocol": "tcp", "mode": "host"}]
