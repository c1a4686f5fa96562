""""Suggest types" from the persona's own videos: the words the backend counts (fovea_backend.terms) and the order the
model service gives its suggestions in (model_service.augment), with a stand-in embedder: the real one (MiniLM) and
the real WordNet files are in the image, where tests/model_service/test_wordnet.py and tests/test_jobs_end_to_end.py
use them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "model_service"))
sys.path.insert(0, str(ROOT / "services" / "backend"))
from fovea_backend.terms import count_terms  # noqa: E402
from model_service.augment import AugmentParams, augment  # noqa: E402
from model_service.wordnet import WordNet  # noqa: E402


def test_words_said_and_shown_are_counted_per_video_without_stop_words_or_numbers() -> None:
    said = [("v1", "Police closed the bridge today. The bridge reopens at 6."), ("v2", "A bridge, 2 cars.")]
    shown = [("v1", "EXIT"), ("v3", "EXIT 12"), ("v3", "harbour")]
    terms = count_terms(said, shown)
    assert terms["bridge"] == {"said": 3, "said_videos": 2, "shown_videos": 0}
    assert terms["EXIT"] == {"said": 0, "said_videos": 0, "shown_videos": 2}  # as written on screen
    assert terms["police"]["said"] == 1  # a transcriber's sentence capital is not the word's
    assert not {"the", "today", "at", "6", "12", "a"} & {t.lower() for t in terms}


class _Embedder:
    """Unit vectors in a plane: "transit" words along the persona, "Exit" near it, everything else at right angles."""

    TRANSIT = ("Bus", "Depot", "Vehicle", "Boarding", "Passenger", "Driver")

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[0.8, 0.6] if t.startswith(self.TRANSIT) or "transit" in t else [1.0, 0.0] if t.startswith("Exit")
                else [-0.6, 0.8] for t in texts]


def _suggest(params: dict[str, Any]) -> list[dict[str, Any]]:
    persona = {"name": "Transit planner", "informationNeed": "transit"}
    no_wordnet = WordNet(Path("/nonexistent"))
    return augment(_Embedder(), persona, {"entityTypes": [{"name": "Person"}]},  # type: ignore[arg-type]
                   AugmentParams.model_validate(params), no_wordnet)["suggestions"]


def test_detections_come_first_then_words_from_the_videos_by_relevance_then_the_fixed_list() -> None:
    suggestions = _suggest({"evidence": {"bus": {"detections": 12, "videos": 3}}, "max_suggestions": 6,
                            "terms": {"bus": {"said": 2, "said_videos": 1}, "depot": {"said": 4, "said_videos": 2},
                                      "EXIT": {"shown_videos": 1},
                                      "weather": {"said": 9, "said_videos": 1}}})
    assert [s["name"] for s in suggestions[:3]] == ["Bus", "Depot", "Exit"]
    assert suggestions[0]["evidence"] == "bus: 12 detections in 3 videos; 'bus': said 2 times in 1 video"
    assert suggestions[1]["evidence"] == "'depot': said 4 times in 2 videos"
    assert suggestions[2]["evidence"] == "'EXIT': on screen in 1 video"
    assert "Weather" not in [s["name"] for s in suggestions]  # said often, but nothing to do with the persona
    assert all(s["evidence"] is None for s in suggestions[3:])  # the fixed vocabulary fills the rest
    # WordNet absent: no gloss is made up.
    assert all(s["gloss"] is None and s["hypernyms"] == [] for s in suggestions)


def test_without_evidence_from_the_videos_the_fixed_list_is_the_fallback() -> None:
    suggestions = _suggest({"max_suggestions": 3})
    assert suggestions and all(s["evidence"] is None for s in suggestions)
    assert "Person" not in [s["name"] for s in suggestions]  # the persona has it already
