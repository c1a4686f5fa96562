"""Images without a registry: the base bootstrap, content-hash tags, and BuildKit builds.

A recipe's tag is a hash of its Dockerfile, build context, build args and the base image id, so an
unchanged recipe is never rebuilt (CI and `up` stay fast) and a changed one always is.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fovea_ctl.docker.engine import Engine
from fovea_ctl.errors import FoveaError, ImageBuildFailed
from fovea_ctl.docker.labels import LABEL_CONTENT_HASH, LABEL_RECIPE
from fovea_ctl.model import BuildRecipe, Service, Stack
from fovea_ctl.settings.effective import Settings

ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.egg-info")

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class ResolvedImage:
    """Which image a service runs in this configuration, and whether it must be built or pulled first."""

    ref: str
    recipe: BuildRecipe | None
    present_id: str | None

    @property
    def missing(self) -> bool:
        return self.present_id is None


def _excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    parts = relative.split("/")
    return any(fnmatch.fnmatch(part, pat) for part in parts for pat in patterns) or any(
        fnmatch.fnmatch(relative, pat) for pat in patterns
    )


def context_files(context: Path, exclude: list[str]) -> list[Path]:
    patterns = (*ALWAYS_EXCLUDED, *exclude, *_dockerignore(context))
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(context):
        rel_dir = os.path.relpath(dirpath, context)
        dirnames[:] = sorted(
            d for d in dirnames if not _excluded(os.path.normpath(os.path.join(rel_dir, d)), patterns)
        )
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if not _excluded(rel, patterns):
                files.append(Path(dirpath) / name)
    return files


def _dockerignore(context: Path) -> tuple[str, ...]:
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return ()
    return tuple(
        line.strip().rstrip("/") for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


def hash_paths(root: Path, paths: list[Path]) -> str:
    """sha256 over relative names, exec bits and contents: renames and chmod +x count as changes."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


class ContentHashMemo:
    """Build-context hashes remembered by each file's (name, size, mtime_ns, ctime_ns, inode, mode), in
    `<root>/.fovea/content-hashes.json`: a converged `up` stats the context instead of reading it.

    Exact: any file whose size, times, inode or mode changed, and any file added or removed, makes
    the whole context hash again (ctime cannot be set back by `touch`, so a same-size edit with a
    restored mtime still counts).
    """

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, object]] | None = None

    def _load(self) -> dict[str, dict[str, object]]:
        if self._entries is None:
            try:
                self._entries = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def hash(self, root: Path, paths: list[Path]) -> str:
        signature = []
        for path in paths:
            stat = path.stat()
            signature.append([str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns,
                              stat.st_ino, stat.st_mode])
        key = f"{root}:" + hashlib.sha256("\0".join(str(entry[0]) for entry in signature).encode()).hexdigest()[:16]
        with self._lock:
            known = self._load().get(key)
        if known is not None and known.get("files") == signature:
            return str(known["hash"])
        digest = hash_paths(root, paths)
        with self._lock:
            entries = self._load()
            entries[key] = {"files": signature, "hash": digest}
            try:
                from fovea_ctl.settings.private_files import private_dir, write_private

                private_dir(self.path.parent, self.path.parent.parent)
                write_private(self.path, json.dumps(entries).encode())
            except OSError:
                pass  # only the next run is slower
        return digest


def recipe_content_hash(settings: Settings, recipe: BuildRecipe, base_id: str,
                        memo: ContentHashMemo | None = None) -> str:
    context = settings.root / recipe.context
    if not context.is_dir():
        raise ImageBuildFailed(f"image {recipe.name}: build context {context} does not exist")
    files = context_files(context, recipe.exclude)
    dockerfile = context / recipe.dockerfile
    if dockerfile not in files:
        files.append(dockerfile)
    digest = hashlib.sha256()
    digest.update((memo.hash(context, files) if memo else hash_paths(context, files)).encode())
    # Which Dockerfile builds it: one context holds several (the GPU image's offline and registry recipes
    # share a name and a context), and the files alone would give them the same tag.
    digest.update(recipe.dockerfile.encode())
    digest.update(repr(sorted(recipe.args.items())).encode())
    digest.update(base_id.encode())
    return digest.hexdigest()


def base_from(dockerfile: Path) -> str | None:
    for line in dockerfile.read_text().splitlines():
        if line.strip().upper().startswith("FROM "):
            return line.split()[1]
    return None


