"""Standard formats of one video: `GET /api/videos/{id}/export?format=mot|coco|yolo|cvat` writes its accepted work
(every track but unaccepted detector candidates; `personaId=` only that persona's; `acceptedOnly=true` only videos
whose review is done, as the JSONL export); `POST /api/videos/{id}/import?
format=cvat|mot&personaId=` reads CVAT for video 1.1 XML or MOT gt.txt into a persona, `dryRun=true` first (the real
import in a transaction that is always rolled back, like the JSONL import: exact, nothing written).

An import gives each track a stable id (uuid5 of video, persona, format and the file's track id), so importing the
same file twice replaces its tracks instead of doubling them (the preview lists them as replaced). CVAT labels the
persona lacks become entity types of its ontology, with their attribute specs (listed in the preview); MOT classes
are the persona's entity types by position (class 1 = the first), or all one type with `typeId=`. Boxes reaching
past the frame are clipped to it and counted in `notes`. A malformed file is refused naming the line and field,
and changes nothing.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.formats import VideoExport, load_video
from fovea_backend.formats.coco import write_coco
from fovea_backend.formats.cvat import read_cvat, write_cvat
from fovea_backend.formats.mot import FormatError, ReadTrack, keyframes_of, read_mot, write_mot
from fovea_backend.formats.yolo import write_yolo
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import ApiModel, ImportConflict, ImportLineError
from fovea_backend.state import BackendState, StateDep
from fovea_backend.store import formats as store
from fovea_backend.store import personas
from fovea_backend.uploads import read_import_body

router = APIRouter(tags=["export"])
ExportFormat = Literal["mot", "coco", "yolo", "cvat"]
PERSONA = Query(None, alias="personaId", description="only this persona's tracks; categories from its entity types")
NAMESPACE = uuid.UUID("6f0f5a56-2f5e-4c8e-9d59-3a7f2b1d0e22")  # ids of imported tracks: uuid5 in this namespace


def _seqinfo(video: VideoExport) -> str:
    rate = round(video.fps) if video.fps else 0
    return (f"[Sequence]\nname={video.stem}\nimDir=img1\nframeRate={rate}\nseqLength={video.frame_count}\n"
            f"imWidth={video.width}\nimHeight={video.height}\nimExt=.jpg\n")


def render_export(videos: list[VideoExport], fmt: str, single: bool) -> tuple[bytes, str, str]:
    """(body, media type, file name suffix) of an export of one video (`single`) or several (a zip for MOT, CVAT)."""
    if fmt == "coco":
        return json.dumps(write_coco(videos)).encode(), "application/json", "coco.json"
    if fmt == "yolo":
        return write_yolo(videos), "application/zip", "yolo.zip"
    if single and fmt == "mot":
        return write_mot(videos[0]).encode(), "text/plain; charset=utf-8", "gt.txt"
    if single:
        return write_cvat(videos[0]), "application/xml", "cvat-video.xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for video in videos:
            if fmt == "mot":  # the MOT Challenge layout: <sequence>/gt/gt.txt and seqinfo.ini
                archive.writestr(f"{video.stem}/gt/gt.txt", write_mot(video))
                archive.writestr(f"{video.stem}/seqinfo.ini", _seqinfo(video))
            else:
                archive.writestr(f"{video.stem}.xml", write_cvat(video))
    return buffer.getvalue(), "application/zip", f"{fmt}.zip"


ACCEPTED_ONLY = Query(False, alias="acceptedOnly", description=(
    "only videos whose review is done (every assignment accepted); a video named on its own that is not: 409"))


def export_videos(state: BackendState, video_ids: list[str] | None, fmt: str, persona_id: UUID | None,
                  accepted_only: bool = False) -> Response:
    """The export of some videos (None: every video), as a download. `accepted_only` leaves out every video whose review
    is not done (0063's video_is_accepted), frames and all: an unreviewed video's frames in a training set would read
    as frames with nothing in them."""
    with state.pool.connection() as conn:
        store.read_only_snapshot(conn)
        if persona_id is not None and not personas.exists(conn, persona_id):
            raise invalid(("query", "personaId"), f"unknown persona {persona_id}")
        ids = video_ids if video_ids is not None else store.all_video_ids(conn)
        if accepted_only:
            ids = _accepted(conn, ids, single=video_ids is not None and len(video_ids) == 1)
        videos = [load_video(conn, video_id, str(persona_id) if persona_id else None) for video_id in ids]
    single = video_ids is not None and len(videos) == 1
    body, media_type, suffix = render_export(videos, fmt, single=single)
    name = f"{videos[0].stem}-{suffix}" if single else f"fovea-{suffix}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _accepted(conn: psycopg.Connection, ids: list[str], single: bool) -> list[str]:
    """The videos of `ids` whose review is done, in order; one video asked for on its own must be (409 says why not)."""
    states = store.review_states(conn, ids)
    if single and ids and ids[0] in states and not states[ids[0]][0]:
        assigned = states[ids[0]][1]
        why = (f"its assignments are {', '.join(s.replace('_', ' ') for s in assigned)}" if assigned
               else "it has no assignments, so nobody reviewed it")
        raise ApiError(409, f"video {ids[0]} has no accepted work to export: {why}. Export it without acceptedOnly,"
                            " or accept its assignments first", ("query", "acceptedOnly"))
    return [video_id for video_id in ids if video_id not in states or states[video_id][0]]


@router.get("/api/videos/{video_id}/export", response_class=Response,
            responses={200: {"content": {"text/plain": {}, "application/json": {}, "application/zip": {}, "application/xml": {}},
                             "description": "MOT gt.txt, COCO JSON, a YOLO zip, or CVAT for video 1.1 XML"},
                       404: {"description": "no such video"},
                       409: {"description": "acceptedOnly, and the video's review is not done"}})
def export_video(video_id: VideoId, state: StateDep, format: ExportFormat = Query(...),  # noqa: A002
                 persona_id: UUID | None = PERSONA, accepted_only: bool = ACCEPTED_ONLY) -> Response:
    return export_videos(state, [video_id], format, persona_id, accepted_only)


class FormatImportOut(ApiModel):
    dry_run: bool
    would_import: dict[str, int] = Field(description="tracks the import writes (added + replaced)")
    would_add: dict[str, int]
    would_replace: dict[str, int] = Field(description="tracks of an earlier import of the same file it replaces")
    conflicts: list[ImportConflict]
    errors: list[ImportLineError] = Field(description="the first problem in the file, with its line and field")
    types_added: list[str] = Field(description="entity types (and attributes, as type.attribute) added to the persona")
    notes: list[str] = Field(description="what was adjusted: boxes clipped to the frame, lines MOT marks to ignore")


class _Import:
    """One import: the persona's ontology and the video's facts, the file's tracks checked and written."""

    def __init__(self, conn: psycopg.Connection, video_id: str, persona_id: UUID, fmt: str) -> None:
        self.conn, self.video_id, self.persona_id, self.fmt = conn, video_id, persona_id, fmt
        video = store.lock_video(conn, video_id)
        if video is None:
            raise not_found("video", video_id, ("path", "video_id"))
        self.width, self.height, self.frame_count = video
        stored = store.entity_types(conn, persona_id)
        if stored is None:
            raise invalid(("query", "personaId"), f"unknown persona {persona_id}")
        self.types: list[dict[str, Any]] = [t for t in stored if isinstance(t, dict) and "id" in t]
        self.types_added: list[str] = []
        self.clipped = 0

    def type_for_label(self, label: dict[str, Any]) -> str:
        """The persona's entity type named like a CVAT label (any case), made when it has none; its missing attribute
        definitions are added to it."""
        name = label["name"]
        found = next((t for t in self.types if str(t.get("name", "")).lower() == name.lower()), None)
        if found is None:
            found = {"id": f"entity-{uuid.uuid4().hex[:8]}", "name": name, "description": "imported from CVAT",
                     "color": "", "attributes": []}
            self.types.append(found)
            self.types_added.append(name)
        known = {a.get("name") for a in found.get("attributes") or []}
        for definition in label["attributes"]:
            if definition["name"] not in known:
                found.setdefault("attributes", []).append(definition)
                if name not in self.types_added:
                    self.types_added.append(f"{name}.{definition['name']}")
        return str(found["id"])

    def checked(self, keyframes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keyframes inside the video: frames below its frame count (else an error naming the line), boxes clipped."""
        out = []
        for kf in keyframes:
            line = int(kf.pop("line", 0))
            if self.frame_count is not None and kf["frame"] >= self.frame_count and not kf.get("outside"):
                raise FormatError(line, "frame", f"frame {kf['frame']} is past the video's last frame ({self.frame_count - 1})")
            if self.frame_count is not None and kf["frame"] >= self.frame_count:
                continue  # CVAT closes a track with an outside box after the last frame: the video's end does that
            box = {k: float(kf[k]) for k in ("x", "y", "width", "height")}
            x0, y0 = max(0.0, box["x"]), max(0.0, box["y"])
            x1 = min(float(self.width), box["x"] + box["width"]) if self.width else box["x"] + box["width"]
            y1 = min(float(self.height), box["y"] + box["height"]) if self.height else box["y"] + box["height"]
            clipped = {"x": round(x0, 3), "y": round(y0, 3), "width": round(max(0.0, x1 - x0), 3), "height": round(max(0.0, y1 - y0), 3)}
            if any(abs(clipped[k] - box[k]) > 0.0005 for k in box):
                self.clipped += 1
            out.append({"frame": kf["frame"], **clipped, "outside": bool(kf.get("outside", False)),
                        **({"attributes": kf["attributes"]} if kf.get("attributes") else {})})
        return out

    def write(self, tracks: list[tuple[ReadTrack, str]]) -> tuple[int, list[ImportConflict]]:
        rows = []
        for read, type_id in tracks:
            frames = self.checked(read.keyframes)
            if not frames:
                continue
            ident = uuid.uuid5(NAMESPACE, f"{self.video_id}:{self.persona_id}:{self.fmt}:{read.source_id}")
            name = next((t.get("name") for t in self.types if t["id"] == type_id), type_id)
            rows.append({"id": str(ident), "persona_id": str(self.persona_id), "type": type_id,
                         "label": f"{name} {read.source_id}", "frames": frames, "source": read.source,
                         "attributes": read.attributes})
        existing = store.videos_of_tracks(self.conn, [r["id"] for r in rows])
        conflicts = [ImportConflict(line=0, kind="annotation", id=r["id"], reason=(
            "imported before from this file: the import replaces it" if existing[r["id"]] == self.video_id else
            f"the id belongs to a track of video {existing[r['id']]}: not moved")) for r in rows if r["id"] in existing]
        moved = [c for c in conflicts if not c.reason.startswith("imported")]
        if moved:
            raise FormatError(0, "body", moved[0].reason)
        store.upsert_tracks(self.conn, self.video_id, rows)
        if self.types_added:
            store.set_entity_types(self.conn, self.persona_id, self.types)
        return len(rows), conflicts

    def cvat(self, body: bytes) -> list[tuple[ReadTrack, str]]:
        labels, tracks = read_cvat(body)
        by_name = {label["name"]: self.type_for_label(label) for label in labels}
        return [(t, by_name[t.label]) for t in tracks]

    def mot(self, body: bytes, type_id: str | None) -> tuple[list[tuple[ReadTrack, str]], int]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(body[:exc.start].count(b"\n") + 1, "line", "not UTF-8 text") from None
        by_id, ignored = read_mot(text)
        if type_id is not None and all(t["id"] != type_id for t in self.types):
            raise invalid(("query", "typeId"), f"{type_id!r} is not an entity type of this persona")
        out = []
        for ident, boxes in by_id.items():
            classes = {c for _, _, c in boxes}
            if type_id is None:
                bad = next((c for c in sorted(classes) if not 1 <= c <= len(self.types)), None)
                if bad is not None:
                    raise FormatError(0, "class", f"id {ident} has class {bad}, but the persona has {len(self.types)} entity"
                                                  " type(s) (class 1 = the first); pass typeId= to give every track one type")
            chosen = type_id or str(self.types[min(classes) - 1]["id"])
            boxes.sort(key=lambda item: item[0])
            out.append((ReadTrack(ident, chosen, keyframes_of([(f, b) for f, b, _ in boxes], self.frame_count)), chosen))
        return out, ignored


def import_format(state: BackendState, video_id: str, persona_id: UUID, fmt: str, body: bytes, dry_run: bool,
                  type_id: str | None) -> FormatImportOut:
    with state.pool.connection() as conn:
        with conn.transaction(force_rollback=dry_run):  # a dry run is the real import, always rolled back
            importer = _Import(conn, video_id, persona_id, fmt)
            notes: list[str] = []
            try:
                if fmt == "cvat":
                    tracks = importer.cvat(body)
                else:
                    tracks, ignored = importer.mot(body, type_id)
                    if ignored:
                        notes.append(f"{ignored} line(s) with consider = 0 (MOT's ignore regions) were left out")
                if not tracks:
                    raise FormatError(0, "body", "the file holds no tracks")
                count, conflicts = importer.write(tracks)
            except FormatError as exc:
                if not dry_run:
                    raise invalid(("body", f"line {exc.line}", exc.field) if exc.line else ("body", exc.field), exc.message) from None
                return FormatImportOut(dry_run=True, would_import={}, would_add={}, would_replace={}, conflicts=[],
                                       errors=[ImportLineError(line=exc.line, field=exc.field, message=exc.message)],
                                       types_added=[], notes=[])
            if importer.clipped:
                notes.append(f"{importer.clipped} box(es) reached past the video's frame and were clipped to it")
    replaced = len(conflicts)
    return FormatImportOut(dry_run=dry_run, would_import={"annotation": count},
                           would_add={"annotation": count - replaced} if count > replaced else {},
                           would_replace={"annotation": replaced} if replaced else {}, conflicts=conflicts, errors=[],
                           types_added=importer.types_added, notes=notes)


@router.post("/api/videos/{video_id}/import", response_model=FormatImportOut,
             openapi_extra={"requestBody": {"required": True, "content": {"application/xml": {"schema": {"type": "string"}},
                                                                          "text/csv": {"schema": {"type": "string"}}}}},
             responses={404: {"description": "no such video"}, 413: {"description": "body larger than 256 MiB"}})
async def import_video(
    request: Request, video_id: VideoId, state: StateDep, format: Literal["cvat", "mot"] = Query(...),  # noqa: A002
    persona_id: UUID = Query(..., alias="personaId", description="the persona the tracks are for"),
    dry_run: bool = Query(False, alias="dryRun", description="check and report; write nothing"),
    type_id: Annotated[str | None, Query(alias="typeId", max_length=200, description="MOT: every track of this type")] = None,
) -> FormatImportOut:
    body = await read_import_body(request)
    return await run_in_threadpool(import_format, state, video_id, persona_id, format, body, dry_run, type_id)
