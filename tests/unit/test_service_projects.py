"""Each service's pyproject.toml says what its image installs: its `==` pins are the hash-pinned requirements' own
versions, its package is the folder the image copies, and its pytest configuration finds the service's tests."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# service folder → the requirements file its image installs with pip (hash-pinned, --no-deps)
SERVICES = {"backend": "requirements.txt", "model_service": "requirements.lock"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _pins(lines: list[str]) -> dict[str, str]:
    return {_name(m[1]): m[2] for line in lines if (m := PIN.match(line.strip()))}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_services_pins_are_its_requirements_versions(service: str) -> None:
    folder = ROOT / "services" / service
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    declared = _pins(project["project"]["dependencies"])
    locked = _pins((folder / SERVICES[service]).read_text().splitlines())
    assert declared, "the pip-installed dependencies are pinned"
    differing = {name: (version, locked.get(name)) for name, version in declared.items() if locked.get(name) != version}
    assert not differing, f"pyproject.toml pin vs {SERVICES[service]}: {differing}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_services_package_and_tests_are_where_its_project_says(service: str) -> None:
    folder = ROOT / "services" / service
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    for package in project["tool"]["setuptools"]["packages"]:
        assert (folder / package / "__init__.py").is_file()
        assert f"COPY {package} " in (folder / "Dockerfile").read_text()
    for tests in project["tool"]["pytest"]["ini_options"]["testpaths"]:
        assert sorted((folder / tests).resolve().glob("test_*.py")), f"{service}: no tests under {tests}"
    # The image's content hash leaves pyproject.toml out (it does not go into the image).
    assert "pyproject.toml" in (folder / ".dockerignore").read_text().splitlines()