class ImageResolver:
    """Turns each service's ImageSpec into a concrete ref for this configuration (build or registry)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._base_ids: dict[str, str | None] = {}
        self._by_recipe: dict[str, ResolvedImage] = {}
        self.memo = ContentHashMemo(settings.root / ".fovea" / "content-hashes.json")

    def base_id(self, base: str) -> str | None:
        if base not in self._base_ids:
            self._base_ids[base] = self.engine.image_id(base)
        return self._base_ids[base]

    def resolve(self, service: Service) -> ResolvedImage:
        spec = service.image
        use_registry = spec.registry is not None and (self.settings.image_source == "registry" or spec.recipe is None)
        if use_registry:
            assert spec.registry is not None
            return ResolvedImage(spec.registry, None, self.engine.image_id(spec.registry))
        assert spec.recipe is not None
        return self.resolve_recipe(spec.recipe)

    def resolve_recipe(self, recipe: BuildRecipe) -> ResolvedImage:
        key = recipe.model_dump_json()
        if key in self._by_recipe:
            return self._by_recipe[key]
        base = self._base_of(recipe)
        base_id = self.base_id(base)
        # Without the base its id is unknown; the tag says so, and the plan builds the base first.
        content = recipe_content_hash(self.settings, recipe, base_id or f"missing:{base}", self.memo)
        ref = f"{recipe.name}:{content[:12]}"
        resolved = ResolvedImage(ref, recipe, self.engine.image_id(ref) if base_id else None)
        self._by_recipe[key] = resolved
        return resolved

    def resolve_stack(self, stack: Stack) -> dict[str, ResolvedImage]:
        """Every unit's image; distinct images are resolved in parallel (each is a hash and an inspect)."""
        from concurrent.futures import ThreadPoolExecutor

        first_of_each: dict[str, Service] = {}
        for unit in stack.units.values():
            first_of_each.setdefault(unit.image.model_dump_json(), unit)
        for base in {self._base_of(u.image.recipe) for u in first_of_each.values() if u.image.recipe}:
            self.base_id(base)  # once, before the threads that all need it
        with ThreadPoolExecutor(max_workers=max(1, len(first_of_each))) as pool:
            list(pool.map(self.resolve, first_of_each.values()))
        return {name: self.resolve(unit) for name, unit in stack.units.items()}

    def _base_of(self, recipe: BuildRecipe) -> str:
        return base_from(self.settings.root / recipe.context / recipe.dockerfile) or self.settings.base_image


def buildkit_client(settings: Settings) -> str:
    """A docker client that builds with BuildKit: the setting, Debian's /usr/bin/docker, else PATH's."""
    candidates = [settings.docker_cli] if settings.docker_cli else ["/usr/bin/docker", "docker"]
    for candidate in candidates:
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    raise ImageBuildFailed(
        "no docker client found to build images", hint="install Debian's docker.io or set FOVEA_DOCKER_CLI"
    )


def build_image(
    settings: Settings,
    recipe: BuildRecipe,
    ref: str,
    on_line: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    no_cache: bool = False,
) -> None:
    """One BuildKit build through the docker CLI, logged to .fovea/<project>/builds/<name>.log; killed
    as soon as `cancel` is set.

    The CLI, not the engine API: the API's builder here is the legacy one, which lacks RUN --mount
    (wheelhouses) and build secrets (the CA bundle). The CA bundle travels as a build secret, so it
    never lands in a layer or in the cache key.
    """
    context = settings.root / recipe.context
    if recipe.prepare:
        prepared = subprocess.run(recipe.prepare, cwd=context, capture_output=True, text=True)
        if prepared.returncode != 0:
            raise ImageBuildFailed(
                f"image {ref}: preparing the build context failed (`{' '.join(recipe.prepare)}`, exit "
                f"{prepared.returncode}):\n  " + "\n  ".join((prepared.stdout + prepared.stderr).strip().splitlines()[-15:])
            )
    log_path = build_log_path(settings, recipe)
    from fovea_ctl.settings.private_files import open_private, private_dir

    private_dir(log_path.parent, settings.root)
    command = [
        buildkit_client(settings),
        "build",
        "--progress=plain",
        "-f",
        str(context / recipe.dockerfile),
        "-t",
        ref,
        "--label",
        f"{LABEL_RECIPE}={recipe.name}",
        "--label",
        f"{LABEL_CONTENT_HASH}={ref.rsplit(':', 1)[1]}",
        *(["--no-cache"] if no_cache else []),  # every step again: a fresh apt/pip download, same content hash
    ]
    for key, value in sorted(recipe.args.items()):
        command += ["--build-arg", f"{key}={value}"]
    ca_bundle = settings.effective_ca_bundle
    if ca_bundle:
        command += ["--secret", f"id=ca_bundle,src={ca_bundle}"]
    command.append(str(context))
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    if settings.docker_host:
        env["DOCKER_HOST"] = settings.docker_host
    tail: list[str] = []
    with os.fdopen(open_private(log_path), "w") as log:
        # Its own process group: a cancel (the run's --timeout, Ctrl-C, SIGTERM) kills the client and
        # whatever it started; BuildKit then cancels the solve its session belonged to.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                                   start_new_session=True)
        assert process.stdout is not None
        stop_watching = threading.Event()
        if cancel is not None:
            threading.Thread(target=_kill_when_cancelled, args=(process, cancel, stop_watching),
                             daemon=True, name=f"build-cancel-{recipe.name}").start()
        try:
            for line in process.stdout:
                log.write(line)
                tail = (tail + [line.rstrip()])[-30:]
                if on_line:
                    on_line(line.rstrip())
            code = process.wait()
        except BaseException:
            _kill_group(process)
            raise
        finally:
            stop_watching.set()
    if cancel is not None and cancel.is_set():
        raise ImageBuildFailed(f"image {ref}: build stopped (the run was cancelled or timed out)",
                               hint=f"log so far: {log_path}")
    if code != 0:
        raise ImageBuildFailed(
            f"image {ref} failed to build (exit {code}); last lines:\n  " + "\n  ".join(tail[-20:]),
            hint=f"full log: {log_path}",
        )


