"""Admins manage accounts and everyone's sessions (roles.py gives every route here to `admin` only)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from fovea_backend import accounts
from fovea_backend.accounts import Account
from fovea_backend.auth import CurrentUser, require_session
from fovea_backend.errors import ApiError
from fovea_backend.routes.auth import session_out
from fovea_backend.state import StateDep
from fovea_backend.store import sessions as store
from fovea_backend.team_schemas import AccountIn, AccountOut, AccountPatch, AccountWithPasswordOut, SessionOut

router = APIRouter(tags=["users"])
NOT_FOUND = {404: {"description": "no such user"}}
LAST_ADMIN = {409: {"description": "the change would leave no enabled admin"}}


def _out(account: Account) -> AccountOut:
    return AccountOut(id=account.id, username=account.username, role=account.role.value, disabled=account.disabled,
                      must_change_password=account.must_change_password, created_at=account.created_at,
                      last_seen_at=account.last_seen_at, sessions=account.sessions)


@router.get("/api/users", response_model=list[AccountOut])
def list_users(state: StateDep) -> list[AccountOut]:
    with state.pool.connection() as conn:
        return [_out(account) for account in accounts.list_accounts(conn)]


@router.post("/api/users", response_model=AccountWithPasswordOut, status_code=201, responses={
    409: {"description": "the username is taken"}, 422: {"description": "username, role or password not acceptable"}})
def create_user(body: AccountIn, state: StateDep) -> AccountWithPasswordOut:
    """Without `password`, the answer carries a generated one-time password (shown once), to be changed at first use."""
    with state.pool.connection() as conn:
        account, generated = accounts.create(conn, body.username, body.role, body.password)
    return AccountWithPasswordOut(user=_out(account), one_time_password=generated)


@router.patch("/api/users/{user_id}", response_model=AccountOut, responses={**NOT_FOUND, **LAST_ADMIN})
def update_user(user_id: UUID, body: AccountPatch, state: StateDep,
                user: CurrentUser = Depends(require_session)) -> AccountOut:
    """Role and/or disabled; disabling ends the user's sessions and stops their tokens."""
    if body.disabled and user_id == user.id:
        raise ApiError(409, "you cannot disable yourself (another admin can)", ("body", "disabled"))
    with state.pool.connection() as conn:
        account = accounts.find(conn, user_id)
        if body.role is not None:
            account = accounts.set_role(conn, user_id, body.role)
        if body.disabled is not None:
            account = accounts.set_disabled(conn, user_id, body.disabled)
        return _out(account)


@router.post("/api/users/{user_id}/reset-password", response_model=AccountWithPasswordOut, responses=NOT_FOUND)
def reset_password(user_id: UUID, state: StateDep) -> AccountWithPasswordOut:
    """A new one-time password (in this answer only); the user's sessions end."""
    with state.pool.connection() as conn:
        account, generated = accounts.reset_password(conn, user_id)
    return AccountWithPasswordOut(user=_out(account), one_time_password=generated)


@router.get("/api/sessions", response_model=list[SessionOut])
def all_sessions(state: StateDep, user_id: UUID | None = Query(default=None, alias="userId"),
                 user: CurrentUser = Depends(require_session)) -> list[SessionOut]:
    with state.pool.connection() as conn:
        rows = store.live_sessions(conn, user_id, user.session_id)
    return [session_out(row) for row in rows]


@router.delete("/api/sessions/{session_id}", status_code=204, response_class=Response,
               responses={404: {"description": "no such session"}})
def end_session(session_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        if not store.end(conn, session_id):
            raise ApiError(404, f"session {session_id} not found", ("path", "session_id"))
    return Response(status_code=204)
