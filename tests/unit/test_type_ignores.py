"""The type-ignore rule of .ci/check_types.py: every `# type: ignore` in fovea_ctl names its code and says why on its
line; this checkout keeps it, and a bare or unexplained ignore is named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ci_scripts import load_ci_script
from tests.conftest import ROOT


CHECKER = load_ci_script("check_types")


def test_every_type_ignore_in_this_checkout_names_its_code_and_reason() -> None:
    assert CHECKER.main(["--root", str(ROOT), "--no-mypy"]) == 0


@pytest.mark.parametrize("line", [
    "x = f()  # type: ignore",
    "x = f()  # type: ignore[arg-type]",
    "x = f()  # type: ignore[arg-type]  #",
    "x = f()  # type:ignore  # the stub is wrong",
])
def test_an_ignore_without_code_or_reason_is_named_with_its_line(line: str) -> None:
    found = CHECKER.unexplained_ignores(f"import os\n{line}\n", Path("fovea_ctl/example.py"))
    assert [(problem.line, str(problem.path)) for problem in found] == [(2, "fovea_ctl/example.py")]
    assert "needs its error code and a reason" in str(found[0])


@pytest.mark.parametrize("source", [
    "x = f()  # type: ignore[arg-type]  # the stub wants one EndpointConfig; the SDK takes a dict\n",
    "x = f()  # type: ignore[arg-type, attr-defined]  # why, in words\n",
    'message = "# type: ignore is text here, not a comment"\n',
    "x = f()  # not an ignore: type annotations come later\n",
])
def test_an_explained_ignore_or_mere_text_passes(source: str) -> None:
    assert CHECKER.unexplained_ignores(source, Path("fovea_ctl/example.py")) == []


def test_a_planted_bare_ignore_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "fovea_ctl").mkdir()
    (tmp_path / "fovea_ctl" / "planted.py").write_text("import os\n\nvalue: int = os.environ.get('X')  # type: ignore\n")
    assert CHECKER.main(["--root", str(tmp_path), "--no-mypy"]) == 1
    assert "fovea_ctl/planted.py:3:" in capsys.readouterr().err
