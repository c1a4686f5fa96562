"""The project lock: one writer per project (another project is not blocked), a planted symlink is refused and
its target untouched, and the lock lives in the project's private state folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fovea_ctl.settings.effective import Settings
from tests.conftest import ROOT


def test_project_lock_serialises_one_project_only(tmp_path: Path) -> None:
    from fovea_ctl.errors import LockTimeout
    from fovea_ctl.core.lock import project_lock

    first = Settings(root=tmp_path, project="lock-a")
    other = Settings(root=tmp_path, project="lock-b")
    holder = _hold_lock_in_another_process(first)
    try:
        with project_lock(other):
            pass  # another project is not blocked
        with pytest.raises(LockTimeout):
            with project_lock(first, timeout_s=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
    with project_lock(first):
        with project_lock(first, timeout_s=0.3):
            pass  # re-entrant within one process: `restore` runs `up` while it holds the lock


def test_project_lock_refuses_a_planted_symlink_and_leaves_its_target_untouched(tmp_path: Path) -> None:
    import os

    from fovea_ctl.errors import LockUnsafe
    from fovea_ctl.core.lock import project_lock

    root = tmp_path / "root"
    root.mkdir()
    settings = Settings(root=root, project="lock-planted")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    state = root / ".fovea" / "lock-planted"
    state.mkdir(parents=True, mode=0o700)
    (state / "project.lock").symlink_to(victim)  # where the lock file would be
    with pytest.raises(LockUnsafe, match="symlink"):
        with project_lock(settings):
            pass
    assert victim.read_text() == "precious\n"

    (state / "project.lock").unlink()
    state.rmdir()
    state.symlink_to(tmp_path)  # where the state folder would be
    with pytest.raises(LockUnsafe, match="is a symlink"):
        with project_lock(settings):
            pass
    state.unlink()
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # ours, but others may enter (an older fovea made it so): tightened
    (root / ".fovea").chmod(0o755)
    with project_lock(settings):  # a private directory works, and the lock file is not truncated
        (state / "project.lock").write_text("kept")
    with project_lock(settings):
        pass
    assert (state / "project.lock").read_text() == "kept"
    assert state.stat().st_mode & 0o777 == 0o700 and (root / ".fovea").stat().st_mode & 0o777 == 0o700
    assert victim.read_text() == "precious\n"
    if os.getuid() == 0:  # a state folder someone else made is never used
        os.chown(state, 65534, 65534)
        with pytest.raises(LockUnsafe, match="owned by uid 65534"):
            with project_lock(settings):
                pass


def test_the_lock_lives_in_the_projects_private_state_folder_not_a_shared_tmp_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: with XDG_RUNTIME_DIR unset the lock lived in /tmp/fovea-locks-<uid>, which any other user
    could make first (fovea then refused to run, exit 7, for good). Now nothing outside the project's own
    0700 state folder is involved."""
    import os

    from fovea_ctl.core.lock import lock_path, project_lock

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    squatted = Path("/tmp") / f"fovea-locks-{os.getuid()}"
    made_here = not squatted.exists() and os.getuid() == 0
    if made_here:  # another user got there first
        squatted.mkdir(mode=0o777)
        os.chown(squatted, 65534, 65534)
    try:
        settings = Settings(root=tmp_path, project="lock-private")
        with project_lock(settings):
            path = lock_path(settings)
            assert path == tmp_path / ".fovea" / "lock-private" / "project.lock"
            assert path.stat().st_mode & 0o777 == 0o600
            assert path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        if made_here:
            squatted.rmdir()


def _hold_lock_in_another_process(settings: Settings) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom fovea_ctl.core.lock import project_lock\n"
         "from fovea_ctl.settings.effective import Settings\n"
         f"with project_lock(Settings(root={str(settings.root)!r}, project={settings.project!r})):\n"
         "    print('held', flush=True)\n    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder
