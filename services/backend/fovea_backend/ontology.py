"""Is a persona's ontology well formed: the parts the annotation model reads (attributes, role slots, filler and
relation constraints) checked before it is stored, each problem named by its place.

The ontology stays free JSON otherwise (upstream FOVEA's types carry more: glosses, examples, weights), so only
what the workspace and `semantics.py` act on is held to a shape:

    entityTypes[].detectorClasses: [class names]: what a detector's classes mean for this persona (Vehicle <- car,
                                bus, truck); absent: the model service proposes them (typed detection)
    entityTypes[] / eventTypes[].attributes[]: {name, type: text|number|choice|checkbox, options? (choice),
                                                mutable?: bool (changes per keyframe), default?}
    eventTypes[].roles[]:  {roleTypeId (a role type of this ontology), optional?, minOccurrences?, maxOccurrences?}
    roleTypes[].allowedFillerTypes, relationTypes[].sourceTypes / targetTypes:
                            "entity", "event", or the id of an entity or event type of this ontology

Ids must be unique within their list, and an entity type and an event type must not share one (a constraint naming
it would be ambiguous).
"""

from __future__ import annotations

from typing import Any

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
CATEGORIES = ("entityTypes", "eventTypes", "roleTypes", "relationTypes")
ATTRIBUTE_TYPES = ("text", "number", "choice", "checkbox")
KINDS = ("entity", "event")


def _label(item: dict[str, Any], index: int) -> str:
    name = item.get("name") or item.get("id")
    return repr(name) if isinstance(name, str) and name else f"#{index + 1}"


def _attribute_problems(attributes: Any, loc: Loc, owner: str) -> list[Problem]:
    if not isinstance(attributes, list):
        return [(loc, f"{owner}: attributes must be a list")]
    problems: list[Problem] = []
    names: set[str] = set()
    for i, attribute in enumerate(attributes):
        here = (*loc, i)
        if not isinstance(attribute, dict):
            problems.append((here, f"{owner}: attribute {i + 1} must be an object"))
            continue
        name, kind = attribute.get("name"), attribute.get("type")
        if not isinstance(name, str) or not name.strip():
            problems.append(((*here, "name"), f"{owner}: attribute {i + 1} needs a name"))
        elif name in names:
            problems.append(((*here, "name"), f"{owner}: two attributes are named {name!r}"))
        else:
            names.add(name)
        what = f"{owner}: attribute {name!r}" if isinstance(name, str) and name else f"{owner}: attribute {i + 1}"
        if kind not in ATTRIBUTE_TYPES:
            problems.append(((*here, "type"), f"{what} has type {kind!r}; use one of {', '.join(ATTRIBUTE_TYPES)}"))
            continue
        if "mutable" in attribute and not isinstance(attribute["mutable"], bool):
            problems.append(((*here, "mutable"), f"{what}: mutable must be true or false"))
        options = attribute.get("options")
        if kind == "choice":
            if not isinstance(options, list) or not options or not all(isinstance(o, str) and o.strip() for o in options):
                problems.append(((*here, "options"), f"{what} is a choice: give it at least one option (non-empty text)"))
                options = None
            elif len(set(options)) != len(options):
                problems.append(((*here, "options"), f"{what} lists an option twice"))
        default = attribute.get("default")
        if default is not None and default != "":
            fits = {"text": isinstance(default, str), "number": isinstance(default, int | float) and not isinstance(default, bool),
                    "checkbox": isinstance(default, bool), "choice": isinstance(options, list) and default in options}[kind]
            if not fits:
                problems.append(((*here, "default"), f"{what}: the default {default!r} is not a valid {kind} value"
                                 + (" (not one of its options)" if kind == "choice" else "")))
    return problems


def _constraint_problems(values: Any, loc: Loc, owner: str, known: dict[str, str]) -> list[Problem]:
    if not isinstance(values, list):
        return [(loc, f"{owner}: must be a list of 'entity', 'event' or type ids")]
    problems: list[Problem] = []
    for i, value in enumerate(values):
        if value in KINDS:
            continue
        if not isinstance(value, str) or value not in known:
            names = ", ".join(sorted(known.values())) or "none yet"
            problems.append(((*loc, i), f"{owner}: {value!r} is neither 'entity', 'event' nor an entity or event type of"
                                        f" this ontology (its types: {names})"))
    return problems


