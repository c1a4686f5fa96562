"""The SQL of sign-in sessions as listed and ended by admins (routes/users.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

# A session row as SessionOut, `current` said by the caller's session id (%(current)s).
SESSION_COLUMNS = ("s.id, s.user_id, u.username, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.client,"
                   " s.id = %(current)s")


def live_sessions(conn: psycopg.Connection, user_id: UUID | None, current: UUID | None) -> list[tuple[Any, ...]]:
    """Unexpired sessions (of `user_id`, or everyone's when None) as SESSION_COLUMNS rows, by username then most
    recently used; `current` marks the caller's own."""
    return conn.execute(f"SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id"
                        " WHERE s.expires_at > now() AND (%(user)s::uuid IS NULL OR s.user_id = %(user)s)"
                        " ORDER BY u.username, s.last_used_at DESC",
                        {"user": user_id, "current": current}).fetchall()


def end(conn: psycopg.Connection, session_id: UUID) -> bool:
    """False: there was no such session."""
    return conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,)).rowcount > 0
