"""Every label key fovea writes or reads is defined once, in fovea_ctl/docker/labels.py: a key spelt out anywhere else
in fovea_ctl (a string, or part of an f-string; docstrings and comments may name keys) fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import fovea_ctl
from fovea_ctl.docker import labels

PACKAGE = Path(fovea_ctl.__file__).resolve().parent
LABEL_KEY = re.compile(r"(?<![\w/.])(io\.fovea[./][a-z][a-z0-9.-]*|com\.docker\.[a-z][a-z0-9.-]*)")


def docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def label_keys_written_in(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    skip = docstrings(tree)
    return [(node.lineno, key) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            for key in LABEL_KEY.findall(node.value)]


def test_no_label_key_is_spelt_outside_the_labels_module() -> None:
    scattered = [f"{path.relative_to(PACKAGE.parent)}:{line}: {key}"
                 for path in sorted(PACKAGE.rglob("*.py")) if path.name != "labels.py" or path.parent != PACKAGE / "docker"
                 for line, key in label_keys_written_in(path)]
    assert scattered == [], "label keys belong in fovea_ctl/docker/labels.py:\n" + "\n".join(scattered)


def test_the_scan_finds_every_key_the_labels_module_defines() -> None:
    # The check above can fail: run on labels.py itself it finds each key defined there, and nothing else.
    defined = sorted(value for name, value in vars(labels).items() if name.isupper() and isinstance(value, str))
    assert len(defined) >= 20
    assert sorted(key for _, key in label_keys_written_in(Path(labels.__file__))) == defined
