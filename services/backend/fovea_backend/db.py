"""The connection pool and the one idiom every read route uses: PostgreSQL renders the JSON.

Building response JSON with `json_build_object` in SQL and passing the text straight through skips a
Python object per row and a pydantic round-trip; for a video with 10 000 annotations that is the
difference between milliseconds and a second. Response models are still declared on each route, so the
OpenAPI schema (and the fuzz tests driven by it) describe exactly this JSON.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

import psycopg
from fastapi import Response
from psycopg_pool import ConnectionPool

from fovea_backend.errors import ApiError
from fovea_backend.settings import Settings


# The signed-in user of the request being served (set by auth.require_session in the request's own context, so
# the threads that run its handlers inherit it). Every connection handed out carries it as the session setting
# `fovea.actor` ('' for none), which the authorship and history triggers (0061) read: whoever wrote a track is
# recorded by the database itself, whichever route or import wrote it.
acting_user: ContextVar[UUID | None] = ContextVar("acting_user", default=None)


class ActorPool(ConnectionPool):
    """A pool whose connections are handed out as the request's user (see `acting_user`).

    The setting is made at session level, in autocommit, before the caller's transaction begins: a route may still
    start its transaction with SET TRANSACTION (the export does), and a rollback does not undo it. It is written
    only when it differs from what the connection already carries, so most checkouts cost nothing extra."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._actor_of: weakref.WeakKeyDictionary[psycopg.Connection, str] = weakref.WeakKeyDictionary()

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        conn = super().getconn(timeout)
        actor = acting_user.get()
        wanted = "" if actor is None else str(actor)
        if self._actor_of.get(conn, "") != wanted:
            try:
                conn.autocommit = True
                conn.execute("SELECT set_config('fovea.actor', %s, false)", (wanted,))
                conn.autocommit = False
                self._actor_of[conn] = wanted
            except BaseException:
                self.putconn(conn)
                raise
        return conn


def make_pool(settings: Settings) -> ConnectionPool:
    kwargs: dict[str, Any] = dict(settings.db_kwargs())
    # UTC so timestamps in rendered JSON (and exports) do not depend on the server's zone.
    kwargs["options"] = "-c timezone=UTC"
    return ActorPool(
        kwargs=kwargs,
        min_size=2,
        max_size=settings.pool_max_size,
        timeout=5.0,
        open=False,
        name="fovea-backend",
    )


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One request, one transaction: committed on success, rolled back on any exception."""
    with pool.connection() as conn:
        yield conn


class JsonText(Response):
    media_type = "application/json"


def fetch_json(conn: psycopg.Connection, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> str | None:
    """First column of the first row, as JSON text (None when there is no row)."""
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    if row is None:
        return None
    value = row[0] if not isinstance(row, dict) else next(iter(row.values()))
    return None if value is None else str(value)


def json_or_404(
    conn: psycopg.Connection, sql: str, params: tuple[Any, ...] | dict[str, Any], missing: ApiError, status: int = 200
) -> JsonText:
    text = fetch_json(conn, sql, params)
    if text is None:
        raise missing
    return JsonText(content=text, status_code=status)


def json_list(conn: psycopg.Connection, row_sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> JsonText:
    """Wrap a query yielding one JSON value per row (column `j`) into a JSON array, in row order."""
    text = fetch_json(conn, f"SELECT coalesce(json_agg(q.j), '[]')::text FROM ({row_sql}) q", params)
    return JsonText(content=text or "[]")


def delete_or_404(conn: psycopg.Connection, table: str, ident: Any, missing: ApiError) -> Response:
    """DELETE one row by primary key `id` (table names are code constants, never input) → 204 or 404."""
    if conn.execute(f"DELETE FROM {table} WHERE id = %s", (ident,)).rowcount == 0:
        raise missing
    return Response(status_code=204)
