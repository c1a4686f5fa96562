"""Personas and their ontologies (one per persona, created empty with the persona). Every persona is visible to
the team; its owner (who made it) and admins edit it and its ontology."""

from __future__ import annotations

from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Response
from fastapi.exceptions import RequestValidationError

from fovea_backend.auth import CurrentUser, require_session
from fovea_backend.db import JsonText, json_list
from fovea_backend.errors import ApiError, not_found
from fovea_backend.jsoncheck import check_json
from fovea_backend.ontology import ontology_problems
from fovea_backend.schemas import OntologyIn, OntologyOut, PersonaIn, PersonaOut
from fovea_backend.state import StateDep
from fovea_backend.store import personas as store

router = APIRouter(prefix="/api/personas", tags=["personas"])
NOT_FOUND = {404: {"description": "no such persona"}}
OWNED = {**NOT_FOUND, 403: {"description": "only the persona's owner and admins edit it"}}


def _found(text: str | None, persona_id: UUID, status: int = 200) -> JsonText:
    if text is None:
        raise not_found("persona", persona_id, ("path", "persona_id"))
    return JsonText(content=text, status_code=status)


def _persona(conn: psycopg.Connection, persona_id: UUID, status: int = 200) -> JsonText:
    return _found(store.persona_json(conn, persona_id), persona_id, status)


def check_may_edit(conn: psycopg.Connection, user: CurrentUser, persona_id: UUID) -> None:
    """404 for an unknown persona; 403 unless the user owns it or is an admin (a persona without an owner is the
    team's: admins edit it)."""
    row = store.owner(conn, persona_id)
    if row is None:
        raise not_found("persona", persona_id, ("path", "persona_id"))
    if not user.is_admin and row[0] != user.id:
        owner = f"belongs to {row[1]}" if row[1] else "is the team's"
        raise ApiError(403, f"persona {persona_id} {owner}: only its owner and admins edit it", ("path", "persona_id"))


def _ontology(conn: psycopg.Connection, persona_id: UUID) -> JsonText:
    return _found(store.ontology_json(conn, persona_id), persona_id)


@router.get("", response_model=list[PersonaOut])
def list_personas(state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return json_list(conn, store.LIST)


@router.post("", response_model=PersonaOut, status_code=201)
def create_persona(body: PersonaIn, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        made = store.create(conn, body.name, body.role, body.information_need, body.hidden)
        return _persona(conn, made, 201)


@router.get("/{persona_id}", response_model=PersonaOut, responses=NOT_FOUND)
def get_persona(persona_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return _persona(conn, persona_id)


@router.put("/{persona_id}", response_model=PersonaOut, responses=OWNED)
def update_persona(persona_id: UUID, body: PersonaIn, state: StateDep,
                   user: CurrentUser = Depends(require_session)) -> Response:
    with state.pool.connection() as conn:
        check_may_edit(conn, user, persona_id)
        store.update(conn, persona_id, body.name, body.role, body.information_need, body.hidden)
        return _persona(conn, persona_id)


@router.delete("/{persona_id}", status_code=204, response_class=Response, responses=OWNED)
def delete_persona(persona_id: UUID, state: StateDep, user: CurrentUser = Depends(require_session)) -> Response:
    with state.pool.connection() as conn:
        check_may_edit(conn, user, persona_id)
        if not store.delete(conn, persona_id):
            raise not_found("persona", persona_id, ("path", "persona_id"))
        return Response(status_code=204)


@router.get("/{persona_id}/ontology", response_model=OntologyOut, responses=NOT_FOUND)
def get_ontology(persona_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return _ontology(conn, persona_id)


@router.put("/{persona_id}/ontology", response_model=OntologyOut, responses=OWNED)
def put_ontology(persona_id: UUID, body: OntologyIn, state: StateDep,
                 user: CurrentUser = Depends(require_session)) -> Response:
    fields = ("entity_types", "event_types", "role_types", "relation_types")
    values = [check_json(getattr(body, f), ("body", OntologyIn.model_fields[f].alias or f)) for f in fields]
    problems = ontology_problems(dict(zip(("entityTypes", "eventTypes", "roleTypes", "relationTypes"), values, strict=True)))
    if problems:  # every one at once, each at its place: the Ontology page marks them all
        raise RequestValidationError([{"loc": list(loc), "msg": message, "type": "value_error"} for loc, message in problems])
    with state.pool.connection() as conn:
        check_may_edit(conn, user, persona_id)
        store.put_ontology(conn, persona_id, values)
        return _ontology(conn, persona_id)
