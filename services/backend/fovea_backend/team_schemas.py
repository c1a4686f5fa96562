"""API models of accounts, sessions and API tokens (issue 21), apart from schemas.py so that file stays the
annotation model's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from fovea_backend.schemas import VIDEO_ID_PATTERN, ApiModel, FrameNumber, RoleName, Text


class AccountOut(ApiModel):
    id: UUID
    username: str
    role: RoleName
    disabled: bool
    must_change_password: bool
    created_at: datetime
    last_seen_at: datetime | None
    sessions: int


class AccountIn(ApiModel):
    username: Text(1, 200)  # type: ignore[valid-type]
    role: RoleName
    # Absent: a one-time password is generated, shown once in the answer, and must be changed at first use.
    password: Text(1, 1024) | None = None  # type: ignore[valid-type]


class AccountPatch(ApiModel):
    role: RoleName | None = None
    disabled: bool | None = None


class AccountWithPasswordOut(ApiModel):
    user: AccountOut
    # Shown once: only its bcrypt hash is stored.
    one_time_password: str | None = None


class RegisterIn(ApiModel):
    username: Text(1, 200)  # type: ignore[valid-type]
    password: Text(1, 1024)  # type: ignore[valid-type]


class PasswordChangeIn(ApiModel):
    current_password: Text(1, 1024)  # type: ignore[valid-type]
    new_password: Text(1, 1024)  # type: ignore[valid-type]


class PasswordChangedOut(ApiModel):
    ended_sessions: int


class SessionOut(ApiModel):
    id: UUID
    user_id: UUID
    username: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    client: str
    # The session this request was made with.
    current: bool


class TokenIn(ApiModel):
    name: Text(1, 100)  # type: ignore[valid-type]
    # Absent: the user's own role. Never higher than it.
    role: RoleName | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(ApiModel):
    id: UUID
    name: str
    role: RoleName
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class TokenCreatedOut(TokenOut):
    # The token itself, shown once: only its HMAC is stored. Use as `Authorization: Bearer <token>`.
    token: str


class HistoryEntryOut(ApiModel):
    id: int
    version: int
    op: Literal["create", "update", "delete"]
    at: datetime
    # Username; null when nobody signed in made it (before accounts, or a job of no one).
    actor: str | None
    label: str | None
    type: str | None
    keyframes: int
    # The whole stored row as it was (snake_case column names).
    track: dict[str, Any]


class RestoreIn(ApiModel):
    version: int = Field(ge=1)


AssignmentState = Literal["new", "in_progress", "submitted", "in_review", "accepted", "changes_requested"]


class AssignmentIn(ApiModel):
    video_id: str = Field(pattern=VIDEO_ID_PATTERN)
    assignee: Text(1, 200)  # type: ignore[valid-type]
    # Both or neither: a frame range of the video instead of all of it.
    first_frame: FrameNumber | None = None
    last_frame: FrameNumber | None = None


class AssignmentOut(ApiModel):
    id: UUID
    video_id: str
    video: str
    assignee: str
    assignee_id: UUID
    first_frame: int | None
    last_frame: int | None
    state: AssignmentState
    reviewer: str | None
    created_at: datetime
    updated_at: datetime
    issues: int
    open_issues: int


class AssignmentMove(ApiModel):
    state: AssignmentState


class IssueIn(ApiModel):
    frame: FrameNumber
    track_id: UUID | None = None
    message: Text(1, 5000)  # type: ignore[valid-type]


class IssueOut(ApiModel):
    id: UUID
    assignment_id: UUID
    frame: int
    track_id: UUID | None
    message: str
    author: str | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class ProgressRow(ApiModel):
    # A username (per person) or a video's file name (per video), with how many assignments are in each state.
    name: str
    id: str
    states: dict[str, int]
    total: int


class ProgressOut(ApiModel):
    people: list[ProgressRow]
    videos: list[ProgressRow]
