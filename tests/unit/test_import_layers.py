"""The layering contract (.ci/check_imports.py, LAYERS): an import of a higher layer fails naming its file:line and
both layers, wherever it is written (module level, in a function, under TYPE_CHECKING); imports down or within a
layer pass; a module no layer claims fails; the baseline of old violations may only shrink."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ci_scripts import load_ci_script
from tests.conftest import ROOT


CHECKER = load_ci_script("check_imports")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of this checkout's fovea_ctl and both import baselines to plant changes in."""
    shutil.copytree(ROOT / "fovea_ctl", tmp_path / "fovea_ctl", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CHECKER.BASELINE, tmp_path / "import_cycles.txt")
    shutil.copy(CHECKER.LAYER_BASELINE, tmp_path / "layer_violations.txt")
    return tmp_path


def check(root: Path, *extra: str) -> int:
    return CHECKER.main(["--root", str(root), "--baseline", str(root / "import_cycles.txt"),
                         "--layer-baseline", str(root / "layer_violations.txt"), *extra])


def plant(checkout: Path, module: str, source: str) -> int:
    """Append `source` to a module of the copy; the line of its last statement."""
    path = checkout / "fovea_ctl" / module
    text = path.read_text() if path.exists() else ""
    path.write_text(text + source)
    return len(text.splitlines()) + source.count("\n")


def test_this_checkout_keeps_its_layers_as_the_baseline_says() -> None:
    assert CHECKER.main([]) == 0


@pytest.mark.parametrize("planted", [
    "from fovea_ctl.cli.help import TYPE_WORDS\n",
    "def later() -> None:\n    from fovea_ctl.cli import help\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import fovea_ctl.cli.help\n",
], ids=["module-level", "function-level", "type-checking"])
def test_an_import_of_a_higher_layer_fails_naming_file_line_and_layers(checkout: Path, planted: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    line = plant(checkout, "model.py", planted)  # the stack model, bottom layer, importing a command module
    assert check(checkout) == 1
    err = capsys.readouterr().err
    assert (f"layer violation: fovea_ctl/model.py:{line} imports fovea_ctl.cli.help: model, settings, errors, "
            "fovea_ctl may not import __main__, cli, a layer above it") in err


def test_imports_down_a_layer_and_within_one_pass(checkout: Path) -> None:
    plant(checkout, "data/rotate.py", "from fovea_ctl.render import compose\n")  # a sibling of the same layer
    plant(checkout, "ops/logs.py", "from fovea_ctl.core import background\n")    # two layers down
    assert check(checkout) == 0


def test_a_module_in_no_layer_fails(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(checkout, "modelling.py", "X = 1\n")  # `fovea_ctl.model` claims model and its submodules, not this
    assert check(checkout) == 1
    assert "fovea_ctl/modelling.py: fovea_ctl.modelling belongs to no layer" in capsys.readouterr().err


def test_a_violation_that_went_away_must_leave_the_baseline(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = checkout / "layer_violations.txt"
    baseline.write_text(baseline.read_text() + "fovea_ctl.model -> fovea_ctl.ops.status\n")
    assert check(checkout) == 1
    assert "no longer a layer violation: fovea_ctl.model -> fovea_ctl.ops.status" in capsys.readouterr().err
    assert check(checkout, "--update") == 0
    assert baseline.read_text() == CHECKER.LAYER_BASELINE.read_text()
    assert check(checkout) == 0


def test_update_never_adds_a_violation(checkout: Path) -> None:
    plant(checkout, "model.py", "from fovea_ctl.cli.help import TYPE_WORDS\n")
    assert check(checkout, "--update") == 1
    assert (checkout / "layer_violations.txt").read_text() == CHECKER.LAYER_BASELINE.read_text()
