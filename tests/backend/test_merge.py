"""The merge rule of the merging save, case by case, without a database: the cases in the editor library's
merge.cases.json, which the frontend's Vitest suite runs against its own implementation (changes.test.ts), so
the editor's undo/rebase/journal and the server merge alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

import backend_harness  # noqa: F401 - puts services/backend on sys.path
from fovea_backend.merge import KINDS, Rules, merge, stored_object
from fovea_backend.schemas import TrackChange

CASES = json.loads((Path(__file__).resolve().parents[2] / "services" / "frontend" / "src" / "editor"
                    / "merge.cases.json").read_text())["cases"]
CHANGE = TypeAdapter(TrackChange)


def _track(wire: dict[str, Any] | None, kind: str = "track") -> Any:
    if wire is None:
        return None
    return stored_object(KINDS[kind], {k: v for k, v in wire.items() if k not in ("frames", "version")},
                         wire.get("frames", []), wire["version"])


def _comparable(track: Any) -> Any:
    if track is None:
        return None
    frames = [{**kf, "outside": bool(kf.get("outside", False))} for kf in track.frame_list()]
    return {**track.fields, "frames": frames, "version": track.version}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_merge_case(case: dict[str, Any]) -> None:
    video = case.get("video", {})
    kind = case.get("kind", "track")
    outcome = merge(0, CHANGE.validate_python(case["change"]), _track(case["stored"], kind), case.get("deletedRev"),
                    case.get("baseRevision", 1), Rules(width=video.get("width"), height=video.get("height")))
    expect = case["expect"]
    assert _comparable(outcome.track) == _comparable(_track(expect["track"], kind))
    wanted = expect["conflicts"]
    assert len(outcome.conflicts) == len(wanted), [c.wire() for c in outcome.conflicts]
    for got, want in zip(outcome.conflicts, wanted, strict=True):
        wire = got.wire()
        assert {k: wire.get(k) for k in want} == want
    assert [list(r.loc[3:]) for r in outcome.rejected] == expect.get("rejected", [])
    assert all(r.loc[:3] == ("body", "changes", 0) for r in outcome.rejected)
    # Something is written exactly when the stored track changes.
    assert outcome.write == (_comparable(outcome.track) != _comparable(_track(case["stored"], kind)))
