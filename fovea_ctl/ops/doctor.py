"""`fovea doctor`: what must hold on this machine for the stack to build, run and be backed up, one
check per line with ✓/✗ and, for a ✗, the fix.

Each check is a function of the project returning a `Check`; none changes anything. A check that cannot
run (the engine is unreachable) fails with that reason instead of hiding behind the first failure.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from fovea_ctl.errors import FoveaError

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project

MIN_API_VERSION = (1, 41)  # Docker 20.10: the oldest engine fovea is tested against (`docker version`)
MAX_CLOCK_SKEW_S = 5.0  # backups, certificates and log timestamps compare host and engine times
DISK_MARGIN_BYTES = 1 << 30  # beyond the estimate: builds' scratch space, logs
IMAGE_ESTIMATE_BYTES = 1 << 30  # an image never built here before (most of fovea's are 0.2-1 GB)


class Check(BaseModel):
    name: str
    ok: bool
    detail: str
    fix: str = ""


class DoctorReport(BaseModel):
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def check_engine(project: Project) -> Check:
    version = project.engine.version()
    api = str(version.get("ApiVersion", "0"))
    where = project.settings.docker_host or "the default socket"
    detail = f"Docker Engine {version.get('Version', '?')} (API {api}) at {where}"
    if _version_tuple(api) < MIN_API_VERSION:
        return Check(name="engine", ok=False, detail=detail + f"; fovea needs API {'.'.join(map(str, MIN_API_VERSION))}+",
                     fix="upgrade Docker Engine to 20.10 or newer")
    return Check(name="engine", ok=True, detail=detail)


def _client(project: Project) -> str:
    from fovea_ctl.images import buildkit_client

    return buildkit_client(project.settings)


def _client_env(project: Project, **extra: str) -> dict[str, str]:
    """The client's environment: the engine fovea is configured for, not whatever DOCKER_HOST says (even
    `buildx version` and `build --help` call the engine)."""
    return {**os.environ, **({"DOCKER_HOST": project.settings.docker_host} if project.settings.docker_host else {}),
            **extra}


def check_client(project: Project) -> Check:
    client = _client(project)
    answer = subprocess.run([client, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True,
                            timeout=30, env=_client_env(project))
    version = answer.stdout.strip().splitlines()[0] if answer.stdout.strip() else ""
    if not version:
        return Check(name="client", ok=False, detail=f"{client} does not answer `version`: {answer.stderr.strip()[-200:]}",
                     fix="install Debian's docker.io or set FOVEA_DOCKER_CLI to a working docker client")
    return Check(name="client", ok=True, detail=f"docker client {version} ({client})")


def check_buildkit(project: Project) -> Check:
    """fovea builds with RUN --mount and build secrets: BuildKit, through buildx or the client's built-in one."""
    client = _client(project)
    buildx = subprocess.run([client, "buildx", "version"], capture_output=True, text=True, timeout=30,
                            env=_client_env(project))
    if buildx.returncode == 0:
        return Check(name="buildkit", ok=True, detail=f"buildx {buildx.stdout.split()[1] if buildx.stdout.split()[1:] else ''}".strip())
    built_in = subprocess.run([client, "build", "--help"], capture_output=True, text=True, timeout=30,
                              env=_client_env(project, DOCKER_BUILDKIT="1"))
    if "--secret" in built_in.stdout:
        return Check(name="buildkit", ok=True, detail=f"built into {client} (DOCKER_BUILDKIT=1)")
    return Check(name="buildkit", ok=False, detail=f"{client} has neither buildx nor a built-in BuildKit",
                 fix="install docker-buildx (or Debian's docker.io), or set FOVEA_DOCKER_CLI to a client with BuildKit")


