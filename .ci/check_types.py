#!/usr/bin/env python3
"""The type check CI runs: every `# type: ignore` in fovea_ctl names its error code and says why on its own line,
then mypy --strict (its settings are pyproject.toml's [tool.mypy]: strict, fovea_ctl) passes with no error.

    .venv/bin/python .ci/check_types.py [--root DIR] [--no-mypy]

An ignore without a reason is a silenced error nobody can review: `# type: ignore[arg-type]  # the stub wants str
keys; the SDK takes ints` can be checked against the stub and dropped when the stub is fixed; a bare one cannot.
mypy itself refuses an ignore without a code (`enable_error_code = ignore-without-code`) and one that silences
nothing (strict's `warn_unused_ignores`). Run it with the environment's own interpreter (it runs `python -m mypy`).
Exit 0 when both pass; 1 with one line per ignore lacking a reason, or mypy's own report.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

# `# type: ignore[code, code]  # why`: the codes, then a second comment with some text in it.
IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<codes>\[[^\]]*\])?(?P<rest>.*)")
REASON = re.compile(r"^\s*#\s*\S")


@dataclass(frozen=True)
class Unexplained:
    path: Path
    line: int
    comment: str

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: `{self.comment.strip()}` needs its error code and a reason on the line: "
                "`# type: ignore[code]  # why`")


def unexplained_ignores(source: str, path: Path) -> list[Unexplained]:
    """Each `type: ignore` comment in `source` without `[code]` or without a `# reason` after it."""
    found: list[Unexplained] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        match = IGNORE.search(token.string)
        if match and not (match.group("codes") and REASON.match(match.group("rest"))):
            found.append(Unexplained(path, token.start[0], token.string[match.start():]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--no-mypy", action="store_true", help="only the reasons check (the unit tests use it)")
    args = parser.parse_args(argv)
    found = [problem for path in sorted((args.root / "fovea_ctl").rglob("*.py"))
             for problem in unexplained_ignores(path.read_text(encoding="utf-8"), path.relative_to(args.root))]
    for problem in found:
        print(f"check_types: {problem}", file=sys.stderr)
    if args.no_mypy:
        return 1 if found else 0
    mypy = subprocess.run([sys.executable, "-m", "mypy"], cwd=args.root)
    return 1 if found or mypy.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
