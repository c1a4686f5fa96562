"""Personas and their ontologies (one per persona, created empty with the persona)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import JsonText, delete_or_404, json_list, json_or_404
from fovea_backend.errors import not_found
from fovea_backend.jsoncheck import check_json
from fovea_backend.schemas import OntologyIn, OntologyOut, PersonaIn, PersonaOut
from fovea_backend.state import BackendState, get_state

router = APIRouter(prefix="/api/personas", tags=["personas"])
NOT_FOUND = {404: {"description": "no such persona"}}


def _persona(conn, persona_id: UUID, status: int = 200) -> JsonText:  # type: ignore[no-untyped-def]
    return json_or_404(conn, f"SELECT {render.PERSONA}::text FROM personas p WHERE id = %s", (persona_id,),
                       not_found("persona", persona_id, ("path", "persona_id")), status)


def _ontology(conn, persona_id: UUID) -> JsonText:  # type: ignore[no-untyped-def]
    return json_or_404(conn, f"SELECT {render.ONTOLOGY}::text FROM ontologies o WHERE persona_id = %s", (persona_id,),
                       not_found("persona", persona_id, ("path", "persona_id")))


@router.get("", response_model=list[PersonaOut])
def list_personas(state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return json_list(conn, f"SELECT {render.PERSONA} AS j FROM personas p ORDER BY p.created_at, p.id")


@router.post("", response_model=PersonaOut, status_code=201)
def create_persona(body: PersonaIn, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO personas (name, role, information_need, hidden) VALUES (%s, %s, %s, %s) RETURNING id",
            (body.name, body.role, body.information_need, body.hidden),
        ).fetchone()
        assert row is not None
        conn.execute("INSERT INTO ontologies (persona_id) VALUES (%s)", (row[0],))
        return _persona(conn, row[0], 201)


@router.get("/{persona_id}", response_model=PersonaOut, responses=NOT_FOUND)
def get_persona(persona_id: UUID, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return _persona(conn, persona_id)


@router.put("/{persona_id}", response_model=PersonaOut, responses=NOT_FOUND)
def update_persona(persona_id: UUID, body: PersonaIn, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        conn.execute(
            "UPDATE personas SET name = %s, role = %s, information_need = %s, hidden = %s, updated_at = now() WHERE id = %s",
            (body.name, body.role, body.information_need, body.hidden, persona_id),
        )
        return _persona(conn, persona_id)


@router.delete("/{persona_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def delete_persona(persona_id: UUID, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return delete_or_404(conn, "personas", persona_id, not_found("persona", persona_id, ("path", "persona_id")))


@router.get("/{persona_id}/ontology", response_model=OntologyOut, responses=NOT_FOUND)
def get_ontology(persona_id: UUID, state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return _ontology(conn, persona_id)


@router.put("/{persona_id}/ontology", response_model=OntologyOut, responses=NOT_FOUND)
def put_ontology(persona_id: UUID, body: OntologyIn, state: BackendState = Depends(get_state)) -> Response:
    fields = ("entity_types", "event_types", "role_types", "relation_types")
    values = [check_json(getattr(body, f), ("body", OntologyIn.model_fields[f].alias or f)) for f in fields]
    with state.pool.connection() as conn:
        if conn.execute("SELECT 1 FROM personas WHERE id = %s", (persona_id,)).fetchone() is None:
            raise not_found("persona", persona_id, ("path", "persona_id"))
        conn.execute(
            "INSERT INTO ontologies (persona_id, entity_types, event_types, role_types, relation_types)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (persona_id) DO UPDATE SET entity_types = excluded.entity_types,"
            " event_types = excluded.event_types, role_types = excluded.role_types,"
            " relation_types = excluded.relation_types, updated_at = now()",
            (persona_id, *(Jsonb(v) for v in values)),
        )
        return _ontology(conn, persona_id)
