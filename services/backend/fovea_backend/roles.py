"""Who may call what: the one table of every route's lowest role, enforced by `auth.require_session`.

Roles are ordered; each includes everything below it:

- `viewer`: reads everything, keeps its own place in a video and its own account (password, tokens, sessions);
- `annotator`: also draws and edits tracks, events, relations and the world, imports, runs AI jobs, makes
  personas (its own: editing one is for its owner and admins, checked where personas are written);
- `reviewer`: also reviews submitted work;
- `admin`: also users, sessions of everyone, removing videos, syncing the video catalogue.

A route missing from `ROUTE_ROLES` is refused to everyone (403 naming this file) and fails
tests/backend/test_roles.py, which walks the OpenAPI document: adding a route means adding its line here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    viewer = "viewer"
    annotator = "annotator"
    reviewer = "reviewer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role may do what `other` may."""
        return self.rank >= other.rank


ROLE_ORDER: Final = (Role.viewer, Role.annotator, Role.reviewer, Role.admin)

# Routes answered without signing in (no session, no token).
PUBLIC: Final = frozenset({
    ("GET", "/health"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/register"),  # 403 unless BACKEND_SELF_REGISTRATION is on
})

READ, ANNOTATE, REVIEW, ADMIN = Role.viewer, Role.annotator, Role.reviewer, Role.admin

# (method, path template as in the OpenAPI document) -> the lowest role allowed.
ROUTE_ROLES: Final[dict[tuple[str, str], Role]] = {
    # --- own account ------------------------------------------------------------------------------------
    ("GET", "/api/auth/me"): READ,
    ("POST", "/api/auth/logout"): READ,
    ("PUT", "/api/auth/password"): READ,
    ("GET", "/api/auth/sessions"): READ,
    ("DELETE", "/api/auth/sessions/{session_id}"): READ,
    ("GET", "/api/auth/tokens"): READ,
    ("POST", "/api/auth/tokens"): READ,
    ("DELETE", "/api/auth/tokens/{token_id}"): READ,
    # --- users and everyone's sessions ------------------------------------------------------------------
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{user_id}"): ADMIN,
    ("POST", "/api/users/{user_id}/reset-password"): ADMIN,
    ("GET", "/api/sessions"): ADMIN,
    ("DELETE", "/api/sessions/{session_id}"): ADMIN,
    # --- personas and ontologies ------------------------------------------------------------------------
    ("GET", "/api/personas"): READ,
    ("POST", "/api/personas"): ANNOTATE,
    ("GET", "/api/personas/{persona_id}"): READ,
    ("PUT", "/api/personas/{persona_id}"): ANNOTATE,
    ("DELETE", "/api/personas/{persona_id}"): ANNOTATE,
    ("GET", "/api/personas/{persona_id}/ontology"): READ,
    ("PUT", "/api/personas/{persona_id}/ontology"): ANNOTATE,
    # --- world --------------------------------------------------------------------------------------------
    ("GET", "/api/world"): READ,
    ("PUT", "/api/world"): ANNOTATE,
    ("GET", "/api/world/appearances"): READ,
    ("POST", "/api/world/{kind}"): ANNOTATE,
    ("PATCH", "/api/world/{kind}/{object_id}"): ANNOTATE,
    ("DELETE", "/api/world/{kind}/{object_id}"): ANNOTATE,
    ("PUT", "/api/world/{kind}/{object_id}/types/{persona_id}"): ANNOTATE,
    # --- videos -------------------------------------------------------------------------------------------
    ("GET", "/api/videos"): READ,
    ("POST", "/api/videos/sync"): ADMIN,
    ("GET", "/api/videos/{video_id}"): READ,
    ("DELETE", "/api/videos/{video_id}"): ADMIN,
    ("GET", "/api/videos/{video_id}/stream"): READ,
    ("GET", "/api/videos/{video_id}/thumbnail"): READ,
    ("GET", "/api/videos/{video_id}/position"): READ,
    ("PUT", "/api/videos/{video_id}/position"): READ,  # the viewer's own place, not shared data
    ("GET", "/api/videos/{video_id}/view"): READ,
    ("PUT", "/api/videos/{video_id}/view"): READ,
    # --- annotations --------------------------------------------------------------------------------------
    ("GET", "/api/annotations/{video_id}"): READ,
    ("POST", "/api/annotations"): ANNOTATE,
    ("PUT", "/api/annotations/{annotation_id}"): ANNOTATE,
    ("DELETE", "/api/annotations/{annotation_id}"): ANNOTATE,
    ("GET", "/api/annotations/{annotation_id}/history"): READ,
    ("POST", "/api/annotations/{annotation_id}/restore"): ANNOTATE,
    ("GET", "/api/videos/{video_id}/annotations"): READ,
    ("PUT", "/api/videos/{video_id}/annotations"): ANNOTATE,
    # --- AI jobs ------------------------------------------------------------------------------------------
    ("POST", "/api/videos/{video_id}/detect"): ANNOTATE,
    ("POST", "/api/videos/{video_id}/track"): ANNOTATE,
    ("POST", "/api/videos/{video_id}/summaries"): ANNOTATE,
    ("POST", "/api/ontology/augment"): ANNOTATE,
    ("POST", "/api/videos/{video_id}/detect-types"): ANNOTATE,
    ("POST", "/api/videos/{video_id}/track-box"): ANNOTATE,
    ("POST", "/api/videos/{video_id}/transcribe"): ANNOTATE,
    ("POST", "/api/videos/{video_id}/read-text"): ANNOTATE,
    ("POST", "/api/jobs/{job_id}/cancel"): ANNOTATE,
    ("GET", "/api/models"): READ,
    ("GET", "/api/jobs"): READ,
    ("GET", "/api/jobs/{job_id}"): READ,
    ("GET", "/api/videos/{video_id}/summaries"): READ,
    ("GET", "/api/videos/{video_id}/summaries/similar"): READ,
    ("GET", "/api/videos/{video_id}/transcript"): READ,
    ("GET", "/api/transcripts/search"): READ,
    ("GET", "/api/search/text"): READ,
    # --- assignment and review -------------------------------------------------------------------------
    ("GET", "/api/assignments"): READ,
    ("POST", "/api/assignments"): ADMIN,
    ("GET", "/api/assignments/progress"): READ,
    ("DELETE", "/api/assignments/{assignment_id}"): ADMIN,
    ("PUT", "/api/assignments/{assignment_id}/state"): ANNOTATE,  # who may make which move: review.py
    ("GET", "/api/assignments/{assignment_id}/issues"): READ,
    ("POST", "/api/assignments/{assignment_id}/issues"): REVIEW,
    ("POST", "/api/review-issues/{issue_id}/resolve"): ANNOTATE,
    # --- export and import --------------------------------------------------------------------------------
    ("GET", "/api/export"): READ,
    ("POST", "/api/import"): ANNOTATE,
    ("GET", "/api/videos/{video_id}/export"): READ,
    ("POST", "/api/videos/{video_id}/import"): ANNOTATE,
}


def lowest_role(method: str, path: str) -> Role | None:
    """The lowest role a route allows; None when it is not in the table (then nobody may call it)."""
    return ROUTE_ROLES.get((method.upper(), path))


def allows(role: Role, method: str, path: str) -> bool:
    needed = lowest_role(method, path)
    return needed is not None and role.includes(needed)
