"""The SQL of sign-in sessions: started and ended by their user (routes/auth.py), listed and ended by admins
(routes/users.py)."""

from __future__ import annotations

from datetime import timedelta
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


def start(conn: psycopg.Connection, hashed_token: str, user_id: UUID, lifetime: timedelta, user_agent: str,
          client: str) -> None:
    """A new session of the user; expired sessions (of anyone) are swept first, so each sign-in tidies the table."""
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, expires_at, user_agent, client) VALUES (%s, %s, now() + %s, %s, %s)",
        (hashed_token, user_id, lifetime, user_agent, client),
    )


def end_by_token(conn: psycopg.Connection, hashed_token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = %s", (hashed_token,))


def own_sessions(conn: psycopg.Connection, user_id: UUID, current: UUID | None) -> list[tuple[Any, ...]]:
    """The user's unexpired sessions as SESSION_COLUMNS rows, most recently used first; `current` marks the
    caller's."""
    return conn.execute(f"SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id"
                        " WHERE s.user_id = %(user)s AND s.expires_at > now() ORDER BY s.last_used_at DESC",
                        {"user": user_id, "current": current}).fetchall()


def end_own(conn: psycopg.Connection, session_id: UUID, user_id: UUID) -> bool:
    """False: the user has no such session."""
    return conn.execute("DELETE FROM sessions WHERE id = %s AND user_id = %s", (session_id, user_id)).rowcount > 0
