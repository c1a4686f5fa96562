"""`fovea render k8s`: manifests that Kubernetes' own schemas accept, with the stack's probes and no secret.

No Kubernetes API server exists on our machines (none in Debian, PyPI or npm; kind and k3s need registry
images), so nothing here is applied to a cluster, and none is mocked to pretend an apply works. What is
checked offline: kubernetes-validate's strict validation (PyPI, bundled OpenAPI schemas, rejects unknown
fields; called in this process, as its `--strict` command line does) for two pinned Kubernetes versions, the
probes against the stack's `Probe` objects, and that no secret value appears in any rendered file.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate.utils as kubernetes_validate
import pytest
import yaml

from fovea_ctl.images import ResolvedImage
from fovea_ctl.render.k8s import render_k8s, secret_commands
from fovea_ctl.render.resolved import resolve
from fovea_ctl.model import ExecProbe, HttpProbe, PostgresProbe, RedisProbe, Stack
from fovea_ctl.core.context import load_stack
from fovea_ctl.core.secrets import SecretStore
from fovea_ctl.settings.effective import Settings
from tests.conftest import ROOT
from tests.unit.warm_cli import run_fovea

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def stack_and_settings(tmp_path: Path, gpu: bool = False, registry: bool = False) -> tuple[Stack, Settings]:
    settings = Settings(root=ROOT, project="k8s-test", secrets_dir=tmp_path / "secrets", gpu=gpu,
                        image_source="registry" if registry else "build",
                        scale="model-worker=1")  # the dedicated worker Deployment (the one that scales out)
    return load_stack(settings), settings


def fake_images(stack: Stack) -> dict[str, ResolvedImage]:
    """Image refs as the resolver names them; no engine is needed to render manifests."""
    return {name: ResolvedImage(f"{(u.image.recipe.name if u.image.recipe else u.image.registry)}:0123456789ab",
                                u.image.recipe, None) for name, u in stack.units.items()}


# Each variant's files as rendered and written the first time in this session: the inputs are the checkout's
# stack and the variant (`stack_and_settings` gives every test the same), and yaml's pure-Python emitter took
# ~0.1 s per rendering, ten renderings a run.
_RENDERED_FILES: dict[tuple[bool, bool], dict[str, str]] = {}


def rendered(tmp_path: Path, gpu: bool = False, registry: bool = False) -> tuple[Path, dict[str, list[dict]], Stack, Settings]:
    stack, settings = stack_and_settings(tmp_path, gpu, registry)
    out = tmp_path / ("k8s-gpu" if gpu else "k8s")
    files = _RENDERED_FILES.get((gpu, registry))
    if files is None:
        render_k8s(resolve(stack, settings, fake_images(stack), SecretStore(settings, stack))).write(out)
        files = _RENDERED_FILES[(gpu, registry)] = {p.name: p.read_text() for p in out.iterdir()}
    else:
        out.mkdir(parents=True)
        for name, text in files.items():
            (out / name).write_text(text)
    # libyaml's parser (the same safe constructor): the pure-Python one took ~0.1 s per rendering.
    documents = {p.name: [d for d in yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader) if d]
                 for p in sorted(out.glob("*.yaml"))}
    return out, documents, stack, settings


def objects(documents: dict[str, list[dict]], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for docs in documents.values() for d in docs if d.get("kind") == kind}


def workload(documents: dict[str, list[dict]], name: str) -> dict:
    return {**objects(documents, "Deployment"), **objects(documents, "StatefulSet")}[name]


@pytest.fixture(scope="module")
def schemas_read_once() -> Iterator[None]:
    """kubernetes-validate reads and parses a kind's schema and the version's 1.3-1.8 MB definitions again for
    each document: 0.5 s per version for one stack, ten times the validation itself. The same files, read once
    for this module (the validator does not change them)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubernetes_validate, "schema_contents",
                      functools.lru_cache(maxsize=None)(kubernetes_validate.schema_contents))
        yield


def validate(documents: list[dict], version: str) -> None:
    """What `kubernetes-validate --strict -k VERSION FILE…` does per document, but a kind without a schema is an
    error here (the command line only warns)."""
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize(("gpu", "registry"), [(False, False), (True, False), (False, True)],
                         ids=["offline-cpu", "offline-gpu", "registry-with-grafana"])
