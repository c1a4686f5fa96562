"""The status roster: what the stack says `fovea status` needs (its units, their probes on the wire, what is
skipped and why), as plain data, remembered in the project's state folder whenever a command loads the stack.

Keyed by the exact fingerprint of every input of the settings and the stack (fovea_ctl.settings.fingerprint):
`status` uses it only when that fingerprint still matches, else it loads the stack (and remembers it again).
Standard library only, like `fovea status` itself, which reads it before pydantic is imported.
"""

from __future__ import annotations

import json
import os

from fovea_ctl.probes.checks import check_from_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: status imports this module on every run
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import Stack
    from fovea_ctl.probes.checks import Check
    from fovea_ctl.settings.effective import Settings

ROSTER_FILE = "status-roster.json"
# The memo's layout. A file of another version (1: the unversioned dicts before checks were typed) is no
# roster: `status` loads the stack and writes this version. Raise it whenever to_json's layout changes.
ROSTER_VERSION = 2


class RosterUnit:
    """One unit of the stack: a job runs once (never probed); `check` is its probe on the wire, if any."""

    __slots__ = ("name", "one_shot", "check")

    def __init__(self, name: str, one_shot: bool, check: Check | None) -> None:
        self.name = name
        self.one_shot = one_shot
        self.check = check


class SkippedUnit:
    """A service this stack leaves out (no GPU, no image offline, ...) and why."""

    __slots__ = ("name", "reason")

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason


class Roster:
    """What `fovea status` needs of the stack: its project and engine, where the secrets its checks present
    live, its units in the stack's order, what is skipped and why, and each unit's links (label -> URL)."""

    __slots__ = ("project", "docker_host", "secrets_dir", "units", "skipped", "links")

    def __init__(self, project: str, docker_host: str | None, secrets_dir: str, units: list[RosterUnit],
                 skipped: list[SkippedUnit], links: dict[str, dict[str, str]]) -> None:
        self.project = project
        self.docker_host = docker_host
        self.secrets_dir = secrets_dir
        self.units = units
        self.skipped = skipped
        self.links = links

    def to_json(self) -> dict[str, Any]:
        return {
            "version": ROSTER_VERSION,
            "project": self.project,
            "docker_host": self.docker_host,
            "secrets_dir": self.secrets_dir,
            "units": [{"name": u.name, "one_shot": u.one_shot, "probe": u.check.to_json() if u.check else None}
                      for u in self.units],
            "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            "links": self.links,
        }

    @classmethod
    def from_json(cls, document: Any) -> Roster | None:
        """The roster `to_json` wrote; None for anything else (another version, a damaged file): a memo
        that cannot be read only means loading the stack."""
        try:
            if document["version"] != ROSTER_VERSION:
                return None
            return cls(
                project=document["project"], docker_host=document["docker_host"],
                secrets_dir=document["secrets_dir"],
                units=[RosterUnit(u["name"], u["one_shot"], check_from_json(u["probe"]) if u["probe"] else None)
                       for u in document["units"]],
                skipped=[SkippedUnit(s["name"], s["reason"]) for s in document["skipped"]],
                links=document["links"])
        except (KeyError, TypeError, AttributeError):
            return None


def roster_of(stack: Stack, settings: Settings) -> Roster:
    from fovea_ctl.probes.kinds import check_for  # compiles declared probes: not on status's fast path

    return Roster(
        project=settings.project,
        docker_host=settings.docker_host,
        secrets_dir=str(settings.effective_secrets_dir),
        units=[RosterUnit(name, unit.one_shot, check_for(unit, stack)) for name, unit in stack.units.items()],
        skipped=[SkippedUnit(s.name, s.unavailable_reason or "") for s in stack.skipped],
        links={name: stack.links([name]) for name, unit in stack.units.items() if unit.links},
    )


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
        document = json.dumps({"fingerprint": fingerprint, **roster_of(stack, settings).to_json()}, indent=1)
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
            document = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("fingerprint") != settings_fingerprint(root, key):
        return None
    return Roster.from_json(document)
