"""The SQL of personas and their ontologies (routes/personas.py). Reads return the JSON PostgreSQL renders
(render.PERSONA, render.ONTOLOGY); None where there is no such persona."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import fetch_json

LIST = f"SELECT {render.PERSONA} AS j FROM personas p ORDER BY p.created_at, p.id"

# A persona imported without its ontology line has no row yet: its ontology is the empty one, not a 404.
ONTOLOGY_OF_PERSONA = (
    f"SELECT {render.ONTOLOGY}::text FROM (SELECT p.id AS persona_id, coalesce(x.entity_types, '[]') AS entity_types,"
    " coalesce(x.event_types, '[]') AS event_types, coalesce(x.role_types, '[]') AS role_types,"
    " coalesce(x.relation_types, '[]') AS relation_types, coalesce(x.updated_at, p.created_at) AS updated_at"
    " FROM personas p LEFT JOIN ontologies x ON x.persona_id = p.id WHERE p.id = %s) o")


def exists(conn: psycopg.Connection, persona_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM personas WHERE id = %s", (persona_id,)).fetchone() is not None


def persona_json(conn: psycopg.Connection, persona_id: UUID) -> str | None:
    return fetch_json(conn, f"SELECT {render.PERSONA}::text FROM personas p WHERE id = %s", (persona_id,))


def ontology_json(conn: psycopg.Connection, persona_id: UUID) -> str | None:
    return fetch_json(conn, ONTOLOGY_OF_PERSONA, (persona_id,))


def owner(conn: psycopg.Connection, persona_id: UUID) -> tuple[UUID | None, str | None] | None:
    """(owner id, owner's username) of the persona (both None: the team's), or None: no such persona."""
    row = conn.execute("SELECT p.owner_id, u.username FROM personas p LEFT JOIN users u ON u.id = p.owner_id"
                       " WHERE p.id = %s", (persona_id,)).fetchone()
    return (row[0], row[1]) if row else None


def create(conn: psycopg.Connection, name: str, role: str, information_need: str, hidden: bool) -> UUID:
    """A new persona with its (empty) ontology; its id."""
    row = conn.execute("INSERT INTO personas (name, role, information_need, hidden) VALUES (%s, %s, %s, %s) RETURNING id",
                       (name, role, information_need, hidden)).fetchone()
    assert row is not None
    conn.execute("INSERT INTO ontologies (persona_id) VALUES (%s)", (row[0],))
    return row[0]  # type: ignore[no-any-return]


def update(conn: psycopg.Connection, persona_id: UUID, name: str, role: str, information_need: str,
           hidden: bool) -> None:
    conn.execute("UPDATE personas SET name = %s, role = %s, information_need = %s, hidden = %s, updated_at = now()"
                 " WHERE id = %s", (name, role, information_need, hidden, persona_id))


def delete(conn: psycopg.Connection, persona_id: UUID) -> bool:
    """False: there was no such persona."""
    return conn.execute("DELETE FROM personas WHERE id = %s", (persona_id,)).rowcount > 0


def put_ontology(conn: psycopg.Connection, persona_id: UUID, lists: list[Any]) -> None:
    """The entity, event, role and relation types, in that order, replacing what the persona had."""
    conn.execute(
        "INSERT INTO ontologies (persona_id, entity_types, event_types, role_types, relation_types)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (persona_id) DO UPDATE SET entity_types = excluded.entity_types,"
        " event_types = excluded.event_types, role_types = excluded.role_types,"
        " relation_types = excluded.relation_types, updated_at = now()",
        (persona_id, *(Jsonb(v) for v in lists)),
    )
