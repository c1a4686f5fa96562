"""A JSON Lines export, streamed: a header line, then every row of every kind from one snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fovea_backend import tracks
from fovea_backend.errors import invalid
from fovea_backend.state import BackendState
from fovea_backend.store import transfer as store
from fovea_backend.transfer import FORMAT_VERSION


def export_lines(state: BackendState, video_id: str | None = None, interpolate: bool = False,
                 accepted_only: bool = False) -> Iterator[bytes]:
    with state.pool.connection() as conn:
        now = store.begin_snapshot(conn)
        header: dict[str, Any] = {"format": "fovea-export", "version": FORMAT_VERSION, "exportedAt": now.isoformat(),
                                  "interpolated": interpolate}
        if video_id is not None:
            header["videoId"] = video_id
        if accepted_only:
            header["acceptedOnly"] = True
        yield (json.dumps({"type": "header", "data": header}) + "\n").encode()
        frame_counts = store.frame_counts(conn) if interpolate else {}
        for kind, data in store.exported_rows(conn, video_id, accepted_only):
            if kind == "annotation" and interpolate:
                data = _interpolated(data, frame_counts)
            yield f'{{"type": "{kind}", "data": {data}}}\n'.encode()

def _interpolated(data: str, frame_counts: dict[str, int | None]) -> str:
    record = json.loads(data)
    frame_count = frame_counts.get(record["videoId"])
    if tracks.span(record, frame_count) <= tracks.MAX_TRACK_FRAMES:
        record["frames"] = tracks.expand(record, frame_count)
    else:  # only reachable when a track grew past the limit after the check before streaming: keyframes only
        record["frames"] = [{**key, "keyframe": True} for key in record["frames"]]
    return json.dumps(record, ensure_ascii=False)

def check_interpolated_size(state: BackendState, video_id: str | None) -> None:
    """Refuse (422) before streaming an interpolated export that would run to gigabytes."""
    with state.pool.connection() as conn:
        longest, total = store.track_spans(conn, video_id)
    if longest > tracks.MAX_TRACK_FRAMES:
        raise invalid(("query", "interpolate"), f"a track spans {longest} frames; interpolated exports are limited to"
                                                f" {tracks.MAX_TRACK_FRAMES} per track (export keyframes only)")
    if total > tracks.MAX_EXPORT_FRAMES:
        raise invalid(("query", "interpolate"), f"the tracks span {total} frames in all; interpolated exports are limited"
                                                f" to {tracks.MAX_EXPORT_FRAMES} (filter by videoId or export keyframes only)")
