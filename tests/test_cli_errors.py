"""Bad input on the command line: one clear line, exit code 2, no traceback, no engine call needed."""

from __future__ import annotations

import os

from tests.conftest import ROOT, run_fovea


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
