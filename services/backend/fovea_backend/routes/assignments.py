"""Assignments (a video or a frame range of it, given to an annotator), their review moves (review.py) and review
issues anchored to a frame and a track; progress per person and per video."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from fovea_backend import review
from fovea_backend.auth import CurrentUser, require_session
from fovea_backend.db import JsonText, json_list, json_or_404
from fovea_backend.errors import ApiError, not_found
from fovea_backend.roles import Role
from fovea_backend.schemas import VIDEO_ID_PATTERN
from fovea_backend.state import StateDep
from fovea_backend.team_schemas import (AssignmentIn, AssignmentMove, AssignmentOut, AssignmentState, IssueIn, IssueOut,
                                        ProgressOut)

router = APIRouter(tags=["review"])
NOT_FOUND = {404: {"description": "no such assignment"}}

ASSIGNMENT = """json_build_object('id', a.id, 'videoId', a.video_id, 'video', v.filename, 'assignee', ua.username,
  'assigneeId', a.assignee_id, 'firstFrame', a.first_frame, 'lastFrame', a.last_frame, 'state', a.state,
  'reviewer', ur.username, 'createdAt', a.created_at, 'updatedAt', a.updated_at,
  'issues', (SELECT count(*) FROM review_issues i WHERE i.assignment_id = a.id),
  'openIssues', (SELECT count(*) FROM review_issues i WHERE i.assignment_id = a.id AND i.resolved_at IS NULL))"""
ASSIGNMENTS = ("FROM assignments a JOIN videos v ON v.id = a.video_id JOIN users ua ON ua.id = a.assignee_id"
               " LEFT JOIN users ur ON ur.id = a.reviewer_id")
ISSUE = """json_build_object('id', i.id, 'assignmentId', i.assignment_id, 'frame', i.frame, 'trackId', i.track_id,
  'message', i.message, 'author', (SELECT u.username FROM users u WHERE u.id = i.author_id), 'createdAt', i.created_at,
  'resolvedAt', i.resolved_at, 'resolvedBy', (SELECT u.username FROM users u WHERE u.id = i.resolved_by))"""


def _assignment(conn, assignment_id: UUID, status: int = 200) -> JsonText:  # type: ignore[no-untyped-def]
    return json_or_404(conn, f"SELECT {ASSIGNMENT}::text {ASSIGNMENTS} WHERE a.id = %s", (assignment_id,),
                       not_found("assignment", assignment_id, ("path", "assignment_id")), status)


@router.get("/api/assignments", response_model=list[AssignmentOut])
def list_assignments(
    state_: StateDep, video_id: Annotated[str | None, Query(alias="videoId", pattern=VIDEO_ID_PATTERN)] = None,
    assignee: Annotated[str | None, Query(max_length=200, description="a username")] = None,
    mine: bool = Query(False, description="only the signed-in user's"),
    state: Annotated[list[AssignmentState] | None, Query(description="may repeat")] = None,
    user: CurrentUser = Depends(require_session),
) -> Response:
    with state_.pool.connection() as conn:
        return json_list(conn, f"SELECT {ASSIGNMENT} AS j {ASSIGNMENTS}"
                               " WHERE (%(video)s::text IS NULL OR a.video_id = %(video)s)"
                               " AND (%(assignee)s::text IS NULL OR ua.username = %(assignee)s)"
                               " AND (NOT %(mine)s OR a.assignee_id = %(me)s)"
                               " AND (%(states)s::text[] IS NULL OR a.state = ANY(%(states)s))"
                               " ORDER BY v.filename, a.first_frame NULLS FIRST, a.created_at",
                         {"video": video_id, "assignee": assignee, "mine": mine, "me": user.id, "states": state})


@router.post("/api/assignments", response_model=AssignmentOut, status_code=201, responses={
    404: {"description": "no such video"}, 422: {"description": "unknown or unfit assignee, bad frame range"}})
def create_assignment(body: AssignmentIn, state: StateDep) -> JsonText:
    if (body.first_frame is None) != (body.last_frame is None):
        raise ApiError(422, "give both firstFrame and lastFrame, or neither (the whole video)", ("body", "lastFrame"))
    if body.first_frame is not None and body.last_frame is not None and body.last_frame < body.first_frame:
        raise ApiError(422, "lastFrame comes before firstFrame", ("body", "lastFrame"))
    with state.pool.connection() as conn:
        if conn.execute("SELECT 1 FROM videos WHERE id = %s", (body.video_id,)).fetchone() is None:
            raise not_found("video", body.video_id, ("body", "videoId"))
        person = conn.execute("SELECT id, role, disabled_at IS NOT NULL FROM users WHERE username = %s",
                              (body.assignee,)).fetchone()
        if person is None:
            raise ApiError(422, f"no user named {body.assignee}", ("body", "assignee"))
        if person[2] or not Role(person[1]).includes(Role.annotator):
            raise ApiError(422, f"{body.assignee} cannot annotate ({'disabled' if person[2] else person[1]})", ("body", "assignee"))
        row = conn.execute("INSERT INTO assignments (video_id, assignee_id, first_frame, last_frame, created_by)"
                           " VALUES (%s, %s, %s, %s, fovea_actor()) RETURNING id",
                           (body.video_id, person[0], body.first_frame, body.last_frame)).fetchone()
        assert row is not None
        conn.execute("INSERT INTO assignment_log (assignment_id, to_state, actor) VALUES (%s, 'new', fovea_actor())", (row[0],))
        return _assignment(conn, row[0], 201)


@router.delete("/api/assignments/{assignment_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def delete_assignment(assignment_id: UUID, state: StateDep) -> Response:
    with state.pool.connection() as conn:
        if conn.execute("DELETE FROM assignments WHERE id = %s", (assignment_id,)).rowcount == 0:
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
        if conn.execute("SELECT 1 FROM assignments WHERE id = %s", (assignment_id,)).fetchone() is None:
            raise not_found("assignment", assignment_id, ("path", "assignment_id"))
        return json_list(conn, f"SELECT {ISSUE} AS j FROM review_issues i WHERE i.assignment_id = %s"
                               " ORDER BY i.frame, i.created_at", (assignment_id,))


@router.post("/api/assignments/{assignment_id}/issues", response_model=IssueOut, status_code=201, responses={
    **NOT_FOUND, 409: {"description": "the assignment is not in review"}, 422: {"description": "frame or track not in it"}})
def add_issue(assignment_id: UUID, body: IssueIn, state: StateDep,
              user: CurrentUser = Depends(require_session)) -> JsonText:
    with state.pool.connection() as conn:
        row = conn.execute("SELECT a.state, a.video_id, a.first_frame, a.last_frame, a.assignee_id FROM assignments a"
                           " WHERE a.id = %s FOR UPDATE", (assignment_id,)).fetchone()
        if row is None:
            raise not_found("assignment", assignment_id, ("path", "assignment_id"))
        current, video_id, first, last, assignee = row
        if current != "in_review":
            raise ApiError(409, f"issues are raised in review: the assignment is {current}", ("path", "assignment_id"))
        if user.id == assignee and not user.is_admin:
            raise ApiError(403, "nobody reviews their own work (an admin may)", ("path", "assignment_id"))
        if first is not None and not first <= body.frame <= last:
            raise ApiError(422, f"frame {body.frame} is outside the assignment's frames {first}..{last}", ("body", "frame"))
        if body.track_id is not None and conn.execute("SELECT 1 FROM annotations WHERE id = %s AND video_id = %s",
                                                      (body.track_id, video_id)).fetchone() is None:
            raise ApiError(422, f"track {body.track_id} is not a track of this video", ("body", "trackId"))
        made = conn.execute("INSERT INTO review_issues (assignment_id, frame, track_id, message, author_id)"
                            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                            (assignment_id, body.frame, body.track_id, body.message, user.id)).fetchone()
        assert made is not None
        return json_or_404(conn, f"SELECT {ISSUE}::text FROM review_issues i WHERE i.id = %s", (made[0],),
                           not_found("issue", made[0]), 201)


@router.post("/api/review-issues/{issue_id}/resolve", response_model=IssueOut, responses={
    404: {"description": "no such issue"}, 403: {"description": "neither the assignee nor a reviewer"}})
def resolve_issue(issue_id: UUID, state: StateDep, user: CurrentUser = Depends(require_session)) -> JsonText:
    """The assignee marks it fixed (or a reviewer withdraws it); resolving twice keeps the first resolution."""
    with state.pool.connection() as conn:
        row = conn.execute("SELECT a.assignee_id FROM review_issues i JOIN assignments a ON a.id = i.assignment_id"
                           " WHERE i.id = %s", (issue_id,)).fetchone()
        if row is None:
            raise not_found("issue", issue_id, ("path", "issue_id"))
        if row[0] != user.id and not user.role.includes(Role.reviewer):
            raise ApiError(403, "only the assignee or a reviewer resolves an issue", ("path", "issue_id"))
        conn.execute("UPDATE review_issues SET resolved_at = now(), resolved_by = %s WHERE id = %s AND resolved_at IS NULL",
                     (user.id, issue_id))
        return json_or_404(conn, f"SELECT {ISSUE}::text FROM review_issues i WHERE i.id = %s", (issue_id,),
                           not_found("issue", issue_id, ("path", "issue_id")))


@router.get("/api/assignments/progress", response_model=ProgressOut)
def progress(state: StateDep) -> JsonText:
    """How many assignments are in each state, per person and per video."""
    with state.pool.connection() as conn:
        text = conn.execute(
            "WITH counts AS (SELECT a.assignee_id, a.video_id, a.state, count(*) AS n FROM assignments a"
            "  GROUP BY a.assignee_id, a.video_id, a.state),"
            " people AS (SELECT u.username AS name, u.id::text AS id, jsonb_object_agg(c.state, c.n) AS states,"
            "  sum(c.n) AS total FROM (SELECT assignee_id, state, sum(n) AS n FROM counts GROUP BY assignee_id, state) c"
            "  JOIN users u ON u.id = c.assignee_id GROUP BY u.username, u.id),"
            " videos_ AS (SELECT v.filename AS name, v.id AS id, jsonb_object_agg(c.state, c.n) AS states, sum(c.n) AS total"
            "  FROM (SELECT video_id, state, sum(n) AS n FROM counts GROUP BY video_id, state) c"
            "  JOIN videos v ON v.id = c.video_id GROUP BY v.filename, v.id)"
            " SELECT json_build_object("
            "  'people', (SELECT coalesce(json_agg(p ORDER BY p.name), '[]') FROM people p),"
            "  'videos', (SELECT coalesce(json_agg(w ORDER BY w.name), '[]') FROM videos_ w))::text").fetchone()
    return JsonText(content=text[0] if text else '{"people": [], "videos": []}')
