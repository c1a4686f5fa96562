"""The status roster: what the stack says `fovea status` needs (its units, their probes on the wire, what is
skipped and why), as plain data, remembered in the project's state folder whenever a command loads the stack.

Keyed by the exact fingerprint of every input of the settings and the stack (fovea_ctl.settings.fingerprint):
`status` uses it only when that fingerprint still matches, else it loads the stack (and remembers it again).
Standard library only, like `fovea status` itself, which reads it before pydantic is imported.
"""

from __future__ import annotations

import json
import os

from fovea_ctl.docker import socket_client

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: status imports this module on every run
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import Stack
    from fovea_ctl.settings.effective import Settings

    # The memo as JSON: project, docker_host, secrets_dir, units (name, one_shot, probe), skipped, links.
    Roster = dict[str, Any]

ROSTER_FILE = "status-roster.json"


def roster_of(stack: Stack, settings: Settings) -> Roster:
    return {
        "project": settings.project,
        "docker_host": settings.docker_host,
        "secrets_dir": str(settings.effective_secrets_dir),
        "units": [{"name": name, "one_shot": unit.one_shot, "probe": socket_client.probe_spec(unit, stack)}
                  for name, unit in stack.units.items()],
        "skipped": [{"name": s.name, "reason": s.unavailable_reason or ""} for s in stack.skipped],
        "links": {name: stack.links([name]) for name, unit in stack.units.items() if unit.links},
    }


def roster_path(root: str, project: str) -> str:
    return os.path.join(root, ".fovea", project, ROSTER_FILE)


def remember_roster(settings: Settings, stack: Stack, fingerprint: str) -> None:
    """Keep the roster for `status`, when these settings are exactly what the environment gives (a
    command run with --gpu or a test's own settings describe another project than `status` would see).

    `fingerprint` was taken before the stack loaded: an input that changed meanwhile misses the memo.
    The file is 0600 in the project's 0700 state folder, like everything under `.fovea/`.
    """
    from fovea_ctl.settings.private_files import private_dir, write_private
    from fovea_ctl.settings.effective import load_settings

    try:
        if load_settings().model_dump() != settings.model_dump():
            return
        path = roster_path(str(settings.root), settings.project)
        document = json.dumps({"fingerprint": fingerprint, **roster_of(stack, settings)}, indent=1)
        try:
            with open(path, encoding="utf-8") as handle:
                if handle.read() == document and os.stat(path).st_mode & 0o777 == 0o600:
                    return
        except OSError:
            pass
        private_dir(os.path.dirname(path), str(settings.root))
        write_private(path, document.encode())
    except Exception:  # noqa: BLE001 - a memo that cannot be written only makes the next status slower
        pass


def remembered_roster() -> Roster | None:
    """The roster for the environment's project, if one was remembered under the current fingerprint."""
    from fovea_ctl.settings.fingerprint import find_root, fingerprint_key, project_name_guess, settings_fingerprint

    root = find_root()
    project = project_name_guess(root)
    key = fingerprint_key(root, project)
    if key is None:
        return None
    try:
        with open(roster_path(root, project), encoding="utf-8") as handle:
            roster: Roster = json.load(handle)
    except (OSError, ValueError):
        return None
    return roster if roster.get("fingerprint") == settings_fingerprint(root, key) else None
