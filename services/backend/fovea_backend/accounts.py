"""User accounts: create, list, disable/enable, change role, reset or change a password; one place for the
rules, used by the admin routes (routes/users.py), the user's own routes (routes/auth.py) and the command
`python3 -m fovea_backend.users` that `fovea users` runs inside the backend container.

Every function takes the caller's connection and leaves the transaction to it, validates before it writes,
and raises ApiError (a 4xx naming the field) for bad input, so nothing is half done.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from fovea_backend.auth import hash_password, verify_password
from fovea_backend.errors import ApiError
from fovea_backend.roles import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MIN_DISTINCT_CHARACTERS = 5


@dataclass(frozen=True)
class Account:
    id: UUID
    username: str
    role: Role
    disabled: bool
    must_change_password: bool
    created_at: datetime
    last_seen_at: datetime | None
    sessions: int

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.username, "role": self.role.value, "disabled": self.disabled,
                "mustChangePassword": self.must_change_password, "createdAt": self.created_at.isoformat(),
                "lastSeenAt": self.last_seen_at.isoformat() if self.last_seen_at else None, "sessions": self.sessions}


_ACCOUNT = (
    "SELECT u.id, u.username, u.role, u.disabled_at IS NOT NULL, u.must_change_password, u.created_at,"
    " (SELECT max(s.last_used_at) FROM sessions s WHERE s.user_id = u.id),"
    " (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > now())"
    " FROM users u"
)


def _account(row: tuple[Any, ...]) -> Account:
    return Account(row[0], row[1], Role(row[2]), row[3], row[4], row[5], row[6], int(row[7]))


def check_username(username: str, field: tuple[str, ...] = ("body", "username")) -> str:
    if not USERNAME.match(username):
        raise ApiError(422, "a username is 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit", field)
    return username


def check_password(password: str, username: str, field: tuple[str, ...] = ("body", "password")) -> str:
    """Refuses what is easy to guess; the message says the rule, never the password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ApiError(422, f"too short: a password has at least {MIN_PASSWORD_LENGTH} characters", field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ApiError(422, f"too long: a password has at most {MAX_PASSWORD_LENGTH} characters", field)
    if "\x00" in password:
        raise ApiError(422, "a password cannot contain a NUL character", field)
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise ApiError(422, f"too weak: use at least {MIN_DISTINCT_CHARACTERS} different characters", field)
    if username.lower() in password.lower():
        raise ApiError(422, "too weak: a password cannot contain the username", field)
    return password


def check_role_name(role: str, field: tuple[str, ...] = ("body", "role")) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ApiError(422, f"unknown role {role!r}: one of {', '.join(r.value for r in Role)}", field) from None


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def find(conn: psycopg.Connection, who: UUID | str, field: tuple[str, ...] = ("path", "user_id")) -> Account:
    """The account named by id (the API) or username (the command)."""
    column = "id" if isinstance(who, UUID) else "username"
    row = conn.execute(f"{_ACCOUNT} WHERE u.{column} = %s", (who,)).fetchone()
    if row is None:
        raise ApiError(404, f"user {who} not found", field)
    return _account(row)


def list_accounts(conn: psycopg.Connection) -> list[Account]:
    return [_account(row) for row in conn.execute(f"{_ACCOUNT} ORDER BY u.username").fetchall()]


def create(conn: psycopg.Connection, username: str, role: str, password: str | None) -> tuple[Account, str | None]:
    """A new account; without a password, a generated one-time password (returned, and to be changed at first use)."""
    check_username(username)
    checked_role = check_role_name(role)
    generated = None
    if password is None:
        password = generated = one_time_password()
    else:
        check_password(password, username)
    row = conn.execute(
        "INSERT INTO users (username, password_hash, role, must_change_password) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (username) DO NOTHING RETURNING id",
        (username, hash_password(password), checked_role.value, generated is not None)).fetchone()
    if row is None:
        raise ApiError(409, f"user {username} already exists", ("body", "username"))
    return find(conn, row[0]), generated


def end_sessions(conn: psycopg.Connection, user_id: UUID, keep: UUID | None = None) -> int:
    return conn.execute("DELETE FROM sessions WHERE user_id = %s AND id IS DISTINCT FROM %s", (user_id, keep)).rowcount


def _keep_an_admin(conn: psycopg.Connection, account: Account, what: str) -> None:
    """Refuse the change that would leave no enabled admin (nobody could manage users again)."""
    if account.role is not Role.admin or account.disabled:
        return
    # Locking the enabled admins' rows: two admins disabling each other at once cannot both pass this check.
    admins = conn.execute("SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL FOR UPDATE").fetchall()
    if not [row for row in admins if row[0] != account.id]:
        raise ApiError(409, f"{what} {account.username} would leave no enabled admin", ("path", "user_id"))


def set_disabled(conn: psycopg.Connection, who: UUID | str, disabled: bool) -> Account:
    """Disabling ends every session of the user; their tokens stop working while disabled."""
    account = find(conn, who)
    if disabled:
        _keep_an_admin(conn, account, "disabling")
        conn.execute("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = %s", (account.id,))
        end_sessions(conn, account.id)
    else:
        conn.execute("UPDATE users SET disabled_at = NULL WHERE id = %s", (account.id,))
    return find(conn, account.id)


def set_role(conn: psycopg.Connection, who: UUID | str, role: str) -> Account:
    checked_role = check_role_name(role)
    account = find(conn, who)
    if checked_role is not Role.admin:
        _keep_an_admin(conn, account, "demoting")
    conn.execute("UPDATE users SET role = %s WHERE id = %s", (checked_role.value, account.id))
    return find(conn, account.id)


def reset_password(conn: psycopg.Connection, who: UUID | str, password: str | None = None) -> tuple[Account, str | None]:
    """A new password (given, or a generated one-time password returned); every session of the user ends."""
    account = find(conn, who)
    generated = None
    if password is None:
        password = generated = one_time_password()
    else:
        check_password(password, account.username)
    conn.execute("UPDATE users SET password_hash = %s, must_change_password = %s, password_changed_at = now() WHERE id = %s",
                 (hash_password(password), generated is not None, account.id))
    end_sessions(conn, account.id)
    return find(conn, account.id), generated


def change_own_password(conn: psycopg.Connection, user_id: UUID, current: str, new: str, keep_session: UUID | None) -> int:
    """The user's own change: the current password proves it is them; every other session ends (the one
    making the change stays). Returns how many sessions ended."""
    row = conn.execute("SELECT username, password_hash FROM users WHERE id = %s FOR UPDATE", (user_id,)).fetchone()
    if row is None or not verify_password(current, row[1]):
        raise ApiError(403, "the current password is wrong", ("body", "currentPassword"))
    check_password(new, row[0], ("body", "newPassword"))
    if verify_password(new, row[1]):
        raise ApiError(422, "the new password is the current one", ("body", "newPassword"))
    conn.execute("UPDATE users SET password_hash = %s, must_change_password = false, password_changed_at = now()"
                 " WHERE id = %s", (hash_password(new), user_id))
    return end_sessions(conn, user_id, keep=keep_session)
