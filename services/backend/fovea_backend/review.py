"""The review workflow's rules: which moves an assignment may make, and who may make each.

    new ──► in_progress ──► submitted ──► in_review ──► accepted
     └──────────────────────►  ▲              │  ▲          │
                               │              ▼  │          │ (reopen)
                          changes_requested ◄─┘  │          ▼
                               └──► in_progress ─┘     in_progress

The assignee starts and submits their work (submitting needs every review issue resolved); a reviewer (not the
assignee) opens a submitted assignment for review, then accepts it or requests changes; accepted work is reopened
by a reviewer. Admins may make every move. The database keeps accepted videos read-only (0063).
"""

from __future__ import annotations

from typing import Final, Literal
from uuid import UUID

import psycopg

from fovea_backend.auth import CurrentUser
from fovea_backend.errors import ApiError
from fovea_backend.roles import Role

State = Literal["new", "in_progress", "submitted", "in_review", "accepted", "changes_requested"]
Mover = Literal["assignee", "reviewer"]

MOVES: Final[dict[tuple[str, str], Mover]] = {
    ("new", "in_progress"): "assignee",
    ("new", "submitted"): "assignee",
    ("in_progress", "submitted"): "assignee",
    ("changes_requested", "in_progress"): "assignee",
    ("changes_requested", "submitted"): "assignee",
    ("submitted", "in_review"): "reviewer",
    ("in_review", "accepted"): "reviewer",
    ("in_review", "changes_requested"): "reviewer",
    ("accepted", "in_progress"): "reviewer",
}


def check_move(user: CurrentUser, assignee: UUID, current: str, wanted: str, open_issues: int) -> None:
    """Raise the 4xx that says why `user` may not move an assignment from `current` to `wanted`."""
    mover = MOVES.get((current, wanted))
    if mover is None:
        allowed = sorted(to for (origin, to) in MOVES if origin == current)
        raise ApiError(409, f"an assignment that is {current} cannot become {wanted}; it can become: "
                            f"{', '.join(allowed) or 'nothing'}", ("body", "state"))
    if not user.is_admin:
        if mover == "assignee" and user.id != assignee:
            raise ApiError(403, f"only the assignee (or an admin) moves an assignment to {wanted}", ("body", "state"))
        if mover == "reviewer":
            if not user.role.includes(Role.reviewer):
                raise ApiError(403, f"moving an assignment to {wanted} needs the reviewer role", ("body", "state"))
            if user.id == assignee:
                raise ApiError(403, "nobody reviews their own work (an admin may)", ("body", "state"))
    if wanted in ("submitted", "accepted") and open_issues:
        raise ApiError(409, f"{open_issues} review issue(s) are not resolved yet", ("body", "state"))


def move(conn: psycopg.Connection, user: CurrentUser, assignment_id: UUID, wanted: str) -> None:
    row = conn.execute("SELECT assignee_id, state, (SELECT count(*) FROM review_issues i WHERE i.assignment_id = a.id"
                       " AND i.resolved_at IS NULL) FROM assignments a WHERE id = %s FOR UPDATE",
                       (assignment_id,)).fetchone()
    if row is None:
        raise ApiError(404, f"assignment {assignment_id} not found", ("path", "assignment_id"))
    assignee, current, open_issues = row
    check_move(user, assignee, current, wanted, open_issues)
    reviewer = user.id if MOVES[(current, wanted)] == "reviewer" else None
    conn.execute("UPDATE assignments SET state = %s, updated_at = now(), reviewer_id = coalesce(%s, reviewer_id)"
                 " WHERE id = %s", (wanted, reviewer, assignment_id))
    conn.execute("INSERT INTO assignment_log (assignment_id, from_state, to_state, actor) VALUES (%s, %s, %s, %s)",
                 (assignment_id, current, wanted, user.id))
