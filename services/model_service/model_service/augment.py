"""Ontology suggestions for a persona, offline: from what was detected, and from embedding similarity
between the persona, its existing types and a small built-in vocabulary of video-annotation types.

No duplicates: a candidate whose normalised name equals an existing type of the same category, or whose
embedding is nearly identical to one (cosine >= 0.9), is dropped. Every suggestion carries a confidence
and a reason a person can check.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_service.models import ModelRegistry

CATEGORIES = ("entityTypes", "eventTypes", "roleTypes", "relationTypes")
NEAR_DUPLICATE = 0.9

# A compact, general vocabulary for video annotation; the persona's own context picks among it.
VOCABULARY: dict[str, list[tuple[str, str]]] = {
    "entityTypes": [
        ("Person", "A human visible in the scene"),
        ("Vehicle", "A car, truck, bus or other road vehicle"),
        ("Bicycle", "A bicycle, ridden or parked"),
        ("Animal", "An animal such as a dog, cat, horse or bird"),
        ("Bag", "A bag, backpack or suitcase carried or left behind"),
        ("Building", "A building or structure in the scene"),
        ("Sign", "A traffic sign, signboard or written notice"),
        ("Crowd", "A dense group of people treated as one unit"),
        ("Equipment", "A tool, machine or device being used"),
        ("Weapon", "An object used or shown as a weapon"),
    ],
    "eventTypes": [
        ("Fall", "A person falls or ends up lying on the ground"),
        ("Arrival", "Someone or something enters the scene"),
        ("Departure", "Someone or something leaves the scene"),
        ("Meeting", "Two or more people come together and interact"),
        ("Handover", "An object passes from one person to another"),
        ("Loitering", "A person stays in an area for an unusually long time"),
        ("Collision", "Two moving things make contact"),
        ("Boarding", "A person gets on or off a vehicle"),
        ("Fight", "A physical confrontation between people"),
        ("Gathering", "A group forms in one place"),
    ],
    "roleTypes": [
        ("Agent", "The one who performs an action"),
        ("Patient", "The one an action is done to"),
        ("Bystander", "Someone present but not involved"),
        ("Driver", "The person operating a vehicle"),
        ("Passenger", "A person carried by a vehicle"),
        ("Pedestrian", "A person moving on foot"),
        ("Victim", "A person harmed in an event"),
        ("Responder", "A person who comes to help"),
    ],
    "relationTypes": [
        ("near", "Two things are close to each other"),
        ("carries", "A person holds or carries an object"),
        ("follows", "One moves behind another along the same path"),
        ("inside", "One thing is within another (a person in a vehicle or building)"),
        ("talks-to", "Two people are in conversation"),
        ("rides", "A person rides a bicycle, horse or vehicle"),
        ("part-of", "A member of a group or a part of a whole"),
    ],
}

# Detector labels -> the types they are direct evidence for.
DETECTION_EVIDENCE: dict[str, list[tuple[str, str, str]]] = {
    "person": [("entityTypes", "Person", "A human visible in the scene")],
    "fallen-person": [("eventTypes", "Fall", "A person falls or ends up lying on the ground"),
                      ("entityTypes", "Person", "A human visible in the scene"),
                      ("roleTypes", "Victim", "A person harmed in an event")],
}


class Evidence(BaseModel):
    detections: int = Field(ge=0)
    videos: int = Field(ge=0)


class AugmentParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # Detected labels, as a list or as {label: count}; or the `summary` dict a summarize job returned.
    detections: list[str] | dict[str, int] | None = None
    # Detector classes seen in this persona's videos that none of its types maps to (the backend gathers them from
    # its typed detections): {class: {detections, videos}}.
    evidence: dict[str, Evidence] | None = None
    summary: dict[str, Any] | None = None
    categories: list[str] = Field(default_factory=lambda: list(CATEGORIES))
    max_suggestions: int = Field(10, ge=1, le=100)
    min_confidence: float = Field(0.35, ge=0.0, le=1.0)


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _persona_text(persona: dict[str, Any]) -> str:
    fields = ("name", "role", "informationNeed", "information_need", "description", "details")
    return ". ".join(str(persona[f]) for f in fields if persona.get(f)) or "video annotation"


def _detected_counts(params: AugmentParams) -> dict[str, int]:
    counts: dict[str, int] = {}
    if isinstance(params.detections, dict):
        counts.update({str(k): int(v) for k, v in params.detections.items()})
    elif params.detections:
        for label in params.detections:
            counts[str(label)] = counts.get(str(label), 0) + 1
    for label, seen in (params.evidence or {}).items():
        counts[label] = max(counts.get(label, 0), seen.detections)
    for obj in (params.summary or {}).get("objects", []):
        counts[str(obj["label"])] = max(counts.get(str(obj["label"]), 0), int(obj.get("count", 1)))
    return counts


def _cosine(a: list[float], b: list[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b)))  # the embedder returns unit vectors


def augment(registry: ModelRegistry, persona: dict[str, Any], ontology: dict[str, Any],
            params: AugmentParams) -> dict[str, list[dict[str, Any]]]:
    existing = {c: [t for t in ontology.get(c) or [] if isinstance(t, dict) and t.get("name")] for c in CATEGORIES}
    existing_names = {c: {normalise(t["name"]) for t in existing[c]} for c in CATEGORIES}

    # Candidates: (category, name, description) -> evidence from detections, if any.
    candidates: dict[tuple[str, str], dict[str, Any]] = {}
    for label, count in _detected_counts(params).items():
        evidence = DETECTION_EVIDENCE.get(label) or [("entityTypes", label.replace("-", " ").title(),
                                                      f"A {label} visible in the scene")]
        for category, name, description in evidence:
            entry = candidates.setdefault((category, name), {"description": description, "detected": {}})
            entry["detected"][label] = count
    for category, words in VOCABULARY.items():
        for name, description in words:
            candidates.setdefault((category, name), {"description": description, "detected": {}})
    keys = [k for k in candidates if k[0] in params.categories and normalise(k[1]) not in existing_names[k[0]]]
    if not keys:
        return {"suggestions": []}

    persona_text = _persona_text(persona)
    existing_texts = [(c, t["name"], f"{t['name']}: {t.get('description') or ''}") for c in CATEGORIES
                      for t in existing[c]]
    vectors = registry.embed([persona_text] + [f"{n}: {candidates[(c, n)]['description']}" for c, n in keys]
                             + [text for _, _, text in existing_texts])
    persona_vec, candidate_vecs = vectors[0], vectors[1:1 + len(keys)]
    existing_vecs = vectors[1 + len(keys):]

    suggestions = []
    for (category, name), vec in zip(keys, candidate_vecs):
        same_category = [(n, _cosine(vec, v)) for (c, n, _), v in zip(existing_texts, existing_vecs)
                         if c == category]
        if any(score >= NEAR_DUPLICATE for _, score in same_category):
            continue  # a rename of an existing type, not a new one
        relevance = max(0.0, _cosine(vec, persona_vec))
        closest = max(same_category, key=lambda item: item[1], default=None)
        context = max(0.0, closest[1]) if closest else 0.0
        detected = candidates[(category, name)]["detected"]
        if detected:
            seen = sum(detected.values())
            confidence = min(0.99, 0.6 + 0.05 * min(seen, 5) + 0.15 * relevance)
            labels = ", ".join(f"{count} '{label}'" for label, count in sorted(detected.items()))
            reason = f"the detector found {labels} in the video and the ontology has no {category[:-5]} type '{name}'"
            from_videos = [(label, params.evidence[label]) for label in sorted(detected)
                           if params.evidence and label in params.evidence]
            if from_videos:
                reason = "; ".join(f"{label}: {e.detections} detections in {e.videos} video{'s' if e.videos != 1 else ''}"
                                   for label, e in from_videos) + " of this persona, which no type of it maps"
        else:
            # MiniLM cosines between a persona and a fitting type sit around 0.2-0.45: map that band onto
            # 0.4-0.7, below any type the detector saw evidence for.
            confidence = min(0.9, 0.15 + 1.2 * relevance + 0.25 * context)
            reason = f"related to the persona ({relevance:.2f} similarity)"
            if closest and context > 0.3:
                reason += f" and close to the existing type '{closest[0]}' ({context:.2f})"
        if confidence < params.min_confidence:
            continue
        suggestions.append({"category": category, "name": name,
                            "description": candidates[(category, name)]["description"],
                            "confidence": round(confidence, 3), "reason": reason})
    suggestions.sort(key=lambda s: (-s["confidence"], s["category"], s["name"]))
    return {"suggestions": suggestions[: params.max_suggestions]}
