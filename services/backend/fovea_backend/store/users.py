"""The SQL of reading a user for sign-in and for "who am I" (routes/auth.py); accounts.py manages accounts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg


def credentials(conn: psycopg.Connection, username: str) -> tuple[Any, ...] | None:
    """(id, username, role, must change password, password hash, disabled) of the user; None: no such user."""
    return conn.execute("SELECT id, username, role, must_change_password, password_hash, disabled_at IS NOT NULL"
                        " FROM users WHERE username = %s", (username,)).fetchone()


def must_change_password(conn: psycopg.Connection, user_id: UUID) -> bool:
    row = conn.execute("SELECT must_change_password FROM users WHERE id = %s", (user_id,)).fetchone()
    return bool(row and row[0])
