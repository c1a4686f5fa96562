"""GET/PUT /api/world: the world state shared by all personas (a singleton row)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import JsonText, fetch_json
from fovea_backend.jsoncheck import check_json
from fovea_backend.schemas import WorldIn, WorldOut
from fovea_backend.state import BackendState, get_state

router = APIRouter(prefix="/api/world", tags=["world"])
FIELDS = ("entities", "events", "times", "locations", "collections", "relations")


def _world(conn) -> JsonText:  # type: ignore[no-untyped-def]
    return JsonText(content=fetch_json(conn, f"SELECT {render.WORLD}::text FROM world_state w WHERE id = 1") or "{}")


@router.get("", response_model=WorldOut)
def get_world(state: BackendState = Depends(get_state)) -> Response:
    with state.pool.connection() as conn:
        return _world(conn)


@router.put("", response_model=WorldOut)
def put_world(body: WorldIn, state: BackendState = Depends(get_state)) -> Response:
    values = [check_json(getattr(body, f), ("body", f)) for f in FIELDS]
    with state.pool.connection() as conn:
        conn.execute(
            "UPDATE world_state SET entities = %s, events = %s, times = %s, locations = %s, collections = %s,"
            " relations = %s, updated_at = now() WHERE id = 1",
            tuple(Jsonb(v) for v in values),
        )
        return _world(conn)