def check_images(project: Project) -> Check:
    resolved = project.resolver().resolve_stack(project.stack)
    missing = sorted({image.ref for image in resolved.values() if image.missing})
    if missing:
        return Check(name="images", ok=False, detail=f"{len(missing)} of {len({i.ref for i in resolved.values()})} "
                     f"missing: {', '.join(missing)}", fix="`fovea images build` (or `fovea up`, which builds them first)")
    return Check(name="images", ok=True, detail=f"all {len({i.ref for i in resolved.values()})} present")


def _free_bytes(path: Path) -> int | None:
    try:
        found = path
        while not found.exists():
            found = found.parent
        usage = shutil.disk_usage(found)
        return usage.free
    except OSError:
        return None


def check_disk(project: Project) -> Check:
    """Free space where images live against the images still to build, and where backups go against
    what a backup of this project's critical and important volumes copies (uncompressed: an upper bound)."""
    from fovea_ctl.data.backup import backup_root
    from fovea_ctl.core.transfer_progress import human
    from fovea_ctl.docker.labels import LABEL_PRIORITY, LABEL_RECIPE
    from fovea_ctl.model import Priority

    problems: list[str] = []
    notes: list[str] = []
    resolved = project.resolver().resolve_stack(project.stack)
    missing = {image.ref: image for image in resolved.values() if image.missing}
    sizes_by_recipe: dict[str, int] = {}
    for image in project.engine.list_images(LABEL_RECIPE):
        recipe = image.labels.get(LABEL_RECIPE, "")
        sizes_by_recipe[recipe] = max(sizes_by_recipe.get(recipe, 0), image.size)
    images_need = sum(sizes_by_recipe.get(image.recipe.name if image.recipe else "", IMAGE_ESTIMATE_BYTES)
                      for image in missing.values())
    data_root = Path(str(project.engine.info().get("DockerRootDir") or "/var/lib/docker"))
    engine_free = _free_bytes(data_root) if project.engine.is_local_socket() else None
    if engine_free is None:
        notes.append("engine's disk not visible from here (remote engine)")
    else:
        notes.append(f"{human(engine_free)} free at {data_root}")
        if engine_free < images_need + DISK_MARGIN_BYTES:
            problems.append(f"{data_root} has {human(engine_free)} free; building the {len(missing)} missing images "
                            f"needs about {human(images_need + DISK_MARGIN_BYTES)}")
    volume_sizes = project.engine.volume_sizes()
    to_copy = sum(max(0, volume_sizes.get(name, 0)) for name, volume in project.observe().volumes.items()
                  if volume.labels.get(LABEL_PRIORITY, Priority.CRITICAL.value) != Priority.RECREATABLE.value)
    backups = backup_root(project)
    backup_free = _free_bytes(backups)
    if backup_free is not None:
        notes.append(f"{human(backup_free)} free for backups at {backups} (a backup copies at most {human(to_copy)})")
        if backup_free < to_copy + DISK_MARGIN_BYTES // 4:
            problems.append(f"{backups} has {human(backup_free)} free; a backup of the critical and important "
                            f"volumes copies up to {human(to_copy)}")
    if problems:
        return Check(name="disk", ok=False, detail="; ".join(problems),
                     fix="free space (`fovea images prune`, `fovea backup prune --keep N`) or back up elsewhere with --to")
    return Check(name="disk", ok=True, detail="; ".join(notes))


def check_ports(project: Project) -> Check:
    from fovea_ctl.reconcile.apply import host_port_taken

    held = {port for c in project.observe().containers.values() if c.running for port in c.ports.values()}
    taken: list[str] = []
    ports: list[int] = []
    for unit in project.stack.units.values():
        for port in project.stack.published_ports(unit):
            host = project.stack.host_port(port)
            ports.append(host)
            if host not in held and host_port_taken(host):
                taken.append(f"{host} ({unit.name})")
    if taken:
        return Check(name="ports", ok=False, detail=f"taken by another process: {', '.join(taken)}",
                     fix="stop what listens there, or move every port with FOVEA_PORT_BASE=N")
    return Check(name="ports", ok=True, detail=f"{len(ports)} ports free or this project's (base {project.stack.port_base})")


