"""Password hashing, database-backed sessions and API tokens, and the role check of every route.

bcrypt (Debian's python3-bcrypt) hashes a base64 SHA-256 of the password rather than the password
itself: bcrypt ignores everything past 72 bytes and stops at NUL, and pre-hashing removes both traps.
The session cookie holds 32 random bytes; the table stores HMAC-SHA256(session_secret, token), so
rows read from a backup cannot be replayed as cookies. API tokens (`Authorization: Bearer fovea_...`) are
stored the same way. A disabled user's sessions and tokens stop working at the next request.
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
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from fovea_backend.db import acting_user
from fovea_backend.errors import ApiError
from fovea_backend.roles import Role, lowest_role

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


API_TOKEN_PREFIX = "fovea_"


def new_api_token() -> str:
    """Recognisable in a leaked log or a secret scanner by its prefix."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class CurrentUser:
    id: UUID
    username: str
    role: Role
    # What the request was signed with: the session's id (cookie) or the API token's id (Bearer).
    session_id: UUID | None = None
    token_id: UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


# One round trip per request: the lookup, and last_used_at written at most once a minute (not a write per GET).
_SESSION_LOOKUP = (
    "WITH hit AS (SELECT s.id AS session_id, s.last_used_at, u.id, u.username, u.role FROM sessions s"
    " JOIN users u ON u.id = s.user_id"
    " WHERE s.token_hash = %(hash)s AND s.expires_at > now() AND u.disabled_at IS NULL),"
    " touched AS (UPDATE sessions SET last_used_at = now() WHERE id = (SELECT session_id FROM hit)"
    " AND last_used_at < now() - interval '1 minute')"
    " SELECT id, username, role, session_id FROM hit"
)
# A token's role is capped by its user's role now: demoting a user demotes their tokens.
_TOKEN_LOOKUP = (
    "WITH hit AS (SELECT t.id AS token_id, u.id, u.username, u.role AS user_role, t.role AS token_role"
    " FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = %(hash)s AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL),"
    " touched AS (UPDATE api_tokens SET last_used_at = now() WHERE id = (SELECT token_id FROM hit)"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))"
    " SELECT id, username, user_role, token_role, token_id FROM hit"
)


def lookup_session(conn: psycopg.Connection, secret: bytes, token: str) -> CurrentUser | None:
    row = conn.execute(_SESSION_LOOKUP, {"hash": token_hash(secret, token)}).fetchone()
    return CurrentUser(row[0], row[1], Role(row[2]), session_id=row[3]) if row else None


def lookup_api_token(conn: psycopg.Connection, secret: bytes, token: str) -> CurrentUser | None:
    row = conn.execute(_TOKEN_LOOKUP, {"hash": token_hash(secret, token)}).fetchone()
    if row is None:
        return None
    user_role, token_role = Role(row[2]), Role(row[3])
    return CurrentUser(row[0], row[1], token_role if user_role.includes(token_role) else user_role, token_id=row[4])


bearer = HTTPBearer(auto_error=False, description="an API token from POST /api/auth/tokens")


def _authenticate(request: Request, cookie: str | None, credentials: HTTPAuthorizationCredentials | None) -> CurrentUser:
    state = request.app.state.backend
    secret = state.settings.session_secret
    if credentials is not None:  # a script's token wins over a browser cookie it may also carry
        with state.pool.connection() as conn:
            user = lookup_api_token(conn, secret, credentials.credentials)
        if user is None:
            raise ApiError(401, "API token unknown, revoked, expired or of a disabled user", ("header", "Authorization"))
        return user
    if not cookie:
        raise ApiError(401, "not logged in: POST /api/auth/login first", ("cookie", COOKIE_NAME))
    with state.pool.connection() as conn:
        user = lookup_session(conn, secret, cookie)
    if user is None:
        raise ApiError(401, "session expired or unknown: log in again", ("cookie", COOKIE_NAME))
    return user


def check_role(user: CurrentUser, method: str, path: str) -> None:
    """403 unless the route's line in roles.ROUTE_ROLES allows the user's role."""
    needed = lowest_role(method, path)
    if needed is None:
        raise ApiError(403, f"{method} {path} has no line in fovea_backend/roles.py ROUTE_ROLES, so no role may call it",
                       ("role",))
    if not user.role.includes(needed):
        raise ApiError(403, f"{method} {path} needs the {needed.value} role or higher; {user.username} is {user.role.value}",
                       ("role",), extra={"role": user.role.value, "needed": needed.value})


async def require_session(request: Request, cookie: str | None = Depends(session_cookie),
                          credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> CurrentUser:
    """Dependency of every route but the public ones: who is asking (session cookie or Bearer token), and
    whether their role may call this route. Async so that `acting_user` is set in the request's own context,
    which the threads running its handlers copy."""
    user = await run_in_threadpool(_authenticate, request, cookie, credentials)
    route = request.scope.get("route")
    check_role(user, request.method, getattr(route, "path", request.url.path))
    request.state.user = user
    acting_user.set(user.id)
    return user


def require_role(user: CurrentUser, role: Role, what: str) -> None:
    """For checks finer than a route (e.g. only a persona's owner or an admin edits it)."""
    if not user.role.includes(role):
        raise ApiError(403, f"{what} needs the {role.value} role or higher; {user.username} is {user.role.value}", ("role",))
