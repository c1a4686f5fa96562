"""The SQL of assignments, their review issues and progress (routes/assignments.py; the moves themselves: review.py).
Reads return the JSON PostgreSQL renders; None where there is no such row."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from fovea_backend.db import fetch_json

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

# The list's filters, each off when its parameter is NULL (or `mine` false); one row of JSON per assignment (`j`).
LIST = (f"SELECT {ASSIGNMENT} AS j {ASSIGNMENTS}"
        " WHERE (%(video)s::text IS NULL OR a.video_id = %(video)s)"
        " AND (%(assignee)s::text IS NULL OR ua.username = %(assignee)s)"
        " AND (NOT %(mine)s OR a.assignee_id = %(me)s)"
        " AND (%(states)s::text[] IS NULL OR a.state = ANY(%(states)s))"
        " ORDER BY v.filename, a.first_frame NULLS FIRST, a.created_at")
ISSUES_OF = f"SELECT {ISSUE} AS j FROM review_issues i WHERE i.assignment_id = %s ORDER BY i.frame, i.created_at"


def list_params(video_id: str | None, assignee: str | None, mine: bool, me: UUID, states: list[str] | None) -> dict[str, Any]:
    return {"video": video_id, "assignee": assignee, "mine": mine, "me": me, "states": states}


def assignment_json(conn: psycopg.Connection, assignment_id: UUID) -> str | None:
    return fetch_json(conn, f"SELECT {ASSIGNMENT}::text {ASSIGNMENTS} WHERE a.id = %s", (assignment_id,))


def issue_json(conn: psycopg.Connection, issue_id: UUID) -> str | None:
    return fetch_json(conn, f"SELECT {ISSUE}::text FROM review_issues i WHERE i.id = %s", (issue_id,))


def assignment_exists(conn: psycopg.Connection, assignment_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM assignments WHERE id = %s", (assignment_id,)).fetchone() is not None


def account(conn: psycopg.Connection, username: str) -> tuple[UUID, str, bool] | None:
    """(id, role, disabled) of the user named so."""
    row = conn.execute("SELECT id, role, disabled_at IS NOT NULL FROM users WHERE username = %s", (username,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def create(conn: psycopg.Connection, video_id: str, assignee_id: UUID, first_frame: int | None,
           last_frame: int | None) -> UUID:
    """A new assignment (state `new`, logged), made by the acting user; its id."""
    row = conn.execute("INSERT INTO assignments (video_id, assignee_id, first_frame, last_frame, created_by)"
                       " VALUES (%s, %s, %s, %s, fovea_actor()) RETURNING id",
                       (video_id, assignee_id, first_frame, last_frame)).fetchone()
    assert row is not None
    conn.execute("INSERT INTO assignment_log (assignment_id, to_state, actor) VALUES (%s, 'new', fovea_actor())", (row[0],))
    return row[0]  # type: ignore[no-any-return]


def delete(conn: psycopg.Connection, assignment_id: UUID) -> bool:
    """False: there was no such assignment."""
    return conn.execute("DELETE FROM assignments WHERE id = %s", (assignment_id,)).rowcount > 0


def lock_for_issue(conn: psycopg.Connection, assignment_id: UUID) -> tuple[str, str, int | None, int | None, UUID] | None:
    """(state, video id, first frame, last frame, assignee id), the row locked until the transaction ends."""
    row = conn.execute("SELECT a.state, a.video_id, a.first_frame, a.last_frame, a.assignee_id FROM assignments a"
                       " WHERE a.id = %s FOR UPDATE", (assignment_id,)).fetchone()
    return (row[0], row[1], row[2], row[3], row[4]) if row else None


def track_in_video(conn: psycopg.Connection, track_id: UUID, video_id: str) -> bool:
    return conn.execute("SELECT 1 FROM annotations WHERE id = %s AND video_id = %s", (track_id, video_id)).fetchone() is not None


def add_issue(conn: psycopg.Connection, assignment_id: UUID, frame: int, track_id: UUID | None, message: str,
              author_id: UUID) -> UUID:
    made = conn.execute("INSERT INTO review_issues (assignment_id, frame, track_id, message, author_id)"
                        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                        (assignment_id, frame, track_id, message, author_id)).fetchone()
    assert made is not None
    return made[0]  # type: ignore[no-any-return]


def issue_assignee(conn: psycopg.Connection, issue_id: UUID) -> tuple[UUID] | None:
    """(the assignee of the issue's assignment,), or None: no such issue."""
    row = conn.execute("SELECT a.assignee_id FROM review_issues i JOIN assignments a ON a.id = i.assignment_id"
                       " WHERE i.id = %s", (issue_id,)).fetchone()
    return (row[0],) if row else None


def resolve_issue(conn: psycopg.Connection, issue_id: UUID, by: UUID) -> None:
    """Resolving twice keeps the first resolution."""
    conn.execute("UPDATE review_issues SET resolved_at = now(), resolved_by = %s WHERE id = %s AND resolved_at IS NULL",
                 (by, issue_id))


def progress_json(conn: psycopg.Connection) -> str:
    """How many assignments are in each state, per person and per video (ProgressOut)."""
    text = fetch_json(conn,
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
        "  'videos', (SELECT coalesce(json_agg(w ORDER BY w.name), '[]') FROM videos_ w))::text")
    return text or '{"people": [], "videos": []}'
