"""Password hashing and database-backed sessions.

bcrypt (Debian's python3-bcrypt) hashes a base64 SHA-256 of the password rather than the password
itself: bcrypt ignores everything past 72 bytes and stops at NUL, and pre-hashing removes both traps.
The session cookie holds 32 random bytes; the table stores HMAC-SHA256(session_secret, token), so
rows read from a backup cannot be replayed as cookies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

import bcrypt
import psycopg
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie

from fovea_backend.errors import ApiError

COOKIE_NAME = "fovea_session"
BCRYPT_ROUNDS = 12
# Checked against when the user does not exist, so a wrong username costs as long as a wrong password.
# A literal (bcrypt of "not-a-password" at 12 rounds, never accepted: see verify_password): hashing it at
# import cost ~0.22 s of CPU on every backend start, migration and password hash.
_DUMMY_HASH = b"$2b$12$OLZ7TK4oekE3w5UMlFREuOtKFaZMvFpJKUHDqLhAZTAfkK56U2aJy"

session_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="session cookie from POST /api/auth/login")


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def hash_password(password: str) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    stored = password_hash.encode() if password_hash else _DUMMY_HASH
    ok = bcrypt.checkpw(_prehash(password), stored)
    return ok and password_hash is not None


def token_hash(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    username: str
    is_admin: bool


def lookup_session(conn: psycopg.Connection, secret: bytes, token: str) -> CurrentUser | None:
    row = conn.execute(
        "SELECT u.id, u.username, u.is_admin FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = %s AND s.expires_at > now()",
        (token_hash(secret, token),),
    ).fetchone()
    return CurrentUser(*row) if row else None


def require_session(request: Request, token: str | None = Depends(session_cookie)) -> CurrentUser:
    """Dependency for every route except /health and login."""
    if not token:
        raise ApiError(401, "not logged in: POST /api/auth/login first", ("cookie", COOKIE_NAME))
    state = request.app.state.backend
    with state.pool.connection() as conn:
        user = lookup_session(conn, state.settings.session_secret, token)
    if user is None:
        raise ApiError(401, "session expired or unknown: log in again", ("cookie", COOKIE_NAME))
    request.state.user = user
    return user
