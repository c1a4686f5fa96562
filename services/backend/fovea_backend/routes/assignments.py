"""Assignments (a video or a frame range of it, given to an annotator), their review moves (review.py) and review
issues anchored to a frame and a track; progress per person and per video."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Query, Response

from fovea_backend import review
from fovea_backend.auth import CurrentUser, require_session
from fovea_backend.db import JsonText, json_list
from fovea_backend.errors import ApiError, not_found
from fovea_backend.roles import Role
from fovea_backend.schemas import VIDEO_ID_PATTERN
from fovea_backend.state import StateDep
from fovea_backend.store import assignments as store
from fovea_backend.store import videos
from fovea_backend.team_schemas import (AssignmentIn, AssignmentMove, AssignmentOut, AssignmentState, IssueIn, IssueOut,
                                        ProgressOut)

router = APIRouter(tags=["review"])
NOT_FOUND = {404: {"description": "no such assignment"}}

def _assignment(conn: psycopg.Connection, assignment_id: UUID, status: int = 200) -> JsonText:
    text = store.assignment_json(conn, assignment_id)
    if text is None:
        raise not_found("assignment", assignment_id, ("path", "assignment_id"))
    return JsonText(content=text, status_code=status)


def _issue(conn: psycopg.Connection, issue_id: UUID, status: int = 200) -> JsonText:
    text = store.issue_json(conn, issue_id)
    if text is None:
        raise not_found("issue", issue_id, ("path", "issue_id"))
    return JsonText(content=text, status_code=status)


@router.get("/api/assignments", response_model=list[AssignmentOut])
def list_assignments(
    state_: StateDep, video_id: Annotated[str | None, Query(alias="videoId", pattern=VIDEO_ID_PATTERN)] = None,
    assignee: Annotated[str | None, Query(max_length=200, description="a username")] = None,
    mine: bool = Query(False, description="only the signed-in user's"),
    state: Annotated[list[AssignmentState] | None, Query(description="may repeat")] = None,
    user: CurrentUser = Depends(require_session),
) -> Response:
    with state_.pool.connection() as conn:
        return json_list(conn, store.LIST, store.list_params(video_id, assignee, mine, user.id, state))


@router.post("/api/assignments", response_model=AssignmentOut, status_code=201, responses={
    404: {"description": "no such video"}, 422: {"description": "unknown or unfit assignee, bad frame range"}})
def create_assignment(body: AssignmentIn, state: StateDep) -> JsonText:
    if (body.first_frame is None) != (body.last_frame is None):
        raise ApiError(422, "give both firstFrame and lastFrame, or neither (the whole video)", ("body", "lastFrame"))
    if body.first_frame is not None and body.last_frame is not None and body.last_frame < body.first_frame:
        raise ApiError(422, "lastFrame comes before firstFrame", ("body", "lastFrame"))
    with state.pool.connection() as conn:
        if not videos.exists(conn, body.video_id):
            raise not_found("video", body.video_id, ("body", "videoId"))
        person = store.account(conn, body.assignee)
        if person is None:
            raise ApiError(422, f"no user named {body.assignee}", ("body", "assignee"))
        if person[2] or not Role(person[1]).includes(Role.annotator):
            raise ApiError(422, f"{body.assignee} cannot annotate ({'disabled' if person[2] else person[1]})", ("body", "assignee"))
        made = store.create(conn, body.video_id, person[0], body.first_frame, body.last_frame)
        return _assignment(conn, made, 201)


@router.delete("/api/assignments/{assignment_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def delete_assignment(assignment_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        if not store.delete(conn, assignment_id):
            raise not_found("assignment", assignment_id, ("path", "assignment_id"))
    return Response(status_code=204)


@router.put("/api/assignments/{assignment_id}/state", response_model=AssignmentOut, responses={
    **NOT_FOUND, 403: {"description": "not yours to move"}, 409: {"description": "not a move from its state"}})
def move_assignment(assignment_id: UUID, body: AssignmentMove, state: StateDep,
                    user: CurrentUser = Depends(require_session)) -> JsonText:
    with state.pool.connection() as conn:
        review.move(conn, user, assignment_id, body.state)
        return _assignment(conn, assignment_id)


@router.get("/api/assignments/{assignment_id}/issues", response_model=list[IssueOut], responses=NOT_FOUND)
def list_issues(assignment_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        if not store.assignment_exists(conn, assignment_id):
            raise not_found("assignment", assignment_id, ("path", "assignment_id"))
        return json_list(conn, store.ISSUES_OF, (assignment_id,))


@router.post("/api/assignments/{assignment_id}/issues", response_model=IssueOut, status_code=201, responses={
    **NOT_FOUND, 409: {"description": "the assignment is not in review"}, 422: {"description": "frame or track not in it"}})
def add_issue(assignment_id: UUID, body: IssueIn, state: StateDep,
              user: CurrentUser = Depends(require_session)) -> JsonText:
    with state.pool.connection() as conn:
        row = store.lock_for_issue(conn, assignment_id)
        if row is None:
            raise not_found("assignment", assignment_id, ("path", "assignment_id"))
        current, video_id, first, last, assignee = row
        if current != "in_review":
            raise ApiError(409, f"issues are raised in review: the assignment is {current}", ("path", "assignment_id"))
        if user.id == assignee and not user.is_admin:
            raise ApiError(403, "nobody reviews their own work (an admin may)", ("path", "assignment_id"))
        if first is not None and not first <= body.frame <= last:
            raise ApiError(422, f"frame {body.frame} is outside the assignment's frames {first}..{last}", ("body", "frame"))
        if body.track_id is not None and not store.track_in_video(conn, body.track_id, video_id):
            raise ApiError(422, f"track {body.track_id} is not a track of this video", ("body", "trackId"))
        made = store.add_issue(conn, assignment_id, body.frame, body.track_id, body.message, user.id)
        return _issue(conn, made, 201)


@router.post("/api/review-issues/{issue_id}/resolve", response_model=IssueOut, responses={
    404: {"description": "no such issue"}, 403: {"description": "neither the assignee nor a reviewer"}})
def resolve_issue(issue_id: UUID, state: StateDep, user: CurrentUser = Depends(require_session)) -> JsonText:
    """The assignee marks it fixed (or a reviewer withdraws it); resolving twice keeps the first resolution."""
    with state.pool.connection() as conn:
        row = store.issue_assignee(conn, issue_id)
        if row is None:
            raise not_found("issue", issue_id, ("path", "issue_id"))
        if row[0] != user.id and not user.role.includes(Role.reviewer):
            raise ApiError(403, "only the assignee or a reviewer resolves an issue", ("path", "issue_id"))
        store.resolve_issue(conn, issue_id, user.id)
        return _issue(conn, issue_id)


@router.get("/api/assignments/progress", response_model=ProgressOut)
def progress(state: StateDep) -> JsonText:
    """How many assignments are in each state, per person and per video."""
    with state.pool.connection() as conn:
        return JsonText(content=store.progress_json(conn))

