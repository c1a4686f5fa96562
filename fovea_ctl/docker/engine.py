"""The only module that talks to the Docker engine.

Reads (listings, inspects, ping) go over the standard-library client (`engine_api.DockerSocket`);
writes, streams and exec through the docker SDK's low-level client, which is also the fallback for engine
addresses the socket client does not speak (ssh, TLS). Answers come back as the typed views of
`fovea_ctl.docker.views`, so the rest of fovea never parses engine JSON.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from fovea_ctl.docker.container_spec import ContainerSpec, container_create_args, helper_host_config
from fovea_ctl.docker.engine_api import (
    DockerSocket,
    EngineNotFound,
    UnsupportedEngineAddress,
    filters_param,
    label_filter,
)
from fovea_ctl.docker.exec_stream import ExecStream
from fovea_ctl.docker.labels import (
    COMPOSE_VOLUME,
    LABEL_HELPER_OF,
    LABEL_PRIORITY,
    LABEL_PROJECT,
    LABEL_VOLUME,
    project_labels,
)
from fovea_ctl.docker.sdk import import_docker_sdk
from fovea_ctl.docker.stream import STDERR, demultiplex
from fovea_ctl.docker.views import (
    ContainerDetails,
    ContainerStats,
    ContainerView,
    ImageView,
    NetworkView,
    VolumeView,
    container_details,
    container_from_listing,
    image_from_listing,
    network_from_listing,
    stats_from_sample,
    volumes_from_listing,
)
from fovea_ctl.errors import EngineError, EngineUnreachable

if TYPE_CHECKING:
    import docker

    from fovea_ctl.model import Volume

SwarmKind = Literal["nodes", "services", "tasks", "secrets", "configs"]


def create_stack_volume(engine: Engine, project: str, engine_name: str, volume: Volume) -> None:
    """The one way a stack volume is made (`up`, `restore`, `models import`): same labels, compose's included."""
    engine.create_volume(engine_name, {**project_labels(project), LABEL_VOLUME: volume.name,
                                       LABEL_PRIORITY: volume.priority.value, COMPOSE_VOLUME: volume.name})


