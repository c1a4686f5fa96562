"""`fovea render k8s`: the same stack as Kubernetes manifests, built from lightkube's typed models.

What maps how (README, "Beyond one machine"):
- a service that writes a critical or important volume → StatefulSet (a volume only it mounts becomes a
  volumeClaimTemplate); every other service → Deployment; a volume several services mount → one PVC
  (ReadWriteMany); ports → a ClusterIP Service named like the service, so the stack's hostnames resolve;
- each `Probe` → a startupProbe (its budget) and a readinessProbe: HTTP → httpGet, postgres/redis → exec of
  the image's own check, exec → exec, tcp-banner → tcpSocket;
- config files → ConfigMaps named by content hash (a changed file rolls the pods that mount it);
- secrets → referenced by name only, mounted at /run/secrets/<name> like `up` does; their values are never
  written here: `fovea render k8s-secrets` prints the `kubectl create secret --from-file` commands;
- init jobs → initContainers; fresh volumes get Docker's copy-on-first-mount (content and owner of the
  image's path) from a `volume-init` initContainer; resources → limits; a GPU → an `nvidia.com/gpu` limit;
  placement → nodeSelector; replicas → the service's ScalePolicy.

Only the model classes are imported, lazily by the CLI: `fovea status` never pays for them.
"""

from __future__ import annotations

import hashlib
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from fovea_ctl import __version__
from fovea_ctl.docker.container_spec import HELPER_CAPABILITIES
from fovea_ctl.docker.labels import K8S_PRIORITY, K8S_VERSION, K8S_VOLUME
from fovea_ctl.model import Priority, Probe, Service, Stack
from fovea_ctl.probes.kinds import k8s_action
from fovea_ctl.render.resolved import ResolvedStack
from fovea_ctl.settings.effective import Settings

if TYPE_CHECKING:
    from lightkube.models import core_v1

SECRETS_DIR = "/run/secrets"
VOLUME_INIT_ROOT = "/fovea-volume-init"
READINESS_PERIOD_S = 5
STARTUP_PERIOD_S = 2
PROBE_TIMEOUT_S = 3
DEFAULT_STORAGE = "10Gi"


@dataclass
class Manifests:
    """File name → YAML text, plus the kustomization that lists them."""

    namespace: str
    files: dict[str, list[Any]] = field(default_factory=dict)  # file -> lightkube resources

    def add(self, file: str, resource: Any) -> None:
        self.files.setdefault(file, []).append(resource)

    def texts(self) -> dict[str, str]:
        import yaml

        out = {name: yaml.safe_dump_all([header_first(r.to_dict()) for r in resources], sort_keys=False)
               for name, resources in self.files.items()}
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": self.namespace,
            "resources": list(self.files),
        }
        out["kustomization.yaml"] = yaml.safe_dump(kustomization, sort_keys=False)
        return out

    def text(self) -> str:
        """The manifests as one multi-document stream (the kustomization only lists the files)."""
        return "\n---\n".join(text for name, text in self.texts().items() if name != "kustomization.yaml")

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.texts().items():
            (directory / name).write_text(text)
            written.append(directory / name)
        return written

    def next_step(self, directory: Path) -> str | None:
        return f"then: `fovea render k8s-secrets | sh` and `kubectl apply -k {directory}`"


