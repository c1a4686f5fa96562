"""The frontend's unit tests (Vitest: the editor core's interpolation, outside spans, undo/redo, dirty set,
autosave and frame <-> time mapping) as part of the Python suite: `npm ci` when node_modules is missing or
older than the lock file, then the type check and `npm test`; a failure shows Vitest's own output. And the
API types the type check uses are the backend's: src/api/schema.gen.ts is what api-types.sh generates from
the backend's current OpenAPI document."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from difflib import unified_diff
from pathlib import Path

import pytest

from tests.conftest import ROOT

FRONTEND = ROOT / "services" / "frontend"


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("npm is missing: .ci/setup installs nodejs and npm")
        pytest.skip("npm is not installed")
    return found


def run(command: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    return subprocess.run(command, cwd=FRONTEND, capture_output=True, text=True, timeout=timeout, env=env)


def installed_matches_lock() -> bool:
    # npm writes node_modules/.package-lock.json on install; older than the lock file means stale.
    marker = FRONTEND / "node_modules" / ".package-lock.json"
    return marker.is_file() and marker.stat().st_mtime >= (FRONTEND / "package-lock.json").stat().st_mtime


@pytest.fixture(scope="module")
def node_modules() -> Path:
    tool = npm()
    if not installed_matches_lock():
        done = run([tool, "ci", "--no-audit", "--no-fund", "--loglevel=error"], timeout=900)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return FRONTEND / "node_modules"


def test_typescript_type_checks(node_modules: Path) -> None:
    done = run([npm(), "run", "--silent", "typecheck"], timeout=600)
    assert done.returncode == 0, f"tsc found errors:\n{done.stdout[-8000:]}\n{done.stderr[-2000:]}"


def test_vitest_unit_tests_pass(node_modules: Path) -> None:
    done = run([npm(), "test", "--silent"], timeout=600)
    assert done.returncode == 0, f"vitest failed:\n{done.stdout[-12000:]}\n{done.stderr[-4000:]}"
    assert " passed" in done.stdout, done.stdout[-4000:]


def test_the_api_types_are_generated_from_the_backends_current_openapi_document(node_modules: Path,
                                                                                tmp_path: Path) -> None:
    """A backend schema changed without regenerating the frontend's types (and type-checking the app against
    them) fails here. This venv holds the backend's packages (tests/backend run it in-process)."""
    committed = FRONTEND / "src" / "api" / "schema.gen.ts"
    fresh = tmp_path / "schema.gen.ts"
    done = subprocess.run([str(FRONTEND / "api-types.sh"), str(fresh)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 0, f"api-types.sh failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    difference = list(unified_diff(committed.read_text().splitlines(), fresh.read_text().splitlines(),
                                   "committed", "generated now", lineterm="", n=1))
    assert not difference, ("services/frontend/src/api/schema.gen.ts is stale: run services/frontend/api-types.sh "
                            "and commit it (then `npm run typecheck`):\n" + "\n".join(difference[:60]))
