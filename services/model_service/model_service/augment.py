"""Ontology suggestions for a persona, offline, in three tiers: detector classes its videos showed that none of its
types maps; words said (transcripts) and shown (on-screen text) in its videos, ranked by embedding similarity to the
persona; and, as the fallback, a small built-in vocabulary of video-annotation types. Each suggestion carries its
evidence and, where WordNet knows the word, its gloss and hypernyms (model_service.wordnet).

No duplicates: a candidate whose normalised name equals an existing type of the same category, or whose
embedding is nearly identical to one (cosine >= 0.9), is dropped. Every suggestion carries a confidence
and a reason a person can check.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_service.models import ModelRegistry
from model_service.wordnet import WordNet, wordnet

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


class TermEvidence(BaseModel):
    """How often a word was said in the persona's videos' transcripts, and in how many of them it was on screen."""
    said: int = Field(0, ge=0)
    said_videos: int = Field(0, ge=0)
    shown_videos: int = Field(0, ge=0)

    def describe(self, term: str) -> str:
        parts = []
        if self.said:
            parts.append(f"said {_plural(self.said, 'time')} in {_plural(self.said_videos, 'video')}")
        if self.shown_videos:
            parts.append(f"on screen in {_plural(self.shown_videos, 'video')}")
        return f"'{term}': " + ", ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class AugmentParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # Detected labels, as a list or as {label: count}; or the `summary` dict a summarize job returned.
    detections: list[str] | dict[str, int] | None = None
    # Detector classes seen in this persona's videos that none of its types maps to (the backend gathers them from
    # its typed detections): {class: {detections, videos}}.
    evidence: dict[str, Evidence] | None = None
    summary: dict[str, Any] | None = None
    # Words said and shown in this persona's videos, as the backend counted them (stop words and numbers dropped).
    terms: dict[str, TermEvidence] | None = None
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


def _term_name(term: str) -> str:
    return term[:1].upper() + term[1:].lower()


def augment(registry: ModelRegistry, persona: dict[str, Any], ontology: dict[str, Any],
            params: AugmentParams, words: WordNet | None = None) -> dict[str, list[dict[str, Any]]]:
    words = words or wordnet()
    existing = {c: [t for t in ontology.get(c) or [] if isinstance(t, dict) and t.get("name")] for c in CATEGORIES}
    existing_names = {c: {normalise(t["name"]) for t in existing[c]} for c in CATEGORIES}

    # Candidates: (category, name) -> description, evidence from detections and from what was said and shown.
    candidates: dict[tuple[str, str], dict[str, Any]] = {}
    for label, count in _detected_counts(params).items():
        evidence = DETECTION_EVIDENCE.get(label) or [("entityTypes", label.replace("-", " ").title(),
                                                      f"A {label} visible in the scene")]
        for category, name, description in evidence:
            entry = candidates.setdefault((category, name), {"description": description, "detected": {}, "word": label})
            entry["detected"][label] = count
    for term, seen in (params.terms or {}).items():
        gloss = words.gloss(term)
        entry = candidates.setdefault(("entityTypes", _term_name(term)), {
            "description": gloss.definition if gloss else seen.describe(term), "detected": {}, "word": term})
        entry["term"] = (term, seen)
    for category, vocabulary in VOCABULARY.items():
        for name, description in vocabulary:
            candidates.setdefault((category, name), {"description": description, "detected": {}, "word": name})
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
        candidate = candidates[(category, name)]
        detected, term = candidate["detected"], candidate.get("term")
        evidence: str | None = None
        if detected:
            tier = 0
            seen = sum(detected.values())
            confidence = min(0.99, 0.6 + 0.05 * min(seen, 5) + 0.15 * relevance)
            labels = ", ".join(f"{count} '{label}'" for label, count in sorted(detected.items()))
            reason = f"the detector found {labels} in the video and the ontology has no {category[:-5]} type '{name}'"
            evidence = "; ".join(f"{label}: {count} detections" for label, count in sorted(detected.items()))
            from_videos = [(label, params.evidence[label]) for label in sorted(detected)
                           if params.evidence and label in params.evidence]
            if from_videos:
                evidence = "; ".join(f"{label}: {e.detections} detections in {_plural(e.videos, 'video')}"
                                     for label, e in from_videos)
                reason = evidence + " of this persona, which no type of it maps"
            if term:  # seen by the detector and said or shown too: both are evidence
                evidence += "; " + term[1].describe(term[0])
        elif term:
            # Said or shown in the persona's videos: ranked by how close the word is to the persona, below what the
            # detector saw and above the fixed vocabulary.
            tier = 1
            confidence = min(0.59, 0.25 + relevance)
            evidence = term[1].describe(term[0])
            reason = f"{evidence} of this persona; related to the persona ({relevance:.2f} similarity)"
        else:
            # MiniLM cosines between a persona and a fitting type sit around 0.2-0.45: map that band onto
            # 0.4-0.7, below any type the detector saw evidence for.
            tier = 2
            confidence = min(0.9, 0.15 + 1.2 * relevance + 0.25 * context)
            reason = f"related to the persona ({relevance:.2f} similarity)"
            if closest and context > 0.3:
                reason += f" and close to the existing type '{closest[0]}' ({context:.2f})"
        if confidence < params.min_confidence:
            continue
        suggestions.append((tier, {"category": category, "name": name, "description": candidate["description"],
                                   "confidence": round(confidence, 3), "reason": reason, "evidence": evidence,
                                   "word": candidate["word"]}))
    # The fixed vocabulary only fills what the persona's own videos leave.
    suggestions.sort(key=lambda s: (s[0], -s[1]["confidence"], s[1]["category"], s[1]["name"]))
    kept = [s for _, s in suggestions[: params.max_suggestions]]
    for suggestion in kept:
        gloss = words.gloss(suggestion.pop("word"))
        suggestion["gloss"] = gloss.definition if gloss else None
        suggestion["hypernyms"] = list(gloss.hypernyms) if gloss else []
    return {"suggestions": kept}
