"""What a persona's ontology allows an event or a relation to say: the check behind "an event whose role is filled
with the wrong type" and "a relation violating its constraint".

The ontology (one per persona, free JSON edited on the Ontology page) declares, besides names and colours:

    eventTypes[]:    {id, name, roles: [{roleTypeId, optional?, minOccurrences?, maxOccurrences?}], attributes?}
    roleTypes[]:     {id, name, allowedFillerTypes?: ["entity" | "event" | <entity or event type id>, ...]}
    relationTypes[]: {id, name, sourceTypes?: [...], targetTypes?: [...]}   (same vocabulary as allowedFillerTypes)

An empty or absent list allows anything; "entity" / "event" allow any object of that kind (upstream FOVEA's
vocabulary); a type id allows objects of that type only. A track is evidence of an entity: its kind is "entity",
its type the track's type. A world entity's type is the one this persona assigned it (`typeAssignments`). An
event (annotated in the same video) is of kind "event" with its type.

The editor library applies the same rules before an edit (services/frontend/src/editor/semantics.ts); the server
applies them to every save and import, so what is stored always passed them at the time it was written. A track's
type changed later is not refused because of the events it is in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Ref = dict[str, Any]  # {kind: "track" | "entity" | "event", id}
Problem = tuple[tuple[str | int, ...], str]  # (where inside the object, why)


@dataclass(frozen=True)
class Resolved:
    """What a reference points at, as the rules see it."""

    kind: str  # "entity" or "event"
    type_id: str | None
    description: str  # for messages: «bus 3» (track), entity «Ann», event «goal»


Resolver = Callable[[Ref], Resolved | None]


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    return {str(item["id"]): item for item in items or [] if isinstance(item, dict) and "id" in item}


@dataclass(frozen=True)
class Ontology:
    entity_types: dict[str, dict[str, Any]]
    event_types: dict[str, dict[str, Any]]
    role_types: dict[str, dict[str, Any]]
    relation_types: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, entity_types: Any, event_types: Any, role_types: Any, relation_types: Any) -> Ontology:
        return cls(_by_id(entity_types), _by_id(event_types), _by_id(role_types), _by_id(relation_types))

    def type_name(self, type_id: str | None) -> str:
        if type_id is None:
            return "of no type"
        found = self.entity_types.get(type_id) or self.event_types.get(type_id)
        return f"a {found.get('name') or type_id}" if found else f"of type {type_id}"

    def allowed(self, allowed: Any, what: Resolved) -> bool:
        if not allowed:
            return True
        return what.kind in allowed or (what.type_id is not None and what.type_id in allowed)

    def describe_allowed(self, allowed: list[str]) -> str:
        names = []
        for item in allowed:
            if item in ("entity", "event"):
                names.append(f"any {item}")
            else:
                found = self.entity_types.get(item) or self.event_types.get(item)
                names.append(str(found.get("name") or item) if found else item)
        return " or ".join(names)


def check_event(fields: dict[str, Any], ontology: Ontology | None, resolve: Resolver) -> list[Problem]:
    """Problems of an event's type and role fillers (fields by wire name: type, roles, ...)."""
    if ontology is None:  # no persona: free text, nothing to hold it to
        return []
    event_type = ontology.event_types.get(fields["type"])
    if event_type is None:
        names = ", ".join(str(t.get("name") or i) for i, t in ontology.event_types.items()) or "none yet"
        return [(("type",), f"{fields['type']!r} is not an event type of this persona (it has: {names})")]
    slots = {str(r.get("roleTypeId")): r for r in event_type.get("roles") or [] if isinstance(r, dict)}
    problems: list[Problem] = []
    for role_id, fillers in (fields.get("roles") or {}).items():
        slot = slots.get(role_id)
        role = ontology.role_types.get(role_id, {})
        role_name = role.get("name") or role_id
        if slot is None:
            problems.append((("roles", role_id), f"{event_type.get('name') or fields['type']} has no role {role_name}"))
            continue
        most = slot.get("maxOccurrences")
        if isinstance(most, int) and len(fillers) > most:
            problems.append((("roles", role_id), f"the role {role_name} takes at most {most}, got {len(fillers)}"))
        for position, ref in enumerate(fillers):
            what = resolve(ref)
            if what is None:
                problems.append((("roles", role_id, position), f"the role {role_name} names a {ref.get('kind')} that"
                                                               f" does not exist here: {ref.get('id')}"))
                continue
            allowed = role.get("allowedFillerTypes") or []
            if not ontology.allowed(allowed, what):
                problems.append((("roles", role_id, position),
                                 f"{what.description} is {ontology.type_name(what.type_id)}; the role {role_name} takes"
                                 f" {ontology.describe_allowed(allowed)}"))
    return problems


def check_relation(fields: dict[str, Any], ontology: Ontology | None, resolve: Resolver) -> list[Problem]:
    """Problems of a relation's type and its two ends."""
    if ontology is None:
        return []
    relation_type = ontology.relation_types.get(fields["type"])
    if relation_type is None:
        names = ", ".join(str(t.get("name") or i) for i, t in ontology.relation_types.items()) or "none yet"
        return [(("type",), f"{fields['type']!r} is not a relation type of this persona (it has: {names})")]
    name = relation_type.get("name") or fields["type"]
    problems: list[Problem] = []
    for end, constraint in (("source", "sourceTypes"), ("target", "targetTypes")):
        ref = fields[end]
        what = resolve(ref)
        if what is None:
            problems.append(((end,), f"the {end} is a {ref.get('kind')} that does not exist here: {ref.get('id')}"))
            continue
        allowed = relation_type.get(constraint) or []
        if not ontology.allowed(allowed, what):
            problems.append(((end,), f"{what.description} is {ontology.type_name(what.type_id)}; a {name} relation's {end}"
                                     f" must be {ontology.describe_allowed(allowed)}"))
    return problems


def check(kind: str, fields: dict[str, Any], ontology: Ontology | None, resolve: Resolver) -> list[Problem]:
    if kind == "event":
        return check_event(fields, ontology, resolve)
    if kind == "relation":
        return check_relation(fields, ontology, resolve)
    return []


def entity_type_for(entity: dict[str, Any], persona_id: str | None) -> str | None:
    """The type a persona gave a world entity (upstream's typeAssignments), or None."""
    for assignment in entity.get("typeAssignments") or []:
        if isinstance(assignment, dict) and str(assignment.get("personaId")) == str(persona_id):
            value = assignment.get("entityTypeId")
            return str(value) if value is not None else None
    return None
