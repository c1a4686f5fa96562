#!/usr/bin/env python3
"""Prove that a hash-pinned lock is complete: every requirement reachable from the project's own
dependencies — each package's Requires-Dist, with the extras its dependents ask for and the markers of
the interpreter that runs this script — is pinned in the lock, the pin satisfies the requirement, and the
environment holds exactly the pinned version.

Why: the lock is installed with `pip install --no-deps --require-hashes` (pip 23.2 resolves an extra such
as `httpx2[http2,ws]` on its own even when the base package is pinned, and takes the newest release), so
nothing may be left for pip to resolve. `pip check` does not follow extras: `lightkube` needing
`httpx2[http2,ws]` is "satisfied" by `httpx2` alone, without `h2`. This walk does follow them.

Run it with the environment's own interpreter (it reads the installed metadata):

    .venv/bin/python .ci/check_lock.py [--lock requirements.lock] [--project pyproject.toml] [--extra dev]

Exit 0 when complete; 1 with one line per problem (the missing package and who needs it).
Needs `packaging` (pinned in the lock) and Python ≥ 3.11.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import deque
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# A pin as uv and pip-compile write it: `name==version \` at the start of a line, hashes on the next lines.
PIN_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


@dataclass(frozen=True)
class Problem:
    package: str
    needed_by: str
    what: str

    def __str__(self) -> str:
        return f"{self.package} (needed by {self.needed_by}): {self.what}"


def read_pins(lock: Path) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in lock.read_text().splitlines():
        match = PIN_LINE.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def project_roots(pyproject: Path, extras: list[str]) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    texts = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"check_lock: {pyproject} has no extra {extra!r}")
        texts += optional[extra]
    return [Requirement(text) for text in texts]


def applies(requirement: Requirement, extras: frozenset[str], environment: dict[str, str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in extras | {""})


def installed_version(name: str) -> Version | None:
    try:
        return Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return None


def requirements_of(name: str) -> list[Requirement]:
    parsed: list[Requirement] = []
    for text in metadata.requires(name) or []:
        try:
            parsed.append(Requirement(text))
        except InvalidRequirement as error:
            raise SystemExit(f"check_lock: {name} declares an unreadable requirement {text!r}: {error}") from error
    return parsed


def check(pins: dict[str, Version], roots: list[Requirement]) -> tuple[list[Problem], set[str]]:
    """Walk the requirement graph from the roots; return the problems and the pins that were reached."""
    environment = default_environment()
    problems: list[Problem] = []
    extras_walked: dict[str, frozenset[str]] = {}
    queue: deque[tuple[Requirement, str]] = deque(
        (root, "the project") for root in roots if applies(root, frozenset(), environment))
    while queue:
        requirement, needed_by = queue.popleft()
        name = canonicalize_name(requirement.name)
        pinned = pins.get(name)
        if pinned is None:
            problems.append(Problem(name, needed_by, f"`{requirement}` is not pinned in the lock"))
            continue
        if not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(Problem(name, needed_by, f"the lock pins {pinned}, which does not satisfy `{requirement}`"))
        wanted = frozenset(canonicalize_name(extra) for extra in requirement.extras)
        walked = extras_walked.get(name)
        if walked is not None and wanted <= walked:
            continue
        extras = wanted | (walked or frozenset())
        extras_walked[name] = extras
        have = installed_version(name)
        if have is None:
            problems.append(Problem(name, needed_by, f"pinned at {pinned} but not installed"))
            continue
        if have != pinned:
            problems.append(Problem(name, needed_by, f"installed {have}, but the lock pins {pinned}"))
        for child in requirements_of(name):
            if applies(child, extras, environment):
                queue.append((child, f"{name}{'[' + ','.join(sorted(extras)) + ']' if extras else ''}"))
    return problems, set(extras_walked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--project", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--extra", action="append", default=None, help="an optional-dependency group (default: dev)")
    parser.add_argument("--also", action="append", default=[], type=Path,
                        help="another requirements input compiled into the same lock (e.g. .ci/build-requirements.in)")
    args = parser.parse_args(argv)
    roots = project_roots(args.project, args.extra if args.extra is not None else ["dev"])
    for extra_input in args.also:
        roots += [Requirement(line.split("#", 1)[0].strip()) for line in extra_input.read_text().splitlines()
                  if line.split("#", 1)[0].strip()]
    pins = read_pins(args.lock)
    problems, reached = check(pins, roots)
    for problem in problems:
        print(f"check_lock: {args.lock}: {problem}", file=sys.stderr)
    if problems:
        print(f"check_lock: {args.lock} is incomplete ({len(problems)} problem(s)); regenerate it with .ci/lock",
              file=sys.stderr)
        return 1
    unused = sorted(set(pins) - reached)
    note = f"; pinned but needed by nothing here: {', '.join(unused)}" if unused else ""
    print(f"check_lock: {args.lock}: all {len(reached)} requirements pinned and installed{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