def header_first(document: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind and metadata on top, as people read manifests."""
    head: dict[str, Any] = {k: document[k] for k in ("apiVersion", "kind", "metadata") if k in document}
    return {**head, **{k: v for k, v in document.items() if k not in head}}


def k8s_name(name: str) -> str:
    """A DNS-1123 name: lowercase alphanumerics and '-' (secret names here use '_')."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].rstrip("-")


def secret_object_name(secret: str) -> str:
    return k8s_name(secret)


class ContainerProbes(TypedDict, total=False):
    """The probe fields of a Kubernetes Container, as its keyword arguments."""

    startupProbe: core_v1.Probe
    readinessProbe: core_v1.Probe


def probes_for(probe: Probe | None) -> ContainerProbes:
    """startupProbe holds the service's startup budget; readinessProbe then gates its traffic."""
    from lightkube.models.core_v1 import Probe as K8sProbe

    if probe is None:
        return {}
    return {
        "startupProbe": K8sProbe(**k8s_action(probe), periodSeconds=STARTUP_PERIOD_S, timeoutSeconds=PROBE_TIMEOUT_S,
                                 failureThreshold=max(1, math.ceil(probe.budget_s / STARTUP_PERIOD_S))),
        "readinessProbe": K8sProbe(**k8s_action(probe), periodSeconds=READINESS_PERIOD_S,
                                   timeoutSeconds=PROBE_TIMEOUT_S, failureThreshold=3),
    }


def resources_for(service: Service) -> core_v1.ResourceRequirements | None:
    from lightkube.models.core_v1 import ResourceRequirements

    limits: dict[str, str] = {}
    if service.resources.cpus:
        limits["cpu"] = f"{int(service.resources.cpus * 1000)}m"
    if service.resources.memory_mb:
        limits["memory"] = f"{service.resources.memory_mb}Mi"
    if service.gpu is not None:
        # Extended resources are whole devices; "all GPUs" (-1) has no Kubernetes meaning: one.
        limits["nvidia.com/gpu"] = str(service.gpu.count if service.gpu.count > 0 else 1)
    return ResourceRequirements(limits=limits) if limits else None


def writes_state(service: Service, priorities: dict[str, Priority]) -> bool:
    """It writes a volume that is not recreatable: one instance, a StatefulSet."""
    return any(not m.read_only and priorities[m.volume] is not Priority.RECREATABLE for m in service.mounts)


class Renderer:
    def __init__(self, resolved: ResolvedStack, image_registry: str | None = None,
                 storage: str = DEFAULT_STORAGE) -> None:
        stack = self.stack = resolved.stack
        settings = self.settings = resolved.settings
        self.resolved = resolved
        self.priorities = resolved.volume_priorities
        self.image_registry = image_registry.rstrip("/") if image_registry else None
        self.storage = storage
        self.namespace = k8s_name(settings.project)
        self.manifests = Manifests(self.namespace)
        self.services = [u for u in stack.units.values() if not u.job_of and not u.replica_of]
        self.mounted_by: dict[str, list[Service]] = {}
        for service in self.services:
            for mount in service.mounts:
                self.mounted_by.setdefault(mount.volume, []).append(service)
        self.config_maps: dict[str, str] = {}  # config source -> ConfigMap name

    # -- helpers -----------------------------------------------------------------------------------
    def labels(self, service: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": service, "app.kubernetes.io/instance": self.settings.project}

    def metadata(self, name: str, service: str | None = None, **labels: str) -> Any:
        from lightkube.models.meta_v1 import ObjectMeta

        all_labels = {**(self.labels(service) if service else {"app.kubernetes.io/instance": self.settings.project}),
                      "app.kubernetes.io/part-of": "fovea", "app.kubernetes.io/managed-by": "fovea",
                      K8S_VERSION: __version__, **labels}
        return ObjectMeta(name=name, namespace=self.namespace, labels=all_labels)

    def image(self, unit: str) -> str:
        image = self.resolved.units[unit].image
        if self.image_registry and image.recipe is not None:
            return f"{self.image_registry}/{image.ref}"
        return image.ref

    def own_claim(self, service: Service, volume: str) -> bool:
        """A critical/important volume that only this StatefulSet mounts lives in its claim template."""
        users = self.mounted_by.get(volume, [])
        return (len(users) == 1 and users[0].name == service.name and writes_state(service, self.priorities)
                and self.priorities[volume] is not Priority.RECREATABLE)

    def replicas(self, service: Service) -> int:
        if service.name in self.stack.replicas:
            return self.stack.replicas[service.name]
        return service.scale.replicas if service.scale else 1

    # -- pieces ------------------------------------------------------------------------------------
    def config_map(self, source: str) -> tuple[str, list[str]]:
        """One ConfigMap per config file or folder, named by its content hash; returns (name, keys)."""
        from lightkube.resources.core_v1 import ConfigMap

        path = self.settings.root / source
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        data = {f.name: f.read_text() for f in files}
        if source not in self.config_maps:
            digest = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:10]
            name = f"{k8s_name(source.removeprefix('configs/'))[:50]}-{digest}"
            self.config_maps[source] = name
            self.manifests.add("configmaps.yaml", ConfigMap(metadata=self.metadata(name), data=data))
        return self.config_maps[source], list(data)

    def pod_volumes(self, service: Service) -> tuple[list[Any], list[Any]]:
        """(pod volumes, container mounts) for its volumes, config files and secrets."""
        from lightkube.models.core_v1 import (
            ConfigMapVolumeSource,
            KeyToPath,
            PersistentVolumeClaimVolumeSource,
            ProjectedVolumeSource,
            SecretProjection,
            Volume,
            VolumeMount,
            VolumeProjection,
        )

        volumes: list[Any] = []
        mounts: list[Any] = []
        for mount in service.mounts:
            if not self.own_claim(service, mount.volume):
                volumes.append(Volume(name=mount.volume, persistentVolumeClaim=PersistentVolumeClaimVolumeSource(
                    claimName=mount.volume, readOnly=mount.read_only or None)))
            mounts.append(VolumeMount(name=mount.volume, mountPath=mount.target, readOnly=mount.read_only or None))
        for index, config in enumerate(service.configs):
            name, keys = self.config_map(config.source)
            volume_name = f"config-{index}"
            volumes.append(Volume(name=volume_name, configMap=ConfigMapVolumeSource(name=name)))
            is_file = (self.settings.root / config.source).is_file()
            mounts.append(VolumeMount(name=volume_name, mountPath=config.target, readOnly=True,
                                      subPath=keys[0] if is_file else None))
        if service.secrets:
            projections = [VolumeProjection(secret=SecretProjection(
                name=secret_object_name(s), items=[KeyToPath(key=s, path=s, mode=0o400)])) for s in service.secrets]
            volumes.append(Volume(name="secrets", projected=ProjectedVolumeSource(sources=projections, defaultMode=0o400)))
            mounts.append(VolumeMount(name="secrets", mountPath=SECRETS_DIR, readOnly=True))
        return volumes, mounts

    def volume_init(self, service: Service) -> Any | None:
        """Docker fills a fresh named volume with the image's content at its mount path (and its owner);
        Kubernetes does not. This initContainer does the same once: it mounts each writable volume aside,
        and copies the image's path into it only while the volume is empty."""
        from lightkube.models.core_v1 import Capabilities, Container, SecurityContext, VolumeMount

        writable = [m for m in service.mounts if not m.read_only]
        if not writable:
            return None
        steps = []
        for mount in writable:
            source, target = shlex.quote(mount.target), shlex.quote(f"{VOLUME_INIT_ROOT}/{mount.volume}")
            # "empty" as a fresh ext4 volume is: nothing but lost+found
            steps.append(f'if [ -d {source} ] && [ -z "$(ls -A {target} | grep -vx lost+found)" ]; then cp -a {source}/. {target}/; '
                         f"chown --reference={source} {target}; chmod --reference={source} {target}; fi")
        return Container(
            name="volume-init", image=self.image(service.name), imagePullPolicy="IfNotPresent",
            command=["sh", "-c", "set -e; " + "; ".join(steps)],
            securityContext=SecurityContext(runAsUser=0, allowPrivilegeEscalation=False,
                                            capabilities=Capabilities(drop=["ALL"], add=HELPER_CAPABILITIES)),
            volumeMounts=[VolumeMount(name=m.volume, mountPath=f"{VOLUME_INIT_ROOT}/{m.volume}") for m in writable],
        )

    def container(self, unit: Service, name: str, mounts: list[Any], with_probes: bool) -> Any:
        from lightkube.models.core_v1 import Container, ContainerPort, EnvVar

        return Container(
            name=name,
            image=self.image(unit.name),
            imagePullPolicy="IfNotPresent",
            command=unit.entrypoint,
            args=unit.command,
            env=[EnvVar(name=k, value=v) for k, v in unit.env.items()] or None,
            ports=[ContainerPort(containerPort=p.container, name=port_name(p.container, p.name)) for p in unit.ports] or None,
            volumeMounts=mounts or None,
            resources=resources_for(unit),
            securityContext=security_context(unit),
            **(probes_for(unit.probe) if with_probes else ContainerProbes()),
        )

    def pod(self, service: Service) -> Any:
        from lightkube.models.core_v1 import PodSpec, PodTemplateSpec
        from lightkube.models.meta_v1 import ObjectMeta

        volumes, mounts = self.pod_volumes(service)
        init_containers = [c for c in [self.volume_init(service)] if c is not None]
        for job in service.init_jobs:
            job_unit = self.stack.units[f"{service.name}-{job.name}"]
            init_containers.append(self.container(job_unit, k8s_name(job.name), mounts, with_probes=False))
        spec = PodSpec(
            containers=[self.container(service, service.name, mounts, with_probes=True)],
            initContainers=init_containers or None,
            volumes=volumes or None,
            nodeSelector=dict(service.placement.node_labels) if service.placement and service.placement.node_labels else None,
            terminationGracePeriodSeconds=service.stop_timeout_s,
            restartPolicy="Never" if service.one_shot else None,
        )
        return PodTemplateSpec(metadata=ObjectMeta(labels=self.labels(service.name)), spec=spec)

    def claim(self, volume: str, shared: bool) -> Any:
        from lightkube.models.core_v1 import PersistentVolumeClaimSpec, VolumeResourceRequirements

        return PersistentVolumeClaimSpec(accessModes=["ReadWriteMany" if shared else "ReadWriteOnce"],
                                         resources=VolumeResourceRequirements(requests={"storage": self.storage}))

    def volume_labels(self, volume: str) -> dict[str, str]:
        return {K8S_VOLUME: volume, K8S_PRIORITY: self.priorities[volume].value}

    # -- objects -----------------------------------------------------------------------------------
    def render(self) -> Manifests:
        from lightkube.resources.core_v1 import Namespace, PersistentVolumeClaim

        self.manifests.add("namespace.yaml", Namespace(metadata=self.metadata(self.namespace)))
        for volume, users in self.mounted_by.items():
            if not any(self.own_claim(u, volume) for u in users):
                shared = len(users) > 1 or any(u.scale for u in users)
                self.manifests.add("volumes.yaml", PersistentVolumeClaim(
                    metadata=self.metadata(volume, **self.volume_labels(volume)), spec=self.claim(volume, shared)))
        for service in self.services:
            file = f"{service.name}.yaml"
            if service.one_shot:
                self.manifests.add(file, self.job(service))
                continue
            stateful = writes_state(service, self.priorities)
            if service.ports or stateful:  # a StatefulSet needs a Service to govern it, even a headless one
                self.manifests.add(file, self.service_object(service))
            self.manifests.add(file, self.workload(service))
        return self.manifests

    def service_object(self, service: Service) -> Any:
        from lightkube.models.core_v1 import ServicePort, ServiceSpec
        from lightkube.resources.core_v1 import Service as K8sService

        ports = [ServicePort(name=port_name(p.container, p.name), port=p.container, targetPort=p.container)
                 for p in service.ports]
        spec = ServiceSpec(selector=self.labels(service.name), ports=ports or None,
                           clusterIP=None if ports else "None")
        return K8sService(metadata=self.metadata(service.name, service.name), spec=spec)

    def workload(self, service: Service) -> Any:
        from lightkube.models.apps_v1 import DeploymentSpec, DeploymentStrategy, StatefulSetSpec
        from lightkube.models.core_v1 import PersistentVolumeClaim as ClaimTemplate
        from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
        from lightkube.resources.apps_v1 import Deployment, StatefulSet

        selector = LabelSelector(matchLabels=self.labels(service.name))
        metadata = self.metadata(service.name, service.name)
        if writes_state(service, self.priorities):
            templates = [ClaimTemplate(metadata=ObjectMeta(name=m.volume, labels=self.volume_labels(m.volume)),
                                        spec=self.claim(m.volume, shared=False))
                         for m in service.mounts if self.own_claim(service, m.volume)]
            return StatefulSet(metadata=metadata, spec=StatefulSetSpec(
                serviceName=service.name, replicas=1, selector=selector, template=self.pod(service),
                volumeClaimTemplates=templates or None))
        # A ReadWriteOnce claim cannot be held by the old and the new pod at once: replace, don't surge.
        single_claim = any(len(self.mounted_by[m.volume]) == 1 and not service.scale for m in service.mounts)
        return Deployment(metadata=metadata, spec=DeploymentSpec(
            replicas=self.replicas(service), selector=selector, template=self.pod(service),
            strategy=DeploymentStrategy(type="Recreate") if single_claim else None))

    def job(self, service: Service) -> Any:
        from lightkube.models.batch_v1 import JobSpec
        from lightkube.resources.batch_v1 import Job

        return Job(metadata=self.metadata(service.name, service.name),
                   spec=JobSpec(template=self.pod(service), backoffLimit=3,
                                activeDeadlineSeconds=int(service.budget_s)))


def port_name(port: int, name: str) -> str:
    """Kubernetes port names are at most 15 characters of [a-z0-9-]."""
    cleaned = k8s_name(name)
    return cleaned if cleaned and len(cleaned) <= 15 and re.search("[a-z]", cleaned) else f"tcp-{port}"


def security_context(unit: Service) -> Any:
    """No privilege escalation, every capability dropped but those the service lists; a numeric `user`
    (uid or uid:gid) as runAsUser/runAsGroup (Kubernetes cannot resolve user names: a name leaves the
    image's own USER to apply, as it does when the name matches it)."""
    from lightkube.models.core_v1 import Capabilities, SecurityContext

    uid, _, gid = (unit.user or "").partition(":")
    numeric = uid.isdigit() and (not gid or gid.isdigit())
    return SecurityContext(
        allowPrivilegeEscalation=False,
        capabilities=Capabilities(drop=["ALL"], add=list(unit.capabilities) or None),
        runAsUser=int(uid) if numeric else None, runAsGroup=int(gid) if numeric and gid else None)


def render_k8s(resolved: ResolvedStack, image_registry: str | None = None, storage: str = DEFAULT_STORAGE) -> Manifests:
    return Renderer(resolved, image_registry, storage).render()


def secret_commands(stack: Stack, settings: Settings, secret_path: Any) -> str:
    """The one step that puts secret values into a cluster: kubectl reads each file; nothing is printed."""
    namespace = k8s_name(settings.project)
    used = sorted({s for unit in stack.units.values() for s in unit.secrets})
    lines = [
        "#!/bin/sh",
        f"# Secrets of {settings.project}: kubectl reads each value from its file; the manifests only name them.",
        "set -e",
        f"kubectl create namespace {shlex.quote(namespace)} --dry-run=client -o yaml | kubectl apply -f -",
    ]
    for name in used:
        path = shlex.quote(f"{name}={secret_path(name)}")
        lines.append(f"kubectl -n {shlex.quote(namespace)} create secret generic {secret_object_name(name)} "
                     f"--from-file={path} --dry-run=client -o yaml | kubectl apply -f -")
    return "\n".join(lines) + "\n"
