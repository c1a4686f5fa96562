"""`fovea render k8s` against the engine: the CLI writes a folder `kubectl kustomize` builds, and the
volume-init container's own command, run by Docker in the service's real image, gives a fresh volume the
image's owner. The offline checks (schemas, probes, secrets, limits) are in tests/unit/test_render_k8s.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_fovea
from tests.unit.test_render_k8s import rendered, workload


def test_cli_writes_a_folder_kubectl_kustomize_builds(make_project, tmp_path: Path) -> None:
    project = make_project()
    out = tmp_path / "manifests"
    result = run_fovea(["render", "k8s", "-o", str(out)], make_project.env(project))
    assert result.returncode == 0, result.stderr
    assert (out / "kustomization.yaml").is_file() and (out / "postgres.yaml").is_file()
    import shutil

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomization is checked by the schema tests only")
    built = subprocess.run([kubectl, "kustomize", str(out)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert built.stdout.count("kind: StatefulSet") == 3


def test_volume_init_gives_a_fresh_volume_the_images_content_and_owner(make_project, tmp_path: Path) -> None:
    """The initContainer's own command, run by Docker in the service's real image against a fresh, empty,
    root-owned volume (what a new PVC is): afterwards the volume has the owner of the image's path."""
    import uuid

    project = make_project()
    image = project.resolver().resolve(project.stack.units["redis"])
    assert not image.missing, "the redis image is built by .ci/setup"
    _, documents, _, _ = rendered(tmp_path)
    init = workload(documents, "redis")["spec"]["template"]["spec"]["initContainers"][0]
    context = init["securityContext"]
    assert init["name"] == "volume-init" and context["runAsUser"] == 0 and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    volume = f"{project.settings.project}_k8s-init-{uuid.uuid4().hex[:6]}"
    mount = init["volumeMounts"][0]["mountPath"]
    # with exactly the capabilities the manifest grants it
    capabilities = [arg for cap in context["capabilities"]["add"] for arg in ("--cap-add", cap)]
    run = ["/usr/bin/docker", "run", "--rm", "--user", "0", "--cap-drop", "ALL", *capabilities, "--security-opt",
           "no-new-privileges", "-v", f"{volume}:{mount}", "--entrypoint", "sh", image.ref]
    try:
        done = subprocess.run([*run, "-c", init["command"][2]], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        owners = subprocess.run([*run, "-c", f"stat -c %u:%g /data {mount}"], capture_output=True, text=True, timeout=120)
        image_owner, volume_owner = owners.stdout.split()
        assert volume_owner == image_owner != "0:0"
    finally:
        subprocess.run(["/usr/bin/docker", "volume", "rm", "-f", volume], capture_output=True, timeout=60)
