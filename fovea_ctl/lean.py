"""What the fast paths (`fovea status`) know before pydantic is imported: the project root and the raw
inputs of the settings, fingerprinted. Standard library only, and cheap: it runs on every `status`.

The fingerprint is exact, not a heuristic: it covers every input the settings and the stack are made
from (FOVEA_* variables, the project's `.env`, the stack and fovea's own source files by size and
mtime_ns, fovea's version). A memo keyed by it is used only when every input is unchanged.
"""

from __future__ import annotations

import json
import os

from fovea_ctl import __version__

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))


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


def settings_fingerprint(root: str) -> str:
    """Changes whenever anything that shapes the settings or the stack may have changed."""
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
        "fovea": _stats(PACKAGE_DIR),
    }
    return json.dumps(inputs)  # compared whole: no hash to import or to collide


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