def test_manifests_pass_strict_schema_validation_for_two_kubernetes_versions(
        tmp_path: Path, gpu: bool, registry: bool, schemas_read_once: None) -> None:
    _, documents, _, _ = rendered(tmp_path, gpu, registry)
    resources = {name: docs for name, docs in documents.items() if name != "kustomization.yaml"}
    assert len(resources) >= 8
    for version in KUBERNETES_VERSIONS:
        validate([document for docs in resources.values() for document in docs], version)


def test_the_validator_rejects_an_unknown_field(tmp_path: Path, schemas_read_once: None) -> None:
    """The check above can fail: strict validation refuses a field Kubernetes does not have."""
    _, documents, _, _ = rendered(tmp_path)
    broken = workload(documents, "model-worker")
    broken["spec"]["template"]["spec"]["containers"][0]["healthcheck"] = ["true"]
    with pytest.raises(kubernetes_validate.ValidationError, match="healthcheck"):
        validate([broken], KUBERNETES_VERSIONS[0])


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


def test_the_cli_loads_no_kubernetes_models_until_render_k8s_runs() -> None:
    code = "import sys, fovea_ctl.cli, fovea_ctl.ops.status; print(any(m.startswith('lightkube') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "False", result.stderr


def test_every_service_has_memory_and_cpu_limits_shown_by_config_and_rendered_for_compose_swarm_and_k8s(
        tmp_path: Path) -> None:
    """Before: no service had a limit, so one 229 MiB import raised the backend to 1.28 GB with nothing to
    stop it. Now each service of the stack carries its limits (and its capabilities), the same everywhere."""
    from fovea_ctl.render.compose import render_compose
    from fovea_ctl.render.swarm_spec import desired_services, service_spec

    stack, settings = stack_and_settings(tmp_path)
    units = {n: u for n, u in stack.units.items()}
    assert all(u.resources.cpus and u.resources.memory_mb for u in units.values()), \
        [n for n, u in units.items() if not (u.resources.cpus and u.resources.memory_mb)]

    config = run_fovea(["config"], {"FOVEA_ROOT": str(ROOT), "FOVEA_PROJECT": "limits-test", "PATH": "/usr/bin:/bin",
                                    "FOVEA_SECRETS_DIR": str(tmp_path / "secrets")})
    assert config.returncode == 0, config.stderr
    shown = {s["name"]: s["resources"] for s in yaml.safe_load(config.stdout)["stack"]["services"]}
    assert all(shown[n]["cpus"] and shown[n]["memory_mb"] for n in units if n in shown)

    secrets = SecretStore(settings, stack)
    compose = render_compose(resolve(stack, settings, fake_images(stack), secrets))["services"]
    _, documents, _, _ = rendered(tmp_path)
    desired = desired_services(stack, settings, fake_images(stack), secrets)
    ids = {o.name: f"id-{o.name}" for d in desired.values() for o in [*d.secrets, *d.configs]}
    for name, unit in units.items():
        limits = compose[name]["deploy"]["resources"]["limits"]
        assert (limits["cpus"], limits["memory"]) == (str(unit.resources.cpus), f"{unit.resources.memory_mb}M"), name
        assert compose[name]["cap_drop"] == ["ALL"] and compose[name].get("cap_add", []) == unit.capabilities
        assert compose[name]["security_opt"] == ["no-new-privileges:true"]
        if name in desired:
            task = service_spec(desired[name], stack, settings, "net", ids)["task_template"]
            assert task["Resources"]["Limits"] == {"NanoCPUs": int(unit.resources.cpus * 1e9),
                                                   "MemoryBytes": unit.resources.memory_mb << 20}, name
            assert task["ContainerSpec"]["CapabilityDrop"] == ["ALL"]
        if unit.one_shot:
            continue
        container = next(c for c in workload(documents, name)["spec"]["template"]["spec"]["containers"] if c["name"] == name)
        assert container["resources"]["limits"]["memory"] == f"{unit.resources.memory_mb}Mi", name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
