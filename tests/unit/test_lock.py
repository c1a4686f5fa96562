"""The lock promises that no upstream release changes what we install.

What broke before: pip 23.2 (what `python3 -m venv` bundles on our machines) resolved lightkube's extras
requirement `httpx2[http2,ws]` on its own in `--require-hashes` mode and took a release newer than the pin,
so `.ci/setup` failed on every fresh machine. These tests prove the completeness check names what a lock
misses; tests/test_lock.py installs the lock the way setup does, into a venv made by `python3 -m venv`.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path

from tests.ci_scripts import load_ci_script

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
CHECK = ROOT / ".ci" / "check_lock.py"
CHECKER = load_ci_script("check_lock")


def without_pin(lock_text: str, package: str) -> str:
    """The lock with one package's block (its pin line, hashes and `# via` comments) removed."""
    kept: list[str] = []
    dropping = False
    for line in lock_text.splitlines(keepends=True):
        if line.startswith(f"{package}=="):
            dropping = True
            continue
        if dropping and line.startswith(" "):
            continue
        dropping = False
        kept.append(line)
    assert len(kept) < len(lock_text.splitlines()), f"{package} is not pinned in the lock"
    return "".join(kept)


def check_lock(*args: str) -> subprocess.CompletedProcess[str]:
    # This interpreter is the CI venv, installed from the lock by .ci/install-lock: the metadata it holds is
    # exactly the lock's. The script's main, in this process: a fresh interpreter per check cost 0.2 s of imports.
    argv = ["--also", str(ROOT / ".ci" / "build-requirements.in"), *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = CHECKER.main(argv)
    return subprocess.CompletedProcess([str(CHECK), *argv], code, out.getvalue(), err.getvalue())


def test_the_committed_lock_pins_every_requirement_with_its_extras() -> None:
    done = check_lock("--lock", str(LOCK))
    assert done.returncode == 0, done.stderr
    assert "requirements pinned and installed" in done.stdout


def test_a_lock_missing_a_dependency_reached_only_through_an_extra_fails_naming_it(tmp_path: Path) -> None:
    # h2 is needed only through lightkube -> httpx2[http2]: the case `pip check` does not see.
    broken = tmp_path / "requirements.lock"
    broken.write_text(without_pin(LOCK.read_text(), "h2"))
    done = check_lock("--lock", str(broken))
    assert done.returncode == 1
    assert "h2 (needed by httpx2[http2,ws])" in done.stderr
    assert "not pinned in the lock" in done.stderr


def test_a_lock_missing_a_direct_dependency_fails_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "requirements.lock"
    broken.write_text(without_pin(LOCK.read_text(), "tenacity"))
    done = check_lock("--lock", str(broken))
    assert done.returncode == 1
    assert "tenacity (needed by the project)" in done.stderr


def test_a_pin_the_environment_does_not_hold_fails_naming_both_versions(tmp_path: Path) -> None:
    moved = tmp_path / "requirements.lock"
    text = LOCK.read_text()
    line = next(line for line in text.splitlines() if line.startswith("tenacity=="))
    moved.write_text(text.replace(line, "tenacity==0.0.1 \\"))
    done = check_lock("--lock", str(moved))
    assert done.returncode == 1
    assert "tenacity" in done.stderr and "0.0.1" in done.stderr


