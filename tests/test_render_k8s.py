"""`fovea render k8s`: manifests that Kubernetes' own schemas accept, with the stack's probes and no secret.

No Kubernetes API server exists on our machines (none in Debian, PyPI or npm; kind and k3s need registry
images), so nothing here is applied to a cluster, and none is mocked to pretend an apply works. What is
checked offline: `kubernetes-validate --strict` (PyPI, bundled OpenAPI schemas, rejects unknown fields)
for two pinned Kubernetes versions, the probes against the stack's `Probe` objects, and that no secret
value appears in any rendered file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fovea_ctl.images import ResolvedImage
from fovea_ctl.k8s import render_k8s, secret_commands
from fovea_ctl.model import ExecProbe, HttpProbe, PostgresProbe, RedisProbe, Stack
from fovea_ctl.project import load_stack
from fovea_ctl.secrets import SecretStore
from fovea_ctl.settings import Settings
from tests.conftest import ROOT, run_fovea

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
VALIDATE = str(Path(sys.executable).parent / "kubernetes-validate")


def stack_and_settings(tmp_path: Path, gpu: bool = False, registry: bool = False) -> tuple[Stack, Settings]:
    settings = Settings(root=ROOT, project="k8s-test", secrets_dir=tmp_path / "secrets", gpu=gpu,
                        image_source="registry" if registry else "build",
                        scale="model-worker=1")  # the dedicated worker Deployment (the one that scales out)
    return load_stack(settings), settings


def fake_images(stack: Stack) -> dict[str, ResolvedImage]:
    """Image refs as the resolver names them; no engine is needed to render manifests."""
    return {name: ResolvedImage(f"{(u.image.recipe.name if u.image.recipe else u.image.registry)}:0123456789ab",
                                u.image.recipe, None) for name, u in stack.units.items()}


def rendered(tmp_path: Path, gpu: bool = False, registry: bool = False) -> tuple[Path, dict[str, list[dict]], Stack, Settings]:
    stack, settings = stack_and_settings(tmp_path, gpu, registry)
    out = tmp_path / ("k8s-gpu" if gpu else "k8s")
    render_k8s(stack, settings, fake_images(stack)).write(out)
    documents = {p.name: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in sorted(out.glob("*.yaml"))}
    return out, documents, stack, settings


def objects(documents: dict[str, list[dict]], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for docs in documents.values() for d in docs if d.get("kind") == kind}


def workload(documents: dict[str, list[dict]], name: str) -> dict:
    return {**objects(documents, "Deployment"), **objects(documents, "StatefulSet")}[name]


def validate(files: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VALIDATE, "--strict", "-k", version, *map(str, files)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize(("gpu", "registry"), [(False, False), (True, False), (False, True)],
                         ids=["offline-cpu", "offline-gpu", "registry-with-grafana"])
def test_manifests_pass_strict_schema_validation_for_two_kubernetes_versions(
        tmp_path: Path, gpu: bool, registry: bool) -> None:
    out, documents, _, _ = rendered(tmp_path, gpu, registry)
    resources = [p for p in sorted(out.glob("*.yaml")) if p.name != "kustomization.yaml"]
    assert len(resources) >= 8
    for version in KUBERNETES_VERSIONS:
        result = validate(resources, version)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("passed") == sum(len(d) for n, d in documents.items() if n != "kustomization.yaml")


def test_the_validator_rejects_an_unknown_field(tmp_path: Path) -> None:
    """The check above can fail: --strict refuses a field Kubernetes does not have."""
    _, documents, _, _ = rendered(tmp_path)
    broken = workload(documents, "model-worker")
    broken["spec"]["template"]["spec"]["containers"][0]["healthcheck"] = ["true"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert validate([path], KUBERNETES_VERSIONS[0]).returncode != 0


def test_stateful_services_are_statefulsets_with_their_own_claims(tmp_path: Path) -> None:
    _, documents, _, _ = rendered(tmp_path)
    statefulsets, deployments = objects(documents, "StatefulSet"), objects(documents, "Deployment")
    assert set(statefulsets) == {"postgres", "redis", "backend"}
    assert {"prometheus", "otel-collector", "model-service", "model-worker"} <= set(deployments)
    templates = {t["metadata"]["name"] for t in statefulsets["postgres"]["spec"]["volumeClaimTemplates"]}
    assert templates == {"postgres-data"}
    claims = objects(documents, "PersistentVolumeClaim")
    # video-data is shared by the backend (writes) and the model services (read-only): one RWX claim.
    assert claims["video-data"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claims["video-data"]["metadata"]["labels"]["io.fovea/priority"] == "critical"
    assert claims["prometheus-data"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert deployments["prometheus"]["spec"]["strategy"] == {"type": "Recreate"}
    assert "postgres-data" not in claims  # it lives in the StatefulSet's claim template


def test_probes_match_the_stack(tmp_path: Path) -> None:
    _, documents, stack, _ = rendered(tmp_path)
    checked = 0
    for name, unit in stack.units.items():
        if unit.job_of or unit.probe is None:
            continue
        container = workload(documents, name)["spec"]["template"]["spec"]["containers"][0]
        probe = unit.probe
        for key in ("startupProbe", "readinessProbe"):
            rendered_probe = container[key]
            if isinstance(probe, HttpProbe):
                assert rendered_probe["httpGet"] == {"port": probe.port, "path": probe.path}
            elif isinstance(probe, (PostgresProbe, RedisProbe)):
                assert rendered_probe["exec"]["command"] == probe.healthcheck  # the image's own check
            elif isinstance(probe, ExecProbe):
                assert rendered_probe["exec"]["command"] == probe.command
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= probe.budget_s
        checked += 1
    assert checked == 8  # postgres, redis, prometheus, otel-collector, backend, frontend, model-service, model-worker
    assert workload(documents, "postgres")["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"][
        "command"][0] == "pg_isready"


def test_config_files_become_configmaps_and_init_jobs_init_containers(tmp_path: Path) -> None:
    _, documents, stack, settings = rendered(tmp_path)
    config_maps = objects(documents, "ConfigMap")
    prometheus_map = next(m for n, m in config_maps.items() if n.startswith("prometheus-yml-"))
    assert prometheus_map["data"]["prometheus.yml"] == (settings.root / "configs/prometheus.yml").read_text()
    pod = workload(documents, "prometheus")["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/etc/prometheus/prometheus.yml")
    assert mount["subPath"] == "prometheus.yml"
    backend = workload(documents, "backend")["spec"]["template"]["spec"]
    names = [c["name"] for c in backend["initContainers"]]
    assert names == ["volume-init", "migrate"]
    assert backend["initContainers"][1]["args"] == stack.units["backend-migrate"].command


def test_secrets_are_referenced_by_name_and_no_value_is_written(tmp_path: Path) -> None:
    out, documents, stack, settings = rendered(tmp_path)
    store = SecretStore(settings, stack)
    values = [store.value(s.name) for s in stack.secrets]
    commands = secret_commands(stack, settings, store.path)
    for path in out.iterdir():
        text = path.read_text()
        assert not any(value in text for value in values), f"a secret value is in {path.name}"
    assert not any(value in commands for value in values)
    assert not objects(documents, "Secret")
    backend = workload(documents, "backend")["spec"]["template"]["spec"]
    projected = next(v for v in backend["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    expected = [name.replace("_", "-") for name in stack.units["backend"].secrets]  # from the stack, not a list here
    assert [s["secret"]["name"] for s in projected] == expected
    assert "redis-password" in expected
    assert f"--from-file=postgres_password={store.path('postgres_password')}" in commands


def test_gpu_variant_limits_one_gpu_and_runs_on_gpu_nodes(tmp_path: Path) -> None:
    _, documents, _, _ = rendered(tmp_path, gpu=True)
    pod = workload(documents, "model-worker-gpu")["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert "model-worker" not in objects(documents, "Deployment")


def test_placement_and_replicas(tmp_path: Path) -> None:
    _, documents, _, _ = rendered(tmp_path)
    assert workload(documents, "postgres")["spec"]["template"]["spec"]["nodeSelector"] == {"io.fovea.data": "true"}
    assert "nodeSelector" not in workload(documents, "redis")["spec"]["template"]["spec"]
    kustomization = yaml.safe_load((tmp_path / "k8s" / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == "k8s-test"
    assert set(kustomization["resources"]) == {p.name for p in (tmp_path / "k8s").glob("*.yaml")} - {"kustomization.yaml"}


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


def test_the_cli_loads_no_kubernetes_models_until_render_k8s_runs() -> None:
    code = "import sys, fovea_ctl.cli, fovea_ctl.status; print(any(m.startswith('lightkube') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "False", result.stderr


def test_volume_init_gives_a_fresh_volume_the_images_content_and_owner(make_project, tmp_path: Path) -> None:
    """The initContainer's own command, run by Docker in the service's real image against a fresh, empty,
    root-owned volume (what a new PVC is): afterwards the volume has the owner of the image's path."""
    import uuid

    project = make_project()
    image = project.resolver().resolve(project.stack.units["redis"])
    assert not image.missing, "the redis image is built by .ci/setup"
    _, documents, _, _ = rendered(tmp_path)
    init = workload(documents, "redis")["spec"]["template"]["spec"]["initContainers"][0]
    assert init["name"] == "volume-init" and init["securityContext"] == {"runAsUser": 0}
    volume = f"{project.settings.project}_k8s-init-{uuid.uuid4().hex[:6]}"
    mount = init["volumeMounts"][0]["mountPath"]
    run = ["/usr/bin/docker", "run", "--rm", "--user", "0", "-v", f"{volume}:{mount}", "--entrypoint", "sh", image.ref]
    try:
        done = subprocess.run([*run, "-c", init["command"][2]], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        owners = subprocess.run([*run, "-c", f"stat -c %u:%g /data {mount}"], capture_output=True, text=True, timeout=120)
        image_owner, volume_owner = owners.stdout.split()
        assert volume_owner == image_owner != "0:0"
    finally:
        subprocess.run(["/usr/bin/docker", "volume", "rm", "-f", volume], capture_output=True, timeout=60)
