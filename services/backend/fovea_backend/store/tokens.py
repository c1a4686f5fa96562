"""The SQL of a user's own API tokens (routes/auth.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg

# A token row as TokenOut.
TOKEN_COLUMNS = "id, name, role, prefix, created_at, last_used_at, expires_at"


def tokens_of(conn: psycopg.Connection, user_id: UUID) -> list[tuple[Any, ...]]:
    """The user's tokens as TOKEN_COLUMNS rows, oldest first."""
    return conn.execute(f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = %s ORDER BY created_at",
                        (user_id,)).fetchall()


def create(conn: psycopg.Connection, user_id: UUID, name: str, role: str, hashed_token: str, prefix: str,
           lifetime: timedelta | None) -> tuple[Any, ...] | None:
    """The new token as a TOKEN_COLUMNS row (no expiry when `lifetime` is None); None: the user has a token of that
    name."""
    return conn.execute(
        f"INSERT INTO api_tokens (user_id, name, role, token_hash, prefix, expires_at)"
        f" VALUES (%s, %s, %s, %s, %s, now() + %s) ON CONFLICT (user_id, name) DO NOTHING RETURNING {TOKEN_COLUMNS}",
        (user_id, name, role, hashed_token, prefix, lifetime),
    ).fetchone()


def revoke(conn: psycopg.Connection, token_id: UUID, user_id: UUID) -> bool:
    """False: the user has no such token."""
    return conn.execute("DELETE FROM api_tokens WHERE id = %s AND user_id = %s", (token_id, user_id)).rowcount > 0
