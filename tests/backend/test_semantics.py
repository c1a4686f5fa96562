"""The ontology's rules for events and relations, case by case, without a database: the cases in the editor
library's semantics.cases.json, which the frontend's Vitest suite runs against its own implementation
(semantics.test.ts), so the editor refuses before an edit exactly what the server refuses on a save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import backend_harness  # noqa: F401 - puts services/backend on sys.path
from fovea_backend import semantics

CASES = json.loads((Path(__file__).resolve().parents[2] / "services" / "frontend" / "src" / "editor"
                    / "semantics.cases.json").read_text())
ONTOLOGY = semantics.Ontology.of(*(CASES["ontology"][k] for k in ("entityTypes", "eventTypes", "roleTypes", "relationTypes")))


def resolve(ref: dict[str, Any]) -> semantics.Resolved | None:
    found = CASES["objects"].get(f"{ref['kind']}:{ref['id']}")
    return semantics.Resolved(found["kind"], found["typeId"], found["description"]) if found else None


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_semantics_case(case: dict[str, Any]) -> None:
    kind = "event" if "event" in case else "relation"
    problems = semantics.check(kind, case[kind], ONTOLOGY, resolve)
    assert [{"where": list(where), "message": message} for where, message in problems] == case["problems"]
