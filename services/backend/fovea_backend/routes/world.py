"""The world state shared by all personas: entities, events, times, locations, collections and relations.

Stored as one row of JSON lists (`world_state`), written one object at a time: each write locks the row, reads the
list, changes that one object and writes it back, so two people editing different objects both keep their edits,
and two editing the same field of one object get a 409 (PATCH carries each field's value as last read). The
whole-state PUT stays for tools and imports; with If-Match (GET's ETag) it refuses to replace what it has not seen.

    GET    /api/world                                  everything, ETag = the world revision
    POST   /api/world/{kind}                           one new object (client-made id; a retry is answered 200)
    PATCH  /api/world/{kind}/{id}                      {fields: {name: {from, to}}}
    DELETE /api/world/{kind}/{id}                      refused (409) while tracks, events or relations use it
    PUT    /api/world/{kind}/{id}/types/{personaId}    {typeId}: how one persona types an entity or event
    GET    /api/world/appearances[?entityId=]          where entities are seen (linked tracks, by video)
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from fovea_backend import semantics
from fovea_backend.db import JsonText, json_list
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.jsoncheck import check_json
from fovea_backend.schemas import (
    WORLD_MODELS, AppearanceOut, JsonObject, TypeAssignmentIn, WorldIn, WorldKind, WorldOut, WorldPatchIn,
)
from fovea_backend.state import StateDep
from fovea_backend.store import world as store

router = APIRouter(prefix="/api/world", tags=["world"])
FIELDS = store.FIELDS
REF_KINDS = {"entity": "entities", "event": "events", "time": "times", "location": "locations"}
# How each typed kind names the type a persona gave it (upstream FOVEA's typeAssignments) and where the type lives.
TYPE_KEYS = {"entities": ("entityTypeId", "entity_types"), "events": ("eventTypeId", "event_types")}
REVISION = re.compile(r'^(?:W/)?"?(?P<revision>[0-9]{1,18})"?$')
ObjectId = Annotated[str, Path(min_length=1, max_length=200)]
World = dict[str, list[dict[str, Any]]]
WRITE_ERRORS = {404: {"description": "no such object"}, 409: {"description": "someone changed it since, or it is in use:"
                                                                            " nothing written (`current` holds it)"}}


def _world(conn: psycopg.Connection) -> JsonText:
    text, revision = store.world_json(conn)
    return JsonText(content=text, headers={"ETag": f'"{revision}"'})


def _locked(conn: psycopg.Connection) -> World:
    """The world's lists, its row locked until the transaction ends: world writes serialise here."""
    row = store.locked_lists(conn)
    return {name: [o for o in value if isinstance(o, dict)] for name, value in zip(FIELDS, row, strict=True)}


def _store(conn: psycopg.Connection, kind: str, items: list[dict[str, Any]], obj: dict[str, Any] | None,
           status: int = 200) -> JsonText:
    revision = store.store_list(conn, kind, items)
    return JsonText(content=json.dumps(obj), status_code=status, headers={"ETag": f'"{revision}"'})


def _find(items: list[dict[str, Any]], kind: str, object_id: str) -> int:
    for index, item in enumerate(items):
        if item.get("id") == object_id:
            return index
    raise not_found(kind[:-1] if kind != "entities" else "entity", object_id, ("path", "object_id"))


def _refuse(problems: list[tuple[tuple[str | int, ...], str]]) -> RequestValidationError:
    return RequestValidationError([{"loc": list(loc), "msg": message, "type": "value_error"} for loc, message in problems])


def _validated(kind: str, raw: dict[str, Any], place: Any) -> dict[str, Any]:
    """The object as stored, its known fields checked by the kind's model; `place(loc)` is where a problem is."""
    try:
        model = WORLD_MODELS[kind].model_validate(raw)
    except ValidationError as error:
        # "Value error, " is pydantic's prefix for a validator's own words: the words are the message.
        raise _refuse([(place(tuple(e["loc"])), e["msg"].removeprefix("Value error, ")) for e in error.errors()]) from None
    stored: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return check_json(stored, place(()))  # type: ignore[no-any-return]