def _kill_group(process: subprocess.Popen[str]) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _kill_when_cancelled(process: subprocess.Popen[str], cancel: threading.Event, done: threading.Event) -> None:
    while not done.is_set():
        if cancel.wait(0.2):
            if process.poll() is None:
                _kill_group(process)
            return


class BuildBoard:
    """One live display for images built at once: a line per image with its step and elapsed time.

    On a terminal the lines are redrawn in place twice a second; elsewhere (CI logs) a line is written
    whenever an image starts a new step, finishes or fails, so the log stays readable and short.
    """

    def __init__(self, refs: list[str], stream: TextIO, live: bool) -> None:
        self.refs = refs
        self.stream = stream
        self.live = live
        self.width = max(len(ref) for ref in refs)
        self.began = {ref: time.monotonic() for ref in refs}
        self.state = {ref: "waiting" for ref in refs}
        self.took: dict[str, float] = {}
        self.lock = threading.Lock()
        self.drawn = False

    def line(self, ref: str) -> str:
        elapsed = self.took.get(ref, time.monotonic() - self.began[ref])
        return f"{ref:<{self.width}}  {elapsed:6.1f} s  {self.state[ref]}"

    def update(self, ref: str, state: str, done: bool = False) -> None:
        with self.lock:
            if done:
                self.took[ref] = time.monotonic() - self.began[ref]
            changed = self.state[ref] != state
            self.state[ref] = state
            if not self.live and changed:
                self.stream.write(self.line(ref) + "\n")
                self.stream.flush()

    def step(self, ref: str, build_line: str) -> None:
        """BuildKit's plain progress names each step `#N [k/n] INSTRUCTION ...`: keep the latest."""
        _, bracket, rest = build_line.partition("[")
        position, closing, instruction = rest.partition("]")
        if bracket and closing and "/" in position and position.replace("/", "").strip().isdigit():
            self.update(ref, f"step {position.strip()} {instruction.strip()[:80]}")

    def redraw(self) -> None:
        with self.lock:
            if self.drawn:
                self.stream.write(f"\x1b[{len(self.refs)}F")
            columns = shutil.get_terminal_size().columns - 1  # a wrapped line would break the redraw
            self.stream.write("".join(f"\x1b[2K{self.line(ref)[:columns]}\n" for ref in self.refs))
            self.stream.flush()
            self.drawn = True


