"""The signed-in user's own account: login, logout, who am I, self-registration (off unless enabled), password
change, own sessions and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from fovea_backend import accounts
from fovea_backend.auth import (COOKIE_NAME, CurrentUser, new_api_token, new_token, require_session, token_hash,
                                verify_password)
from fovea_backend.errors import ApiError
from fovea_backend.roles import Role
from fovea_backend.schemas import LoginIn, UserOut
from fovea_backend.state import BackendState, StateDep
from fovea_backend.store import sessions, tokens, users
from fovea_backend.team_schemas import (PasswordChangedOut, PasswordChangeIn, RegisterIn, SessionOut, TokenCreatedOut,
                                        TokenIn, TokenOut)

public = APIRouter(prefix="/api/auth", tags=["auth"])
router = APIRouter(prefix="/api/auth", tags=["auth"])


def session_out(row: tuple[Any, ...]) -> SessionOut:
    return SessionOut(id=row[0], user_id=row[1], username=row[2], created_at=row[3], last_used_at=row[4],
                      expires_at=row[5], user_agent=row[6], client=row[7], current=bool(row[8]))


def _token_out(row: tuple[Any, ...]) -> TokenOut:
    return TokenOut(id=row[0], name=row[1], role=row[2], prefix=row[3], created_at=row[4], last_used_at=row[5],
                    expires_at=row[6])


def _user_out(row: tuple[Any, ...]) -> UserOut:
    """From (id, username, role, must_change_password)."""
    return UserOut(id=row[0], username=row[1], is_admin=row[2] == Role.admin, role=row[2], must_change_password=row[3])


def _start_session(state: BackendState, request: Request, response: Response, user_id: UUID) -> None:
    token = new_token()
    lifetime = timedelta(hours=state.settings.session_hours)
    client = state.login_throttle.proxies.client(request.client.host if request.client else "",
                                                 request.headers.get("x-forwarded-for"))
    with state.pool.connection() as conn:
        sessions.start(conn, token_hash(state.settings.session_secret, token), user_id, lifetime,
                       request.headers.get("user-agent", "")[:300], client[:100])
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.settings.cookie_secure,
        path="/",
    )


@public.post("/login", response_model=UserOut, responses={
    401: {"description": "wrong username or password"},
    403: {"description": "the account is disabled"},
    429: {"description": "too many attempts for this account or from this client; see Retry-After"},
    503: {"description": "the login throttle (Redis) is unavailable"},
})
def login(body: LoginIn, request: Request, response: Response, state: StateDep) -> UserOut:
    # Counted before the hash: a refused attempt costs no bcrypt.
    state.login_throttle.admit(body.username, request.client.host if request.client else "",
                               request.headers.get("x-forwarded-for"))
    with state.pool.connection() as conn:
        row = users.credentials(conn, body.username)
    # verify_password runs bcrypt even for unknown users, so timing does not reveal which usernames exist.
    if not verify_password(body.password, row[4] if row else None) or row is None:
        raise ApiError(401, "wrong username or password", ("body", "password"))
    # Said only to whoever knows the password: a disabled account is not a secret to its owner.
    if row[5]:
        raise ApiError(403, "this account is disabled; ask an admin", ("body", "username"))
    state.login_throttle.succeeded(body.username)
    _start_session(state, request, response, row[0])
    return _user_out(row)


@public.post("/register", response_model=UserOut, status_code=201, responses={
    403: {"description": "self-registration is off (BACKEND_SELF_REGISTRATION)"},
    409: {"description": "the username is taken"},
    422: {"description": "username or password not acceptable"},
})
def register(body: RegisterIn, request: Request, response: Response, state: StateDep) -> UserOut:
    """Make an account with the role BACKEND_SELF_REGISTRATION_ROLE (viewer unless set) and sign it in."""
    if not state.settings.self_registration:
        raise ApiError(403, "self-registration is off: an admin makes accounts (`fovea users add`)", ())
    # Throttled like a login: each registration costs a bcrypt hash.
    state.login_throttle.admit(body.username, request.client.host if request.client else "",
                               request.headers.get("x-forwarded-for"))
    with state.pool.connection() as conn:
        account, _ = accounts.create(conn, body.username, state.settings.self_registration_role, body.password)
    _start_session(state, request, response, account.id)
    return UserOut(id=account.id, username=account.username, is_admin=False, role=account.role.value,
                   must_change_password=False)


@router.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, response: Response, state: StateDep) -> Response:
    token = request.cookies.get(COOKIE_NAME, "")
    with state.pool.connection() as conn:
        sessions.end_by_token(conn, token_hash(state.settings.session_secret, token))
    out = Response(status_code=204)
    out.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=state.settings.cookie_secure)
    return out


@router.get("/me", response_model=UserOut)
def me(state: StateDep, user: CurrentUser = Depends(require_session)) -> UserOut:
    """`role` is what this request may do: a token's role, else the user's."""
    with state.pool.connection() as conn:
        must_change = users.must_change_password(conn, user.id)
    return UserOut(id=user.id, username=user.username, is_admin=user.is_admin, role=user.role.value,
                   must_change_password=must_change)


@router.put("/password", response_model=PasswordChangedOut, responses={
    403: {"description": "the current password is wrong"}, 422: {"description": "the new password is not acceptable"}})
def change_password(body: PasswordChangeIn, state: StateDep,
                    user: CurrentUser = Depends(require_session)) -> PasswordChangedOut:
    """Every other session of the user ends; the one making the change stays signed in."""
    with state.pool.connection() as conn:
        ended = accounts.change_own_password(conn, user.id, body.current_password, body.new_password, user.session_id)
    return PasswordChangedOut(ended_sessions=ended)


@router.get("/sessions", response_model=list[SessionOut])
def my_sessions(state: StateDep, user: CurrentUser = Depends(require_session)) -> list[SessionOut]:
    with state.pool.connection() as conn:
        rows = sessions.own_sessions(conn, user.id, user.session_id)
    return [session_out(row) for row in rows]


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response,
               responses={404: {"description": "no such session of yours"}})
def end_my_session(session_id: UUID, state: StateDep, user: CurrentUser = Depends(require_session)) -> Response:
    with state.pool.connection() as conn:
        if not sessions.end_own(conn, session_id, user.id):
            raise ApiError(404, f"session {session_id} not found among yours", ("path", "session_id"))
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut])
def my_tokens(state: StateDep, user: CurrentUser = Depends(require_session)) -> list[TokenOut]:
    with state.pool.connection() as conn:
        rows = tokens.tokens_of(conn, user.id)
    return [_token_out(row) for row in rows]


@router.post("/tokens", response_model=TokenCreatedOut, status_code=201, responses={
    403: {"description": "the role asked for is higher than yours"}, 409: {"description": "you have a token of that name"}})
def create_token(body: TokenIn, state: StateDep, user: CurrentUser = Depends(require_session)) -> TokenCreatedOut:
    """The token is in this answer only; keep it. A token cannot make tokens of a higher role than its own."""
    role = Role(body.role) if body.role else user.role
    if not user.role.includes(role):
        raise ApiError(403, f"a token's role is at most yours ({user.role.value}), not {role.value}", ("body", "role"))
    secret = new_api_token()
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with state.pool.connection() as conn:
        row = tokens.create(conn, user.id, body.name, role.value, token_hash(state.settings.session_secret, secret),
                            secret[:10], lifetime)
    if row is None:
        raise ApiError(409, f"you already have a token named {body.name!r}", ("body", "name"))
    return TokenCreatedOut(**_token_out(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response,
               responses={404: {"description": "no such token of yours"}})
def revoke_token(token_id: UUID, state: StateDep, user: CurrentUser = Depends(require_session)) -> Response:
    with state.pool.connection() as conn:
        if not tokens.revoke(conn, token_id, user.id):
            raise ApiError(404, f"token {token_id} not found among yours", ("path", "token_id"))
    return Response(status_code=204)
