"""A track's history (who changed what, when: annotation_history, written by the database's triggers) and the
restore of an earlier version, which is itself a new version by whoever restores it."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from fovea_backend.db import JsonText, json_list
from fovea_backend.errors import ApiError, not_found
from fovea_backend.schemas import AnnotationOut
from fovea_backend.state import StateDep
from fovea_backend.store import annotations as store
from fovea_backend.team_schemas import HistoryEntryOut, RestoreIn

router = APIRouter(prefix="/api/annotations", tags=["annotations"])

@router.get("/{annotation_id}/history", response_model=list[HistoryEntryOut],
            responses={404: {"description": "no track ever had this id"}})
def history(annotation_id: UUID, state: StateDep) -> Response:
    """Newest first: each content version of the track (and its deletion) with who made it and when."""
    with state.pool.connection() as conn:
        answer = json_list(conn, store.HISTORY_OF, (annotation_id,))
    if answer.body == b"[]":
        raise not_found("track", annotation_id, ("path", "annotation_id"))
    return answer


@router.post("/{annotation_id}/restore", response_model=AnnotationOut, responses={
    404: {"description": "the track has no such version"}, 409: {"description": "the track is locked"}})
def restore(annotation_id: UUID, body: RestoreIn, state: StateDep) -> JsonText:
    """Put the track's content back as it was at `version` (a deleted track comes back); the result is a new version."""
    with state.pool.connection() as conn:
        row = store.history_snapshot(conn, annotation_id, body.version)
        if row is None:
            raise not_found(f"version {body.version} of track", annotation_id, ("body", "version"))
        video_id, snapshot = row
        # Saves of one video serialise on its row (as the merging save does).
        if not store.lock_video(conn, video_id):
            raise not_found("video", video_id, ("path", "annotation_id"))
        if store.locked_flag(conn, annotation_id):
            raise ApiError(409, "the track is locked: unlock it first", ("path", "annotation_id"))
        store.restore(conn, snapshot)
        text = store.track_json(conn, annotation_id)
        if text is None:
            raise not_found("track", annotation_id, ("path", "annotation_id"))
        return JsonText(content=text)