def build_missing(settings: Settings, engine: Engine, images: list[ResolvedImage], stream: TextIO | None = None,
                  no_cache: bool = False) -> None:
    """Build (or pull) each of `images` at once, in parallel: none of them depends on another (each starts
    from the base image or a registry). One display for all; every failure is reported with its log."""
    import sys

    out = stream or sys.stderr
    if not images:
        return
    board = BuildBoard([image.ref for image in images], out, live=bool(getattr(out, "isatty", lambda: False)()))
    failures: dict[str, str] = {}

    def one(image: ResolvedImage) -> None:
        try:
            if image.recipe is not None:
                board.update(image.ref, "building")
                build_image(settings, image.recipe, image.ref, on_line=lambda line: board.step(image.ref, line),
                            no_cache=no_cache)
            else:
                board.update(image.ref, "pulling")
                pull_image(engine, image.ref)
            board.update(image.ref, "built", done=True)
        except FoveaError as exc:
            failures[image.ref] = str(exc)
            log = f"; log: {build_log_path(settings, image.recipe)}" if image.recipe else ""
            board.update(image.ref, f"FAILED{log}", done=True)
        except BaseException as exc:  # noqa: BLE001 - reported with the others, in the caller's thread
            failures[image.ref] = f"{exc.__class__.__name__}: {exc}"
            board.update(image.ref, "FAILED", done=True)

    threads = [threading.Thread(target=one, args=(image,), daemon=True) for image in images]
    for thread in threads:
        thread.start()
    while alive := [thread for thread in threads if thread.is_alive()]:
        if board.live:
            board.redraw()
        alive[0].join(0.5)
    if board.live:
        board.redraw()
    if failures:
        raise ImageBuildFailed(f"{len(failures)} of {len(images)} images failed:\n  "
                               + "\n  ".join(message.replace("\n", "\n  ") for message in failures.values()))


def build_log_path(settings: Settings, recipe: BuildRecipe) -> Path:
    return settings.state_dir / "builds" / f"{recipe.name.replace('/', '_')}.log"


def pull_image(engine: Engine, ref: str) -> None:
    try:
        engine.pull(ref)
    except FoveaError as exc:
        raise ImageBuildFailed(
            f"image {ref} could not be pulled: {exc.message}",
            hint="no registry reachable? use FOVEA_IMAGE_SOURCE=build to build images offline",
        ) from None


# -- the base image ------------------------------------------------------------------------------

DEBIAN_SOURCES = """\
Types: deb
URIs: {mirror}
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

# As in Debian's official slim images: no docs, man pages or recommends in derived images.
SLIM_DPKG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""
SLIM_APT = 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\n'


def bootstrap_base(settings: Settings, engine: Engine, on_line: ProgressCallback | None = None) -> float:
    """Create the base image with debootstrap and import it under the base tag. Returns seconds taken."""
    if os.geteuid() != 0:
        raise FoveaError(
            f"creating {settings.base_image} needs root (debootstrap); run `sudo fovea images bootstrap`",
        )
    debootstrap = shutil.which("debootstrap")
    if not debootstrap:
        raise FoveaError(
            f"creating {settings.base_image} needs debootstrap, which is not installed",
            hint="apt-get install debootstrap (or load the image with `docker load`)",
        )
    started = time.monotonic()
    repository, _, tag = settings.base_image.partition(":")
    mirror = settings.debian_mirror.rstrip("/")
    security = mirror.rsplit("/", 1)[0] + "/debian-security"
    with tempfile.TemporaryDirectory(prefix="fovea-base-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        process = subprocess.Popen(
            [debootstrap, "--variant=minbase", "trixie", str(rootfs), mirror],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        tail: list[str] = []
        for line in process.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            if on_line:
                on_line(line.rstrip())
        if process.wait() != 0:
            raise ImageBuildFailed("debootstrap failed:\n  " + "\n  ".join(tail))
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
            DEBIAN_SOURCES.format(mirror=mirror, security=security)
        )
        (rootfs / "etc/dpkg/dpkg.cfg.d/fovea-slim").write_text(SLIM_DPKG)
        (rootfs / "etc/apt/apt.conf.d/90fovea-slim").write_text(SLIM_APT)
        for trimmed in ("var/lib/apt/lists", "var/cache/apt/archives", "usr/share/doc", "usr/share/man", "usr/share/info"):
            target = rootfs / trimmed
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    elif child.name != "lock":
                        child.unlink()
        tarball = Path(workdir) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        if on_line:
            on_line(f"importing as {settings.base_image}")
        engine.import_image(str(tarball), repository, tag or "latest", changes=['CMD ["bash"]'])
    return time.monotonic() - started


def ensure_base(settings: Settings, engine: Engine, on_line: ProgressCallback | None = None) -> None:
    """The base exists, was pulled, or is bootstrapped (registry first: it is the real image)."""
    if engine.image_id(settings.base_image):
        return
    if settings.image_source == "registry":
        pull_image(engine, settings.base_image)
        return
    try:
        engine.pull(settings.base_image)
        return
    except FoveaError:
        if on_line:
            on_line(f"{settings.base_image} is absent and cannot be pulled: bootstrapping it with debootstrap")
    bootstrap_base(settings, engine, on_line)
