"""Bad input on the command line: one clear line, exit code 2, no traceback, no engine call needed."""

from __future__ import annotations

import os

from tests.conftest import ROOT
from tests.unit.warm_cli import run_fovea


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "FOVEA_ROOT": str(ROOT), "FOVEA_PROJECT": "clierrors",
            "FOVEA_DOCKER_HOST": "unix:///nonexistent/docker.sock", **extra}


def test_unknown_service_is_a_usage_error() -> None:
    for args in (["plan", "nosuch"], ["up", "nosuch"], ["images", "build", "nosuch"]):
        result = run_fovea(args, env())
        assert result.returncode == 2, (args, result.stderr)
        assert "unknown service nosuch (known: postgres, redis" in result.stderr
        assert "Traceback" not in result.stderr


def test_invalid_settings_name_the_variable() -> None:
    result = run_fovea(["status"], env(FOVEA_PORT_BASE="abc"))
    assert result.returncode == 2 and "FOVEA_PORT_BASE: Input should be a valid integer" in result.stderr
    result = run_fovea(["status"], env(FOVEA_PROJECT="Bad!"))
    assert result.returncode == 2 and "FOVEA_PROJECT: String should match pattern" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_prints_the_version_and_exits_0() -> None:
    from fovea_ctl import __version__

    result = run_fovea(["--version"], env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"fovea {__version__}"


def test_unknown_command_and_misspelt_option_are_one_usage_line() -> None:
    """With the typer actually installed (>= 0.29 vendors click as typer._click): exit 2, one line."""
    for args, expected in ((["bogus"], "No such command 'bogus'"),
                           (["up", "--timeot", "3"], "No such option: --timeot")):
        result = run_fovea(args, env())
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("fovea: ") and expected in lines[0], (args, result.stderr)
        assert result.stdout == ""
