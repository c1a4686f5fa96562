"""The import-cycle ratchet (.ci/check_imports.py): this checkout matches its baseline; a new cycle, at module
level, inside a function or under TYPE_CHECKING, fails naming the file, line and the cycle; a cycle that went
away while the baseline still lists it fails until --update removes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ci_scripts import load_ci_script
from tests.conftest import ROOT


CHECKER = load_ci_script("check_imports")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of this checkout's fovea_ctl and import baseline to plant changes in."""
    shutil.copytree(ROOT / "fovea_ctl", tmp_path / "fovea_ctl", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CHECKER.BASELINE, tmp_path / "import_cycles.txt")
    shutil.copy(CHECKER.LAYER_BASELINE, tmp_path / "layer_violations.txt")  # --update must not touch the real one
    return tmp_path


def check(root: Path, *extra: str) -> int:
    return CHECKER.main(["--root", str(root), "--baseline", str(root / "import_cycles.txt"),
                         "--layer-baseline", str(root / "layer_violations.txt"), *extra])


def test_this_checkout_has_exactly_the_cycles_of_its_baseline() -> None:
    assert CHECKER.main([]) == 0


@pytest.mark.parametrize("planted", [
    "from fovea_ctl.docker.engine import Engine\n",
    "def later() -> None:\n    from fovea_ctl.docker import engine\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import fovea_ctl.docker.engine\n",
], ids=["module-level", "function-level", "type-checking"])
def test_a_new_cycle_fails_naming_the_import_and_the_cycle(checkout: Path, planted: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    labels = checkout / "fovea_ctl" / "docker" / "labels.py"  # fovea_ctl.docker.engine imports labels: importing it back is a cycle
    line = len(labels.read_text().splitlines()) + planted.count("\n")
    labels.write_text(labels.read_text() + planted)
    assert check(checkout) == 1
    err = capsys.readouterr().err
    assert f"fovea_ctl/docker/labels.py:{line} imports fovea_ctl.docker.engine" in err
    assert "fovea_ctl.docker.labels -> fovea_ctl.docker.engine -> fovea_ctl.docker.labels" in err


def test_a_cycle_that_went_away_must_leave_the_baseline(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = checkout / "import_cycles.txt"
    baseline.write_text(baseline.read_text() + "fovea_ctl.model -> fovea_ctl.settings.effective\n")
    assert check(checkout) == 1
    assert "no longer on a cycle: fovea_ctl.model -> fovea_ctl.settings.effective" in capsys.readouterr().err
    assert check(checkout, "--update") == 0
    assert "fovea_ctl.model -> fovea_ctl.settings.effective" not in baseline.read_text()
    assert baseline.read_text() == CHECKER.BASELINE.read_text()
    assert check(checkout) == 0


def test_update_never_adds_a_cycle(checkout: Path) -> None:
    labels = checkout / "fovea_ctl" / "docker" / "labels.py"
    labels.write_text(labels.read_text() + "from fovea_ctl.docker.engine import Engine\n")
    assert check(checkout, "--update") == 1
    assert (checkout / "import_cycles.txt").read_text() == CHECKER.BASELINE.read_text()
