"""The connection pool and the one idiom every read route uses: PostgreSQL renders the JSON.

Building response JSON with `json_build_object` in SQL and passing the text straight through skips a
Python object per row and a pydantic round-trip; for a video with 10 000 annotations that is the
difference between milliseconds and a second. Response models are still declared on each route, so the
OpenAPI schema (and the fuzz tests driven by it) describe exactly this JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from fastapi import Response
from psycopg_pool import ConnectionPool

from fovea_backend.errors import ApiError
from fovea_backend.settings import Settings


def make_pool(settings: Settings) -> ConnectionPool:
    kwargs: dict[str, Any] = dict(settings.db_kwargs())
    # UTC so timestamps in rendered JSON (and exports) do not depend on the server's zone.
    kwargs["options"] = "-c timezone=UTC"
    return ConnectionPool(
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
