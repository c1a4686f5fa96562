"""POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response

from fovea_backend.auth import COOKIE_NAME, CurrentUser, new_token, require_session, token_hash, verify_password
from fovea_backend.errors import ApiError
from fovea_backend.schemas import LoginIn, UserOut
from fovea_backend.state import BackendState, get_state

public = APIRouter(prefix="/api/auth", tags=["auth"])
router = APIRouter(prefix="/api/auth", tags=["auth"])


@public.post("/login", response_model=UserOut, responses={401: {"description": "wrong username or password"}})
def login(body: LoginIn, response: Response, state: BackendState = Depends(get_state)) -> UserOut:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT id, username, is_admin, password_hash FROM users WHERE username = %s", (body.username,)).fetchone()
    # verify_password runs bcrypt even for unknown users, so timing does not reveal which usernames exist.
    if not verify_password(body.password, row[3] if row else None) or row is None:
        raise ApiError(401, "wrong username or password", ("body", "password"))
    token = new_token()
    lifetime = timedelta(hours=state.settings.session_hours)
    with state.pool.connection() as conn:
        conn.execute("DELETE FROM sessions WHERE expires_at < now()")
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (%s, %s, now() + %s)",
            (token_hash(state.settings.session_secret, token), row[0], lifetime),
        )
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.settings.cookie_secure,
        path="/",
    )
    return UserOut(id=row[0], username=row[1], is_admin=row[2])


@router.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, response: Response, state: BackendState = Depends(get_state)) -> Response:
    token = request.cookies.get(COOKIE_NAME, "")
    with state.pool.connection() as conn:
        conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash(state.settings.session_secret, token),))
    out = Response(status_code=204)
    out.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=state.settings.cookie_secure)
    return out


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser = Depends(require_session)) -> UserOut:
    return UserOut(id=user.id, username=user.username, is_admin=user.is_admin)