def check_secret_files(project: Project) -> Check:
    """The secrets folder 0700 and each secret file 0600, both this user's: anyone else who can read one
    holds the database, the sessions or the admin login."""
    directory = project.settings.effective_secrets_dir
    if not directory.exists():
        return Check(name="secrets", ok=True, detail=f"{directory} not made yet (`fovea up` generates the secrets 0600)")
    problems: list[str] = []
    uid = os.getuid()
    info = directory.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        problems.append(f"{directory} is not a plain folder")
    else:
        if info.st_mode & 0o077:
            problems.append(f"{directory} is {oct(info.st_mode & 0o777)}")
        if info.st_uid != uid:
            problems.append(f"{directory} belongs to uid {info.st_uid}")
        for entry in sorted(directory.iterdir()):
            entry_info = entry.lstat()
            if stat.S_ISREG(entry_info.st_mode) and (entry_info.st_mode & 0o077 or entry_info.st_uid != uid):
                problems.append(f"{entry.name} is {oct(entry_info.st_mode & 0o777)} (uid {entry_info.st_uid})")
    if problems:
        return Check(name="secrets", ok=False, detail="; ".join(problems),
                     fix=f"chmod 700 {directory} && chmod 600 {directory}/*, owned by you (chown)")
    return Check(name="secrets", ok=True, detail=f"{directory}: folder 0700, files 0600, yours")


def check_gpu(project: Project) -> Check:
    runtimes = sorted((project.engine.info().get("Runtimes") or {}).keys())
    has_nvidia = "nvidia" in runtimes
    gpu_services = sorted(s.name for s in project.stack.services if s.gpu)
    if project.settings.gpu and not has_nvidia:
        return Check(name="gpu", ok=False, detail=f"FOVEA_GPU is set but the engine has no NVIDIA runtime "
                     f"(runtimes: {', '.join(runtimes)}); `up` falls back to the CPU variant",
                     fix="install nvidia-container-toolkit, `nvidia-ctk runtime configure`, restart dockerd")
    wanted = "asked for (FOVEA_GPU)" if project.settings.gpu else "not asked for (CPU variant)"
    present = "NVIDIA runtime present" if has_nvidia else "no NVIDIA runtime"
    return Check(name="gpu", ok=True, detail=f"{wanted}; {present}" + (f"; GPU-capable: {', '.join(gpu_services)}"
                                                                       if gpu_services else ""))


def check_clock(project: Project) -> Check:
    from fovea_ctl.docker.views import parse_engine_time

    before = time.time()
    engine_time = parse_engine_time(str(project.engine.info().get("SystemTime") or ""))
    after = time.time()
    if engine_time is None:
        return Check(name="clock", ok=False, detail="the engine reports no time", fix="check the engine host's clock")
    skew = engine_time - (before + after) / 2
    detail = f"engine and this host agree within {abs(skew):.1f} s"
    if abs(skew) > MAX_CLOCK_SKEW_S:
        return Check(name="clock", ok=False, detail=f"engine clock is {skew:+.1f} s from this host's",
                     fix="enable time sync (`timedatectl set-ntp true`) on both")
    return Check(name="clock", ok=True, detail=detail)


CHECKS: list[tuple[str, Callable[[Project], Check]]] = [
    ("engine", check_engine), ("client", check_client), ("buildkit", check_buildkit), ("disk", check_disk),
    ("ports", check_ports), ("secrets", check_secret_files), ("images", check_images), ("gpu", check_gpu),
    ("clock", check_clock),
]


def run_doctor(project: Project) -> DoctorReport:
    """Every check, in order; an engine that does not answer fails the checks that need it, each saying so."""
    checks: list[Check] = []
    for name, check in CHECKS:
        try:
            checks.append(check(project))
        except FoveaError as exc:
            checks.append(Check(name=name, ok=False, detail=exc.message, fix=exc.hint or "see the message"))
    return DoctorReport(checks=checks)
