"""What the fast paths (`fovea status`) know before pydantic is imported: the project root and the raw
inputs of the settings, fingerprinted. Standard library only, and cheap: it runs on every `status`.

The fingerprint is exact, not a heuristic: it covers every input the settings and the stack are made
from (FOVEA_* variables, the project's `.env`, the stack and fovea's own source files by size and
mtime_ns, fovea's version). A memo keyed by it is used only when every input is unchanged. Those inputs
hold secrets (`FOVEA_SECRET_<NAME>=value`, a password in `.env`), so what is kept is a keyed digest of
them (BLAKE2b keyed with the project's own random key, `.fovea/<project>/hash-salt`), never the values.
"""

from __future__ import annotations

import json
import os

from fovea_ctl import __version__

try:  # hashlib's own import loads OpenSSL (~4 ms of every `status`); its BLAKE2 is this module
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

FINGERPRINT_KEY = "hash-salt"  # the project's random key for every fingerprint fovea keeps of secret inputs

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # fovea_ctl/, this module is in settings/


def find_root() -> str:
    """The repository that holds `stack/`: FOVEA_ROOT, else the nearest ancestor of the cwd, else ours."""
    explicit = os.environ.get("FOVEA_ROOT")
    if explicit:
        return os.path.realpath(explicit)
    here = os.path.realpath(os.getcwd())
    while True:
        if os.path.isfile(os.path.join(here, "stack", "fovea_stack.py")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return os.path.dirname(PACKAGE_DIR)
        here = parent


def fovea_environment() -> dict[str, str]:
    """FOVEA_* variables as pydantic-settings sees them (case-insensitive names)."""
    return {key: value for key, value in os.environ.items() if key.upper().startswith("FOVEA_")}


def _stats(folder: str) -> list[tuple[str, int, int]]:
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
    except OSError:
        return []
    result = []
    for name in names:
        stat = os.stat(os.path.join(folder, name))
        result.append((name, stat.st_size, stat.st_mtime_ns))
    return result


# The folders of fovea_ctl whose modules shape the stack and the status roster: the model (top), the settings,
# the context and scaling (core), the probe kinds and their checks (probes), the wire protocols (docker), the
# roster itself (reconcile). Each module there costs a stat on every `status`; the commands, use cases, data and
# renderers shape neither.
SHAPING_FOLDERS = ("", "settings", "core", "probes", "docker", "reconcile")


def _package_stats() -> list[tuple[str, int, int]]:
    return [(os.path.join(folder, name), size, mtime) for folder in SHAPING_FOLDERS
            for name, size, mtime in _stats(os.path.join(PACKAGE_DIR, folder))]


def settings_fingerprint(root: str, key: bytes) -> str:
    """Changes whenever anything that shapes the settings or the stack may have changed: a keyed digest
    (`key`: `fingerprint_key`) of those inputs, so the values it covers cannot be read back from it."""
    env_file = os.path.join(root, ".env")
    try:
        with open(env_file, "rb") as handle:
            dotenv = handle.read().decode(errors="replace")
    except OSError:
        dotenv = None
    inputs = {
        "version": __version__,
        "root": root,
        "env": sorted(fovea_environment().items()),
        "dotenv": dotenv,
        "stack": _stats(os.path.join(root, "stack")),
        "fovea": _package_stats(),
    }
    return blake2b(json.dumps(inputs).encode(), key=key[:64], digest_size=32).hexdigest()


def fingerprint_key(root: str, project: str, create: bool = False) -> bytes | None:
    """The project's fingerprint key (made once, if `create`: 32 random bytes, hex, 0600 in the 0700 state
    folder). Made exclusively: two commands starting at once agree on one key, so fingerprints taken
    with it (engine labels of secrets, the status roster) never change behind anyone's back."""
    path = os.path.join(root, ".fovea", project, FINGERPRINT_KEY)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        if not create:
            return None
    from fovea_ctl.settings.private_files import private_dir, write_private

    private_dir(os.path.dirname(path), root)
    candidate = f"{path}.{os.getpid()}.new"
    write_private(candidate, os.urandom(32).hex().encode(), durable=True)
    try:
        os.link(candidate, path)  # fails if another command made it first: then theirs counts
    except FileExistsError:
        pass
    finally:
        os.unlink(candidate)
    with open(path, "rb") as handle:
        return handle.read()


def project_name_guess(root: str) -> str:
    """The project name as the raw inputs give it; only used to find a memo, which the fingerprint then checks."""
    for key, value in fovea_environment().items():
        if key.upper() == "FOVEA_PROJECT":
            return value
    try:
        with open(os.path.join(root, ".env"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, sep, value = line.strip().partition("=")
                if sep and name.strip().upper() == "FOVEA_PROJECT":
                    return value.strip().strip("'\"")
    except OSError:
        pass
    return "fovea"
