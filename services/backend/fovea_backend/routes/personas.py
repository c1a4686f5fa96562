"""Personas and their ontologies (one per persona, created empty with the persona). Every persona is visible to
the team; its owner (who made it) and admins edit it and its ontology."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.exceptions import RequestValidationError
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.auth import CurrentUser, require_session
from fovea_backend.db import JsonText, delete_or_404, json_list, json_or_404
from fovea_backend.errors import ApiError, not_found
from fovea_backend.jsoncheck import check_json
from fovea_backend.ontology import ontology_problems
from fovea_backend.schemas import OntologyIn, OntologyOut, PersonaIn, PersonaOut
from fovea_backend.state import StateDep

router = APIRouter(prefix="/api/personas", tags=["personas"])
NOT_FOUND = {404: {"description": "no such persona"}}
OWNED = {**NOT_FOUND, 403: {"description": "only the persona's owner and admins edit it"}}


def _persona(conn, persona_id: UUID, status: int = 200) -> JsonText:  # type: ignore[no-untyped-def]
    return json_or_404(conn, f"SELECT {render.PERSONA}::text FROM personas p WHERE id = %s", (persona_id,),
                       not_found("persona", persona_id, ("path", "persona_id")), status)


# A persona imported without its ontology line has no row yet: its ontology is the empty one, not a 404.
ONTOLOGY_OF_PERSONA = (
    f"SELECT {render.ONTOLOGY}::text FROM (SELECT p.id AS persona_id, coalesce(x.entity_types, '[]') AS entity_types,"
    " coalesce(x.event_types, '[]') AS event_types, coalesce(x.role_types, '[]') AS role_types,"
    " coalesce(x.relation_types, '[]') AS relation_types, coalesce(x.updated_at, p.created_at) AS updated_at"
    " FROM personas p LEFT JOIN ontologies x ON x.persona_id = p.id WHERE p.id = %s) o")


def check_may_edit(conn, user: CurrentUser, persona_id: UUID) -> None:  # type: ignore[no-untyped-def]
    """404 for an unknown persona; 403 unless the user owns it or is an admin (a persona without an owner is the
    team's: admins edit it)."""
    row = conn.execute("SELECT p.owner_id, u.username FROM personas p LEFT JOIN users u ON u.id = p.owner_id"
                       " WHERE p.id = %s", (persona_id,)).fetchone()
    if row is None:
        raise not_found("persona", persona_id, ("path", "persona_id"))
    if not user.is_admin and row[0] != user.id:
        owner = f"belongs to {row[1]}" if row[1] else "is the team's"
        raise ApiError(403, f"persona {persona_id} {owner}: only its owner and admins edit it", ("path", "persona_id"))


def _ontology(conn, persona_id: UUID) -> JsonText:  # type: ignore[no-untyped-def]
    return json_or_404(conn, ONTOLOGY_OF_PERSONA, (persona_id,), not_found("persona", persona_id, ("path", "persona_id")))


@router.get("", response_model=list[PersonaOut])
def list_personas(state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return json_list(conn, f"SELECT {render.PERSONA} AS j FROM personas p ORDER BY p.created_at, p.id")


@router.post("", response_model=PersonaOut, status_code=201)
def create_persona(body: PersonaIn, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO personas (name, role, information_need, hidden) VALUES (%s, %s, %s, %s) RETURNING id",
            (body.name, body.role, body.information_need, body.hidden),
        ).fetchone()
        assert row is not None
        conn.execute("INSERT INTO ontologies (persona_id) VALUES (%s)", (row[0],))
        return _persona(conn, row[0], 201)


@router.get("/{persona_id}", response_model=PersonaOut, responses=NOT_FOUND)
def get_persona(persona_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        return _persona(conn, persona_id)


@router.put("/{persona_id}", response_model=PersonaOut, responses=OWNED)
def update_persona(persona_id: UUID, body: PersonaIn, state: StateDep,
                   user: CurrentUser = Depends(require_session)) -> Response:
    with state.pool.connection() as conn:
        check_may_edit(conn, user, persona_id)
        conn.execute(
            "UPDATE personas SET name = %s, role = %s, information_need = %s, hidden = %s, updated_at = now() WHERE id = %s",
            (body.name, body.role, body.information_need, body.hidden, persona_id),
        )
        return _persona(conn, persona_id)


@router.delete("/{persona_id}", status_code=204, response_class=Response, responses=OWNED)
def delete_persona(persona_id: UUID, state: StateDep, user: CurrentUser = Depends(require_session)) -> Response:
    with state.pool.connection() as conn:
        check_may_edit(conn, user, persona_id)
        return delete_or_404(conn, "personas", persona_id, not_found("persona", persona_id, ("path", "persona_id")))


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
        conn.execute(
            "INSERT INTO ontologies (persona_id, entity_types, event_types, role_types, relation_types)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (persona_id) DO UPDATE SET entity_types = excluded.entity_types,"
            " event_types = excluded.event_types, role_types = excluded.role_types,"
            " relation_types = excluded.relation_types, updated_at = now()",
            (persona_id, *(Jsonb(v) for v in values)),
        )
        return _ontology(conn, persona_id)