def _ontology(conn: psycopg.Connection, persona_id: Any) -> semantics.Ontology | None:
    row = store.ontology_lists(conn, persona_id)
    return semantics.Ontology.of(*row) if row else None


def _reference_problems(conn: psycopg.Connection, kind: str, obj: dict[str, Any], world: World,
                        place: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """What the object names that does not exist (or that its persona's ontology does not allow)."""
    ids = {name: {str(o.get("id")) for o in items} for name, items in world.items()}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if kind in TYPE_KEYS:
        key, column = TYPE_KEYS[kind]
        for index, assignment in enumerate(obj.get("typeAssignments", [])):
            problem = _type_problem(conn, assignment["personaId"], assignment.get(key), column)
            if problem:
                problems.append((place(("typeAssignments", index, key)), problem))
    if kind == "events":
        for field, target in (("timeId", "times"), ("locationId", "locations")):
            if field in obj and obj[field] not in ids[target]:
                problems.append((place((field,)), f"no world {target[:-1]} has the id {obj[field]!r}"))
    if kind == "times" and "videoId" in obj:
        video = store.frame_count(conn, obj["videoId"])
        if video is None:
            problems.append((place(("videoId",)), f"unknown video {obj['videoId']}"))
        elif video[0] is not None:
            for field in ("frame", "endFrame"):
                if obj.get(field, 0) >= video[0]:
                    problems.append((place((field,)), f"frame {obj[field]} is past the video's last frame ({video[0] - 1})"))
    if kind == "collections":
        members = ids[REF_KINDS[obj["memberKind"]]]
        for index, member in enumerate(obj["members"]):
            if member not in members:
                problems.append((place(("members", index)), f"no world {obj['memberKind']} has the id {member!r}"))
    if kind == "relations":
        problems += _relation_problems(conn, obj, world, place)
    return problems


def _type_problem(conn: psycopg.Connection, persona_id: Any, type_id: str | None, column: str) -> str | None:
    row = store.persona_types(conn, persona_id, column)
    if row is None:
        return f"unknown persona {persona_id}"
    if type_id is None:
        return None
    known = {str(t.get("id")): t for t in row[0] if isinstance(t, dict)}
    if type_id not in known:
        names = ", ".join(str(t.get("name") or i) for i, t in known.items()) or "none yet"
        return f"{type_id!r} is not one of this persona's {column.replace('_', ' ')} (it has: {names})"
    return None


def _relation_problems(conn: psycopg.Connection, obj: dict[str, Any], world: World,
                       place: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """A world relation's type and ends, by the same rules as the annotations' relations (semantics.py)."""
    ontology = _ontology(conn, obj["personaId"])
    if ontology is None:
        return [(place(("personaId",)), f"unknown persona {obj['personaId']}")]

    def resolve(ref: dict[str, Any]) -> semantics.Resolved | None:
        found = next((o for o in world[REF_KINDS[ref["kind"]]] if o.get("id") == ref["id"]), None)
        if found is None:
            return None
        name = f"{ref['kind']} «{found.get('name') or ref['id']}»"
        if ref["kind"] in ("entity", "event"):
            key = TYPE_KEYS[REF_KINDS[ref["kind"]]][0]
            typed = next((a.get(key) for a in found.get("typeAssignments") or []
                          if isinstance(a, dict) and str(a.get("personaId")) == str(obj["personaId"])), None)
            return semantics.Resolved(ref["kind"], typed, name)
        return semantics.Resolved(ref["kind"], None, name)

    return [(place(where), message) for where, message in semantics.check_relation(obj, ontology, resolve)]


def _users(conn: psycopg.Connection, kind: str, object_id: str, world: World) -> list[str]:
    """What still refers to this object, in words; a delete is refused while anything does."""
    ref_kind = next(k for k, v in REF_KINDS.items() if v == kind) if kind in REF_KINDS.values() else None
    if ref_kind is None:
        return []
    uses: list[str] = []
    if ref_kind == "entity":
        linked, videos = store.entity_tracks(conn, object_id)
        if linked:
            uses.append(f"{linked} track(s) in {videos} video(s)")
        roles, relations = store.entity_in_annotations(conn, object_id)
        if roles:
            uses.append(f"{roles} annotated event role(s)")
        if relations:
            uses.append(f"{relations} annotated relation(s)")
    if ref_kind in ("time", "location"):
        named = [e for e in world["events"] if e.get(f"{ref_kind}Id") == object_id]
        if named:
            uses.append(f"{len(named)} world event(s)")
    related = [r for r in world["relations"] if {"kind": ref_kind, "id": object_id} in (r.get("source"), r.get("target"))]
    if related:
        uses.append(f"{len(related)} world relation(s)")
    collected = [c for c in world["collections"] if c.get("memberKind") == ref_kind and object_id in (c.get("members") or [])]
    if collected:
        uses.append("the collection(s) " + ", ".join(repr(c.get("name") or c.get("id")) for c in collected))
    return uses


@router.get("", response_model=WorldOut, responses={200: {"headers": {"ETag": {"description": "the world revision"}}}})
def get_world(state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return _world(conn)


@router.get("/appearances", response_model=list[AppearanceOut])
def appearances(state: StateDep, entity_id: str | None = Query(None, alias="entityId", max_length=200)) -> Response:
    """Where world entities are seen: each track linked to one (or to `entityId`), with its video and the frames it
    spans (first keyframe to the last frame it lasts, by the workspace's rule), newest videos' names included."""
    with state.pool.connection() as conn:
        return json_list(conn, store.appearances_sql(bool(entity_id)), {"entity": entity_id})


@router.put("", response_model=WorldOut, responses={409: {"description": "the world changed since If-Match"}})
def put_world(body: WorldIn, state: StateDep,
              if_match: str | None = Header(None, alias="If-Match", max_length=200, description=(
        "the world revision as last read (GET's ETag): without it the whole state is replaced unconditionally"))) -> Response:
    """Replace the whole world state (tools, imports). The World page writes one object at a time instead."""
    values = [check_json(getattr(body, f), ("body", f)) for f in FIELDS]
    with state.pool.connection() as conn:
        revision = store.locked_revision(conn)
        if if_match is not None:
            match = REVISION.match(if_match.strip())
            if match is None:
                raise invalid(("header", "If-Match"), f'If-Match must be a world revision such as "12", got {if_match[:40]!r}')
            if revision is not None and int(match.group("revision")) != revision:
                raise ApiError(409, f"the world changed since revision {match.group('revision')} (now {revision}):"
                                    " nothing was written", ("header", "If-Match"), {"revision": revision})
        store.replace_all(conn, values)
        return _world(conn)


@router.post("/{kind}", response_model=JsonObject, status_code=201,
             responses={200: {"description": "a retry: the same object exists already"},
                        409: {"description": "another object has this id"}})
def create_object(kind: WorldKind, body: JsonObject, state: StateDep) -> Response:
    """One new world object of `kind`, its id made by the client (a retried request finds it and answers 200)."""
    def place(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        return ("body", *loc)

    obj = _validated(kind, body, place)
    with state.pool.connection() as conn:
        world = _locked(conn)
        existing = next((o for o in world[kind] if o.get("id") == obj["id"]), None)
        if existing is not None:
            if existing == obj:
                return JsonText(content=json.dumps(existing))
            raise ApiError(409, f"another {kind[:-1] if kind != 'entities' else 'entity'} has the id {obj['id']!r}",
                           ("body", "id"), {"current": existing})
        problems = _reference_problems(conn, kind, obj, world, place)
        if problems:
            raise _refuse(problems)
        return _store(conn, kind, [*world[kind], obj], obj, 201)


@router.patch("/{kind}/{object_id}", response_model=JsonObject, responses=WRITE_ERRORS)
def patch_object(kind: WorldKind, object_id: ObjectId, body: WorldPatchIn,
                 state: StateDep) -> Response:
    """Change some fields of one object. Each field carries the value it was changed from: a field someone else has
    changed since to another value is a conflict (409 with the object as it is now; nothing written)."""
    if "id" in body.fields:
        raise invalid(("body", "fields", "id"), "an object's id cannot change")
    if "typeAssignments" in body.fields:
        raise invalid(("body", "fields", "typeAssignments"),
                      f"each persona's type is set on its own: PUT /api/world/{kind}/{{id}}/types/{{personaId}}")

    def place(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        if loc and loc[0] in body.fields:
            return ("body", "fields", loc[0], "to", *loc[1:])
        return ("body", "fields", *loc)

    with state.pool.connection() as conn:
        world = _locked(conn)
        index = _find(world[kind], kind, object_id)
        current = world[kind][index]
        changed = dict(current)
        for name, change in body.fields.items():
            now = current.get(name)
            if now != change.from_ and now != change.to:
                raise ApiError(409, f"{name} was changed by someone else meanwhile (now {now!r}): nothing was written",
                               ("body", "fields", name, "from"), {"current": current})
            if change.to is None:
                changed.pop(name, None)
            else:
                changed[name] = change.to
        obj = _validated(kind, changed, place)
        problems = _reference_problems(conn, kind, obj, world, place)
        if problems:
            raise _refuse(problems)
        items = list(world[kind])
        items[index] = obj
        return _store(conn, kind, items, obj)


@router.delete("/{kind}/{object_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS)
def delete_object(kind: WorldKind, object_id: ObjectId, state: StateDep) -> Response:
    """Remove one object; refused while tracks, annotated events or relations, world events, relations or collections
    still name it (the message says which), so no link is left pointing at nothing."""
    with state.pool.connection() as conn:
        world = _locked(conn)
        index = _find(world[kind], kind, object_id)
        uses = _users(conn, kind, object_id, world)
        if uses:
            name = world[kind][index].get("name") or object_id
            raise ApiError(409, f"{name!r} is still used by {'; '.join(uses)}: unlink those first; nothing was deleted",
                           ("path", "object_id"), {"current": world[kind][index]})
        _store(conn, kind, [o for i, o in enumerate(world[kind]) if i != index], None)
        return Response(status_code=204)


@router.put("/{kind}/{object_id}/types/{persona_id}", response_model=JsonObject, responses=WRITE_ERRORS)
def assign_type(kind: Literal["entities", "events"], object_id: ObjectId, persona_id: UUID, body: TypeAssignmentIn,
                state: StateDep) -> Response:
    """How one persona types an entity (one of its entity types) or an event (one of its event types): each persona
    its own way, the others' assignments untouched. `typeId: null` removes this persona's."""
    key, column = TYPE_KEYS[kind]
    with state.pool.connection() as conn:
        world = _locked(conn)
        index = _find(world[kind], kind, object_id)
        problem = _type_problem(conn, persona_id, body.type_id, column)
        if problem:
            raise invalid(("path", "persona_id") if problem.startswith("unknown persona") else ("body", "typeId"), problem)
        obj = dict(world[kind][index])
        kept = [a for a in obj.get("typeAssignments") or [] if not (isinstance(a, dict) and str(a.get("personaId")) == str(persona_id))]
        obj["typeAssignments"] = kept + ([{"personaId": str(persona_id), key: body.type_id}] if body.type_id else [])
        items = list(world[kind])
        items[index] = obj
        return _store(conn, kind, items, obj)