def _roles_problems(roles: Any, loc: Loc, owner: str, role_types: dict[str, str]) -> list[Problem]:
    if not isinstance(roles, list):
        return [(loc, f"{owner}: roles must be a list of role slots")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, slot in enumerate(roles):
        here = (*loc, i)
        if not isinstance(slot, dict):
            problems.append((here, f"{owner}: role slot {i + 1} must be an object"))
            continue
        role = slot.get("roleTypeId")
        if not isinstance(role, str) or role not in role_types:
            names = ", ".join(sorted(role_types.values())) or "none yet: add role types first"
            problems.append(((*here, "roleTypeId"), f"{owner}: role slot {i + 1} names {role!r}, not a role type of this"
                                                    f" ontology (its role types: {names})"))
        elif role in seen:
            problems.append(((*here, "roleTypeId"), f"{owner}: the role {role_types[role]} is listed twice"))
        else:
            seen.add(role)
        least, most = slot.get("minOccurrences"), slot.get("maxOccurrences")
        for key, value, low in (("minOccurrences", least, 0), ("maxOccurrences", most, 1)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                problems.append(((*here, key), f"{owner}: {key} must be a whole number of at least {low}"))
        if isinstance(least, int) and isinstance(most, int) and least > most:
            problems.append(((*here, "minOccurrences"), f"{owner}: minOccurrences {least} is more than maxOccurrences {most}"))
        if "optional" in slot and not isinstance(slot["optional"], bool):
            problems.append(((*here, "optional"), f"{owner}: optional must be true or false"))
    return problems


def ontology_problems(ontology: dict[str, list[Any]], root: Loc = ("body",)) -> list[Problem]:
    """Every problem of an ontology (lists by wire name), each with its place under `root`."""
    problems: list[Problem] = []
    ids: dict[str, dict[str, str]] = {}
    for category in CATEGORIES:
        ids[category] = {}
        for index, item in enumerate(ontology.get(category) or []):
            ident = item.get("id") if isinstance(item, dict) else None
            if ident is None:
                continue
            if not isinstance(ident, str) or not ident:
                problems.append(((*root, category, index, "id"), f"{category} {index + 1}: the id must be non-empty text"))
            elif ident in ids[category]:
                problems.append(((*root, category, index, "id"), f"{category}: two types have the id {ident!r}"))
            else:
                ids[category][ident] = str(item.get("name") or ident)
    for ident in ids["entityTypes"].keys() & ids["eventTypes"].keys():
        index = next(i for i, t in enumerate(ontology["eventTypes"]) if isinstance(t, dict) and t.get("id") == ident)
        problems.append(((*root, "eventTypes", index, "id"), f"the event type id {ident!r} is also an entity type's: a"
                                                             " role or relation naming it would be ambiguous"))
    typed = {**ids["entityTypes"], **ids["eventTypes"]}
    for category in CATEGORIES:
        for index, item in enumerate(ontology.get(category) or []):
            if not isinstance(item, dict):
                continue
            loc, owner = (*root, category, index), f"{category[:-5]} type {_label(item, index)}"
            if category in ("entityTypes", "eventTypes") and "attributes" in item:
                problems += _attribute_problems(item["attributes"], (*loc, "attributes"), owner)
            if category == "entityTypes" and "detectorClasses" in item:
                classes = item["detectorClasses"]
                if not isinstance(classes, list) or not all(isinstance(c, str) and c.strip() for c in classes):
                    problems.append(((*loc, "detectorClasses"), f"{owner}: detectorClasses must be a list of detector"
                                                                " class names (e.g. car, bus, truck)"))
            if category == "eventTypes" and "roles" in item:
                problems += _roles_problems(item["roles"], (*loc, "roles"), owner, ids["roleTypes"])
            for key in ("allowedFillerTypes", "sourceTypes", "targetTypes"):
                if key in item and category in ("roleTypes", "relationTypes"):
                    problems += _constraint_problems(item[key], (*loc, key), f"{owner} {key}", typed)
    return problems
