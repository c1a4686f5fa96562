"""The lock promises that no upstream release changes what we install.

What broke before: pip 23.2 (what `python3 -m venv` bundles on our machines) resolved lightkube's extras
requirement `httpx2[http2,ws]` on its own in `--require-hashes` mode and took a release newer than the pin,
so `.ci/setup` failed on every fresh machine. This test installs the lock the way setup does, into a venv
made by the machine's own `python3 -m venv` (minutes: it stays out of the unit tier, though it needs no engine).
The completeness check's own tests are in tests/unit/test_lock.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def test_the_lock_installs_exactly_into_a_venv_made_by_the_machines_own_python(tmp_path: Path) -> None:
    """What CI does on a clean clone: `python3 -m venv` (its bundled pip, not an upgraded one), then
    .ci/install-lock. Before the fix this failed on the extras resolution; now it must pass without
    resolving anything, and `pip check` plus check_lock must agree the environment is the lock."""
    python3 = shutil.which("python3")
    assert python3, "python3 is not on PATH"
    venv = tmp_path / "venv"
    subprocess.run([python3, "-m", "venv", str(venv)], check=True, timeout=120)
    bundled_pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"],
                                 capture_output=True, text=True, check=True).stdout
    done = subprocess.run([str(ROOT / ".ci" / "install-lock"), str(venv), str(LOCK)], capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert done.returncode == 0, f"{bundled_pip}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "requirements pinned and installed" in done.stdout
    frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"], capture_output=True,
                            text=True, check=True).stdout
    assert "httpx2==2.16.2" in frozen  # the pin, not the newest release