class Engine:
    """A connection to one Docker engine."""

    def __init__(self, base_url: str | None = None, timeout_s: int = 120) -> None:
        self.base_url = base_url
        self.address = base_url or "the default socket"
        self.timeout_s = timeout_s
        # Called before every write to the engine (see `Project.writing`): a project's engine refuses
        # writes from a process that does not hold that project's lock.
        self.write_guard: Callable[[str], None] | None = None
        # Reads (listings, inspects, ping) go over the socket directly: a converged `up` or `plan`
        # then never imports the docker SDK and requests. Writes, streams and exec use the SDK.
        try:
            self.wire: DockerSocket | None = DockerSocket(base_url, timeout_s)
        except UnsupportedEngineAddress:
            self.wire = None
        if self.wire is not None:
            self.wire.call("GET", "/_ping")
        else:
            self.api  # noqa: B018 - connects (and pings) now, so an unreachable engine fails here

    @cached_property
    def api(self) -> docker.APIClient:
        sdk = import_docker_sdk()
        from docker.errors import DockerException

        try:
            api: docker.APIClient
            if self.base_url:
                api = sdk.APIClient(base_url=self.base_url, timeout=self.timeout_s)
            else:
                api = sdk.APIClient(timeout=self.timeout_s, **sdk.utils.kwargs_from_env())
            api.ping()
        except (DockerException, OSError) as exc:
            where = self.base_url or "the default socket (DOCKER_HOST or /var/run/docker.sock)"
            raise EngineUnreachable(
                f"Docker engine unreachable at {where}: {exc.__class__.__name__}",
                hint="start dockerd (or set FOVEA_DOCKER_HOST), then retry",
            ) from None
        return api

    def _read(self, path: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        """GET `path` over the socket, or the same read through the SDK where wire cannot reach the engine."""
        if self.wire is not None:
            return self.wire.get_json(path)
        return self._call(getattr(self.api, method), *args, **kwargs)

    # -- listings -----------------------------------------------------------------------------
    def list_containers(self, project: str) -> list[ContainerView]:
        return self.containers_labelled(f"{LABEL_PROJECT}={project}")

    def list_helpers(self, project: str) -> list[ContainerView]:
        """The project's throwaway helpers (`run_helper`) that still exist: each command removes its own, so what is
        listed here outside a running command was left by one that was killed (SIGKILL leaves no `finally`)."""
        return self.containers_labelled(f"{LABEL_HELPER_OF}={project}")

    def containers_labelled(self, *labels: str, running_only: bool = False) -> list[ContainerView]:
        """Containers carrying every one of `labels` (KEY or KEY=VALUE); stopped ones too unless `running_only`."""
        if self.wire is not None:
            return self.wire.containers_labelled(*labels, running_only=running_only)
        raw = self._call(self.api.containers, all=not running_only, filters={"label": list(labels)})
        return [container_from_listing(c) for c in raw]

    def list_volumes(self, project: str) -> list[VolumeView]:
        label = f"{LABEL_PROJECT}={project}"
        return volumes_from_listing(self._read(f"/volumes?filters={label_filter(label)}", "volumes",
                                               filters={"label": label}))

    def list_networks(self, project: str) -> list[NetworkView]:
        return self.networks_labelled(f"{LABEL_PROJECT}={project}")

    def networks_labelled(self, label: str) -> list[NetworkView]:
        raw = self._read(f"/networks?filters={label_filter(label)}", "networks", filters={"label": label})
        return [network_from_listing(n) for n in raw]

    def inspect_container(self, container_id: str) -> ContainerDetails:
        if self.wire is not None:
            return self.wire.inspect_container(container_id)
        return container_details(self.inspect_raw(container_id))

    def inspect_raw(self, container_id: str) -> dict[str, Any]:
        raw: dict[str, Any] = self._read(f"/containers/{container_id}/json", "inspect_container", container_id)
        return raw

    def image_id(self, ref: str) -> str | None:
        image = self.inspect_image(ref)
        return image["Id"] if image else None

    def image_size(self, ref: str) -> int | None:
        """Bytes the image's layers take (what `docker images` shows), or None when it is absent."""
        image = self.inspect_image(ref)
        return int(image.get("Size") or 0) if image else None

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        image: dict[str, Any]
        if self.wire is not None:
            try:
                image = self.wire.get_json(f"/images/{ref}/json")
            except EngineNotFound:
                return None
            return image
        import_docker_sdk()
        from docker.errors import ImageNotFound, NotFound

        try:
            image = self.api.inspect_image(ref)  # type: ignore[no-untyped-call]  # typeshed's stub leaves it unannotated
            return image
        except (ImageNotFound, NotFound):
            return None

    def list_all_containers(self) -> list[ContainerView]:
        """Every container on the engine, of any project or none: what an image prune must not pull from under."""
        return [container_from_listing(c) for c in self._read("/containers/json?all=1", "containers", all=True)]

    def list_images(self, label: str) -> list[ImageView]:
        """Images carrying `label` (KEY or KEY=VALUE), with the bytes each holds alone."""
        raw = self._read(f"/images/json?shared-size=1&filters={label_filter(label)}", "images",
                         filters={"label": label})
        return [image_from_listing(i) for i in raw]

    def remove_image(self, ref: str) -> None:
        """Untag `ref` (the image goes with its last tag). Images are not project state: no project lock."""
        self._call(self.api.remove_image, ref, noprune=False)

    def stats(self, container_id: str) -> ContainerStats:
        """One sample (the engine waits for a second reading, about a second, to compute the CPU delta)."""
        return stats_from_sample(self._read(f"/containers/{container_id}/stats?stream=false", "stats",
                                            container_id, stream=False))

    def volume_sizes(self) -> dict[str, int]:
        """Bytes used by each volume on the engine (the engine walks them: slow on a big volume)."""
        raw = self._read("/system/df?type=volume", "df")
        return {v["Name"]: int((v.get("UsageData") or {}).get("Size", -1)) for v in raw.get("Volumes") or []}

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self._read("/info", "info")
        return info

    @cached_property
    def cpu_count(self) -> int:
        return int(self.info().get("NCPU") or 1)

    def version(self) -> dict[str, Any]:
        version: dict[str, Any] = self._read("/version", "version")
        return version

    def is_local_socket(self) -> bool:
        """Whether the engine is reached over a unix socket on this machine, so host paths could be bind-mounted.

        Only a hint: an engine behind a forwarded socket (a socket mounted into a container) sees another
        filesystem; callers that bind-mount a host path must still check that the container sees it.
        """
        if self.wire is not None:
            return self.wire.family == socket.AF_UNIX
        return str(getattr(self.api, "base_url", "")) == "http+docker://localhost"

    # -- writes (each is one engine call) ----------------------------------------------------------
    def guard_write(self, what: str) -> None:
        if self.write_guard is not None:
            self.write_guard(what)

    def create_network(self, name: str, labels: dict[str, str], *, overlay: bool = False) -> str:
        """A bridge network on this engine, or (`overlay`) a Swarm overlay network only services attach to."""
        self.guard_write(f"create network {name}")
        if overlay:
            return str(self._call(self.api.create_network, name, driver="overlay", attachable=False,
                                  labels=labels)["Id"])
        return str(self._call(self.api.create_network, name, driver="bridge", labels=labels)["Id"])

    def remove_network(self, name: str) -> None:
        self.guard_write(f"remove network {name}")
        self._call(self.api.remove_network, name)

    # -- Swarm objects (`fovea_ctl.docker.swarm` reads the listings into its views) ---------------------------
    def swarm_objects(self, kind: SwarmKind, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """The engine's listing of one kind of Swarm object, those matching `filters` (e.g. {"label": [...]})."""
        query = f"?filters={filters_param(filters)}" if filters else ""
        listed: list[dict[str, Any]] = self._read(f"/{kind}{query}", kind, filters=filters)
        return listed

    def create_secret(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.guard_write(f"create secret {name}")
        return str(self._call(self.api.create_secret, name, data, labels=labels)["ID"])

    def create_config(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.guard_write(f"create config {name}")
        return str(self._call(self.api.create_config, name, data, labels=labels)["ID"])

    def remove_secret(self, secret_id: str) -> None:
        self.guard_write(f"remove secret {secret_id[:12]}")
        self._call(self.api.remove_secret, secret_id)

    def remove_config(self, config_id: str) -> None:
        self.guard_write(f"remove config {config_id[:12]}")
        self._call(self.api.remove_config, config_id)

    def create_service(self, spec: dict[str, Any]) -> str:
        """`spec`: the SDK's `create_service` arguments (task_template, name, labels, mode, ...)."""
        self.guard_write("create a service")
        return str(self._call(self.api.create_service, **spec)["ID"])

    def update_service(self, service_id: str, name: str, version: int, spec: dict[str, Any]) -> None:
        """Replace the service's spec; `version` is the one it was read at (the engine refuses a stale one)."""
        self.guard_write(f"update service {name}")
        self._call(self.api.update_service, service_id, version, **spec)

    def remove_service(self, service_id: str) -> None:
        self.guard_write(f"remove service {service_id[:12]}")
        self._call(self.api.remove_service, service_id)

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self.guard_write(f"create volume {name}")
        self._call(self.api.create_volume, name=name, driver="local", labels=labels)

    def remove_volume(self, name: str) -> None:
        self.guard_write(f"remove volume {name}")
        self._call(self.api.remove_volume, name)

    def create_container(self, spec: ContainerSpec) -> str:
        self.guard_write(f"create container {spec.name}")
        created = self._call(self.api.create_container, **container_create_args(self.api, spec, lambda: self.cpu_count))
        return str(created["Id"])

    def start_container(self, container_id: str) -> None:
        self.guard_write(f"start container {container_id[:12]}")
        self._call(self.api.start, container_id)

    def stop_container(self, container_id: str, timeout_s: int) -> None:
        self.guard_write(f"stop container {container_id[:12]}")
        self._call(self.api.stop, container_id, timeout=timeout_s)

    def remove_container(self, container_id: str) -> None:
        self.guard_write(f"remove container {container_id[:12]}")
        self._call(self.api.remove_container, container_id, force=True)

    def remove_helper(self, container_id: str) -> None:
        """Remove a throwaway helper (`run_helper`): it held no project state, so no lock is needed."""
        self._call(self.api.remove_container, container_id, force=True)

    def logs(
        self,
        container_id: str,
        *,
        tail: int | str = "all",
        follow: bool = False,
        timestamps: bool = False,
        since: datetime | int | None = None,
        until: datetime | int | None = None,
    ) -> Iterator[tuple[str, bytes]]:
        """(stream, line) pairs; the stream is 'stdout' or 'stderr'."""
        params = {
            "stdout": 1,
            "stderr": 1,
            "follow": 1 if follow else 0,
            "timestamps": 1 if timestamps else 0,
            "tail": str(tail),
        }
        if since is not None:
            params["since"] = int(since.timestamp()) if isinstance(since, datetime) else since
        if until is not None:
            params["until"] = int(until.timestamp()) if isinstance(until, datetime) else until
        # The SDK's own private request helpers (the stubs leave them out): `logs` must read the raw multiplexed stream.
        url = self.api._url("/containers/{0}/logs", container_id)  # type: ignore[attr-defined]  # private SDK helper
        response = self.api._get(url, params=params, stream=True,  # type: ignore[attr-defined]  # private SDK helper
                                 timeout=None if follow else 60)
        self.api._raise_for_status(response)  # type: ignore[attr-defined]  # private SDK helper
        pending = {"stdout": b"", "stderr": b""}
        for stream_id, chunk in demultiplex(response.raw.read):
            stream = "stderr" if stream_id == STDERR else "stdout"
            data = pending[stream] + chunk
            *lines, pending[stream] = data.split(b"\n")
            for line in lines:
                yield stream, line
        for stream, rest in pending.items():
            if rest:
                yield stream, rest

    def log_tail(self, container_id: str, lines: int = 20) -> list[str]:
        try:
            return [line.decode(errors="replace") for _, line in self.logs(container_id, tail=lines)]
        except Exception as exc:  # the tail is context for another error; never mask that error
            return [f"(logs unavailable: {exc})"]

    def exec(self, container_id: str, command: list[str], *, user: str | None = None) -> tuple[int, bytes]:
        exec_id = self._call(self.api.exec_create, container_id, command, user=user or "", stdout=True, stderr=True)
        output = self._call(self.api.exec_start, exec_id["Id"])
        return self.exec_exit_code(exec_id["Id"]), output

    def exec_exit_code(self, exec_id: str) -> int:
        """The exit code of a finished exec; -1 when the engine has none (the command never ran to an end)."""
        code = self._call(self.api.exec_inspect, exec_id).get("ExitCode")
        return int(code if code is not None else -1)

    def exec_attached(self, client: str, container_id: str, command: list[str], *, tty: bool,
                      user: str | None = None) -> int:
        """Run `command` in the container with this process's stdin, stdout and stderr attached (and a
        TTY when asked); the command's exit code.

        Through the docker CLI (`client`), not the API: attaching a terminal is raw mode, window
        resizes and signal forwarding, which the CLI does and the SDK does not.
        """
        import os
        import subprocess

        argv = [client, "exec", "--interactive", *(["--tty"] if tty else []),
                *(["--user", user] if user else []), container_id, *command]
        env = {**os.environ, **({"DOCKER_HOST": self.base_url} if self.base_url else {})}
        return subprocess.call(argv, env=env)

    def read_file(self, container_id: str, path: str) -> bytes:
        """One file's bytes out of a container (the engine hands it over as a tar stream)."""
        import io
        import tarfile

        stream, _ = self._call(self.api.get_archive, container_id, path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member else None
            if extracted is None:
                raise EngineError(f"{path} in the container is not a regular file")
            return extracted.read()

    def put_archive(self, container_id: str, path: str, archive: Any) -> None:
        """Unpack a tar stream (bytes or a file object) at `path` inside the container."""
        self.guard_write(f"unpack an archive into {path} of {container_id[:12]}")
        if not self._call(self.api.put_archive, container_id, path, archive):
            raise EngineError(f"engine refused to unpack an archive at {path}")

    def run_helper(self, name: str, image: str, labels: dict[str, str], *,
                   volume_mounts: list[tuple[str, str, bool]] | None = None,
                   bind_mounts: list[tuple[str, str, bool]] | None = None) -> str:
        """A throwaway container that idles so commands can be exec'd in it: no network, no ports, no
        log (streams go over exec, never through a log driver), root; removed with `remove_helper`. One that
        mounts a volume read-write changes the project: only under its lock."""
        if any(not read_only for _, _, read_only in volume_mounts or []):
            self.guard_write(f"run a helper writing to {', '.join(v for v, _, ro in volume_mounts or [] if not ro)}")
        host_config = helper_host_config(self.api, volume_mounts or [], bind_mounts or [])
        created = self._call(self.api.create_container, image=image, name=name, labels=labels,
                             entrypoint=["sleep", "infinity"], command=[], user="0",
                             host_config=host_config, network_disabled=True, detach=True)
        try:
            self._call(self.api.start, created["Id"])
        except BaseException:
            self._call(self.api.remove_container, created["Id"], force=True)
            raise
        return str(created["Id"])

    def exec_stream(self, container_id: str, command: list[str], *, user: str | None = None,
                    stdin: Iterator[bytes] | None = None, chunk_size: int = 1 << 20) -> ExecStream:
        """Run `command`, streaming its stdout (and feeding `stdin`) over the exec connection.

        Exec streams never touch the container's log driver, so gigabytes pass at socket speed.
        """
        exec_id = self._call(self.api.exec_create, container_id, command, user=user or "",
                             stdout=True, stderr=True, stdin=stdin is not None)["Id"]
        sock = self._call(self.api.exec_start, exec_id, socket=True)
        return ExecStream(self, exec_id, sock, stdin, chunk_size)

    def import_image(self, tar_path: str, repository: str, tag: str, changes: list[str]) -> None:
        self._call(self.api.import_image_from_file, tar_path, repository=repository, tag=tag, changes=changes)

    def pull(self, ref: str) -> None:
        repository, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")
        for _ in self._call(self.api.pull, repository, tag=tag, stream=True, decode=True):
            pass

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        import_docker_sdk()
        from docker.errors import APIError, DockerException
        from requests.exceptions import ConnectionError as RequestsConnectionError

        try:
            return method(*args, **kwargs)
        except RequestsConnectionError as exc:
            import re

            reason = re.search(r"\[Errno \d+\] ([^'\")]+)", str(exc))
            raise EngineUnreachable(
                f"Docker engine at {self.address} stopped answering "
                f"({reason.group(1).strip() if reason else exc.__class__.__name__})") from None
        except APIError as exc:
            raise EngineError(f"engine refused {method.__name__}: {exc.explanation or exc}") from exc
        except DockerException as exc:
            raise EngineError(f"engine call {method.__name__} failed: {exc}") from exc
