"""A track's history (who changed what, when: annotation_history, written by the database's triggers) and the
restore of an earlier version, which is itself a new version by whoever restores it."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from psycopg.types.json import Jsonb

from fovea_backend import render
from fovea_backend.db import JsonText, json_list, json_or_404
from fovea_backend.errors import ApiError, not_found
from fovea_backend.schemas import AnnotationOut
from fovea_backend.state import StateDep
from fovea_backend.team_schemas import HistoryEntryOut, RestoreIn

router = APIRouter(prefix="/api/annotations", tags=["annotations"])

HISTORY_ENTRY = """json_build_object('id', h.id, 'version', h.version, 'op', h.op, 'at', h.at,
  'actor', (SELECT u.username FROM users u WHERE u.id = h.actor),
  'label', h.track->>'label', 'type', h.track->>'type', 'keyframes', jsonb_array_length(h.track->'frames'),
  'track', h.track - 'dedupe_key')"""

# The content a restore puts back: everything a change can set (merge.TRACK_FIELDS and the keyframes); not the
# bookkeeping (ids, job, timestamps, authors, version).
RESTORED_COLUMNS = ("persona_id", "type", "label", "frames", "source", "confidence", "entity_id", "attributes", "locked")


@router.get("/{annotation_id}/history", response_model=list[HistoryEntryOut],
            responses={404: {"description": "no track ever had this id"}})
def history(annotation_id: UUID, state: StateDep) -> Response:
    """Newest first: each content version of the track (and its deletion) with who made it and when."""
    with state.pool.connection() as conn:
        answer = json_list(conn, f"SELECT {HISTORY_ENTRY} AS j FROM annotation_history h WHERE h.annotation_id = %s"
                                 " ORDER BY h.id DESC", (annotation_id,))
    if answer.body == b"[]":
        raise not_found("track", annotation_id, ("path", "annotation_id"))
    return answer


@router.post("/{annotation_id}/restore", response_model=AnnotationOut, responses={
    404: {"description": "the track has no such version"}, 409: {"description": "the track is locked"}})
def restore(annotation_id: UUID, body: RestoreIn, state: StateDep) -> JsonText:
    """Put the track's content back as it was at `version` (a deleted track comes back); the result is a new version."""
    with state.pool.connection() as conn:
        row = conn.execute("SELECT video_id, track FROM annotation_history WHERE annotation_id = %s AND version = %s"
                           " AND op <> 'delete' ORDER BY id DESC LIMIT 1", (annotation_id, body.version)).fetchone()
        if row is None:
            raise not_found(f"version {body.version} of track", annotation_id, ("body", "version"))
        video_id, snapshot = row
        # Saves of one video serialise on its row (as the merging save does).
        if conn.execute("SELECT 1 FROM videos WHERE id = %s FOR UPDATE", (video_id,)).fetchone() is None:
            raise not_found("video", video_id, ("path", "annotation_id"))
        current = conn.execute("SELECT locked FROM annotations WHERE id = %s FOR UPDATE", (annotation_id,)).fetchone()
        if current is not None and current[0]:
            raise ApiError(409, "the track is locked: unlock it first", ("path", "annotation_id"))
        columns = ", ".join(RESTORED_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in RESTORED_COLUMNS)
        # A persona deleted since is not brought back: the track keeps no persona, as when it was deleted.
        conn.execute(
            f"INSERT INTO annotations (id, video_id, {columns})"
            f" SELECT r.id, r.video_id, (SELECT p.id FROM personas p WHERE p.id = r.persona_id),"
            f" {', '.join('r.' + c for c in RESTORED_COLUMNS[1:])}"
            f" FROM jsonb_populate_record(NULL::annotations, %s) r"
            f" ON CONFLICT (id) DO UPDATE SET {updates}",
            (Jsonb(snapshot),))
        return json_or_404(conn, f"SELECT {render.ANNOTATION}::text FROM annotations a WHERE id = %s", (annotation_id,),
                           not_found("track", annotation_id, ("path", "annotation_id")))
