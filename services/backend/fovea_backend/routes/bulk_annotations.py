"""PUT /api/videos/{id}/annotations: the workspace's save of every changed and deleted track at once.

Two forms, both against the video's annotation revision (migration 0002, bumped by triggers in the
transaction of every change), which the client sends in `If-Match`; the video row is locked (`FOR UPDATE`)
first, so two saves of one video serialise:

- `changes` (the workspace's): what changed since the If-Match revision, per track — fields `{from, to}`,
  keyframes `{frame, from, to}`, whole new tracks, deleted tracks with their version — merged per field and
  keyframe with whatever others saved since (merge.py). Parts someone else changed differently come back as
  `conflicts` (base, theirs, mine) and are not written; invalid parts come back as `rejected` (where and why)
  and are not written; everything else is, in one transaction. Retrying the same save is harmless: a part
  already stored as its `to` is left alone.
- `upsert`/`delete` (whole tracks): only at the current revision; a stale one gets 409 with the current
  revision, having written nothing. Any invalid item → 422 naming it, nothing written.
"""

from __future__ import annotations

import re
from uuid import UUID

import psycopg
from fastapi import APIRouter, Header, Response
from psycopg.types.json import Jsonb

import json
from typing import Any

from fovea_backend import semantics
from fovea_backend.db import JsonText
from fovea_backend.errors import ApiError, invalid, not_found
from fovea_backend.merge import KINDS, Kind, Outcome, Rejection, Rules, Track, merge, stored_object
from fovea_backend.persona_scope import PersonaScope, ScopeParam
from fovea_backend.routes.annotations import etag, validate_frames
from fovea_backend.routes.videos import VideoId
from fovea_backend.schemas import (AnnotationDocumentOut, BulkAnnotationsIn, BulkAnnotationsOut, CreateChange,
                                   RevisionConflictOut, TrackChange, UpdateChange)
from fovea_backend.state import BackendState, StateDep
from fovea_backend.store import bulk_annotations as store

router = APIRouter(tags=["annotations"])
IF_MATCH = ("header", "If-Match")
# `"12"`, `12`, `W/"12"`, or the list's ETag `"<videoId>-12"`.
REVISION = re.compile(r'^(?:W/)?"?(?:(?P<video>[0-9a-f]{16})-)?(?P<revision>\d{1,18})"?$')

def expected_revision(if_match: str | None, video_id: str) -> int | None:
    """The revision the client last saw; None when its ETag names another video (never a match)."""
    if if_match is None:
        raise ApiError(428, "If-Match is required: the annotation revision you last read (the list's ETag or the"
                            " video's annotationRevision), so a save cannot overwrite changes made since", IF_MATCH)
    match = REVISION.match(if_match.strip())
    if match is None:
        raise invalid(IF_MATCH, f'If-Match must be an annotation revision such as "12", got {if_match[:40]!r}')
    if match.group("video") not in (None, video_id):
        return None
    return int(match.group("revision"))


def _lock_video(conn: psycopg.Connection, video_id: str) -> tuple[int, int | None, int | None, int | None]:
    """The video's revision, width, height and frame count, its row locked: saves of one video serialise here."""
    video = store.lock_video(conn, video_id)
    if video is None:
        raise not_found("video", video_id, ("path", "video_id"))
    return video[0], video[1], video[2], video[3]


def _check_request(body: BulkAnnotationsIn) -> None:
    seen: set[UUID] = set()
    for index, item in enumerate(body.upsert):
        if item.id in seen:
            raise invalid(("body", "upsert", index, "id"), f"annotation {item.id} appears twice in upsert")
        seen.add(item.id)
    for index, ident in enumerate(body.delete):
        if ident in seen:
            raise invalid(("body", "delete", index), f"annotation {ident} is both upserted and deleted")


def _check_against_database(conn: psycopg.Connection, video_id: str, body: BulkAnnotationsIn,
                            width: int | None, height: int | None) -> None:
    personas = {p.persona_id for p in body.upsert if p.persona_id is not None}
    if personas:
        known = store.known_personas(conn, list(personas))
        for index, item in enumerate(body.upsert):
            if item.persona_id is not None and item.persona_id not in known:
                raise invalid(("body", "upsert", index, "personaId"), f"unknown persona {item.persona_id}")
    for index, item in enumerate(body.upsert):
        validate_frames(item.frames, width, height, ("body", "upsert", index, "frames"))
    # Ids of another video's tracks are refused, never moved or deleted across videos.
    where: dict[UUID, tuple[str, int]] = {item.id: ("upsert", i) for i, item in enumerate(body.upsert)}
    where.update({ident: ("delete", i) for i, ident in enumerate(body.delete)})
    if not where:
        return
    for ident, owner in store.tracks_of_other_videos(conn, list(where), video_id):
        part, index = where[ident]
        loc = ("body", "upsert", index, "id") if part == "upsert" else ("body", "delete", index)
        raise invalid(loc, f"annotation {ident} belongs to video {owner}, not {video_id}")


def _check_whole_tracks_in_scope(conn: psycopg.Connection, video_id: str, body: BulkAnnotationsIn,
                                 scope: PersonaScope) -> None:
    for index, item in enumerate(body.upsert):
        if not scope.holds(item.persona_id):
            raise scope.refuse(("body", "upsert", index, "personaId"), f"track {item.id}", item.persona_id, moving=True)
    where = {item.id: ("body", "upsert", index, "id") for index, item in enumerate(body.upsert)}
    where.update({ident: ("body", "delete", index) for index, ident in enumerate(body.delete)})
    for ident, persona_id in store.track_personas(conn, list(where), video_id):
        if not scope.holds(persona_id):
            raise scope.refuse(where[ident], f"track {ident}", persona_id)


def _check_changes_in_scope(changes: list[TrackChange], current: dict[tuple[str, UUID], Track], scope: PersonaScope) -> None:
    """Every object a scoped save names is the scope's persona's as stored, and stays it (creates included)."""
    for index, change in enumerate(changes):
        what = f"{change.kind} {change.id}"
        stored = current.get((change.kind, change.id))
        if stored is not None and not scope.holds(stored.fields.get("personaId")):
            raise scope.refuse(("body", "changes", index, "id"), what, stored.fields.get("personaId"))
        if isinstance(change, CreateChange) and not scope.holds(change.body().get("personaId")):
            raise scope.refuse(("body", "changes", index, change.kind, "personaId"), what, change.body().get("personaId"),
                               moving=True)
        if isinstance(change, UpdateChange) and "personaId" in change.fields \
                and not scope.holds(change.fields["personaId"].to):
            raise scope.refuse(("body", "changes", index, "fields", "personaId", "to"), what,
                               change.fields["personaId"].to, moving=True)


def _rows(body: BulkAnnotationsIn) -> Jsonb:
    return Jsonb([{"id": str(item.id), "persona_id": str(item.persona_id) if item.persona_id else None,
                   "type": item.type, "label": item.label, "frames": [kf.stored() for kf in item.frames],
                   "source": item.source, "confidence": item.confidence, "entity_id": item.entity_id,
                   "attributes": item.attributes, "locked": item.locked} for item in body.upsert])


@router.get("/api/videos/{video_id}/annotations", response_model=AnnotationDocumentOut,
            responses={404: {"description": "no such video"}})
def read_document(video_id: VideoId, state: StateDep, persona: ScopeParam = None) -> Response:
    """Every track, event and relation of a video at one revision (one snapshot; ETag = that revision), or one
    persona's (`personaId`): what the workspace loads, and the base its saves are merged against. Rendered once per
    revision and persona."""
    scope = PersonaScope.of(persona)
    key = ("document", scope.key if scope else "*")
    with state.pool.connection() as conn:
        stored_revision = store.revision(conn, video_id)
        if stored_revision is None:
            raise not_found("video", video_id, ("path", "video_id"))
        revision: int = stored_revision
        body = state.annotation_bodies.get((video_id, revision, *key))
        if body is None:
            rendered = store.document(conn, video_id, scope)
            if rendered is None:
                raise not_found("video", video_id, ("path", "video_id"))
            revision, body = rendered[0], rendered[1].encode()
            state.annotation_bodies.put((video_id, revision, *key), body)
    return JsonText(content=body, headers={"ETag": etag(video_id, revision), "Cache-Control": "private, no-cache"})


@router.put(
    "/api/videos/{video_id}/annotations",
    response_model=BulkAnnotationsOut,
    responses={
        404: {"description": "no such video"},
        409: {"model": RevisionConflictOut, "description": "the annotations changed since If-Match; nothing written"},
        428: {"description": "If-Match missing"},
    },
)
def save_annotations(
    video_id: VideoId,
    body: BulkAnnotationsIn,
    state: StateDep,
    if_match: str | None = Header(None, alias="If-Match", max_length=200,
                                  description='the annotation revision last read, e.g. "12" (or the list\'s ETag)'),
    persona: ScopeParam = None,
) -> Response:
    """Merge a change set into the tracks of one video (`changes`), or upsert and delete whole tracks if nobody
    changed them since If-Match (`upsert`/`delete`); one transaction either way. Scoped to a persona
    (`personaId`), a save naming another persona's object is refused whole (persona_scope.py)."""
    expected = expected_revision(if_match, video_id)
    scope = PersonaScope.of(persona)
    if body.changes is not None:
        if body.upsert or body.delete:
            raise invalid(("body", "changes"), "send either changes or upsert/delete, not both")
        return _merge_save(state, video_id, expected, body.changes, scope)
    _check_request(body)
    with state.pool.connection() as conn:
        video = _lock_video(conn, video_id)
        current: int = video[0]
        if expected != current:
            raise ApiError(409, f"the annotations of video {video_id} changed since revision {expected}"
                                f" (now {current}); reload them and save again", IF_MATCH, {"revision": current})
        _check_against_database(conn, video_id, body, video[1], video[2])
        if scope is not None:
            _check_whole_tracks_in_scope(conn, video_id, body, scope)
        if body.delete:
            store.delete_objects(conn, "track", video_id, body.delete)
        if body.upsert:
            try:
                written = store.upsert_tracks(conn, video_id, _rows(body))
            except psycopg.IntegrityError as exc:  # a persona deleted since the check above
                raise ApiError(409, f"conflicts with a concurrent change: {exc.diag.message_detail or exc}",
                               ("body", "upsert"), {"revision": current}) from None
            lost = [i for i, item in enumerate(body.upsert) if item.id not in written]
            if lost:  # another video's track took the id after the check above: refuse, as the check would have
                raise ApiError(409, f"annotation {body.upsert[lost[0]].id} was just created on another video",
                               ("body", "upsert", lost[0], "id"), {"revision": current})
        return _saved(conn, video_id, [("track", item.id) for item in body.upsert], current)


def _saved(conn: psycopg.Connection, video_id: str, named: list[tuple[str, UUID]], previous: int,
           conflicts: list[dict[str, Any]] = (), rejected: list[dict[str, Any]] = ()) -> JsonText:  # type: ignore[assignment]
    """The answer: the revision now, the named objects as stored (rendered by PostgreSQL), what was not written."""
    ids = {name: [ident for kind, ident in named if kind == name] for name in KINDS}
    saved = store.saved(conn, video_id, ids)
    revision: int = saved[0]
    text = (f'{{"revision": {revision}, "previousRevision": {previous}, "annotations": {saved[1]}, "events": {saved[2]},'
            f' "relations": {saved[3]}, "conflicts": {json.dumps(list(conflicts))}, "rejected": {json.dumps(list(rejected))}}}')
    return JsonText(content=text, headers={"ETag": etag(video_id, revision)})


# --- the merging save ------------------------------------------------------------------------------------
def _check_changes(changes: list[TrackChange]) -> None:
    seen: set[tuple[str, UUID]] = set()
    for index, change in enumerate(changes):
        if (change.kind, change.id) in seen:
            raise invalid(("body", "changes", index, "id"), f"{change.kind} {change.id} has two changes; send one per object")
        seen.add((change.kind, change.id))


def _named(changes: list[TrackChange], field: str) -> set[str]:
    """The values of a field (personaId, entityId) that creates and updates would set."""
    named: set[str] = set()
    for change in changes:
        value: Any = None
        if isinstance(change, CreateChange):
            value = change.body().get(field)
        elif isinstance(change, UpdateChange) and field in change.fields:
            value = change.fields[field].to
        if isinstance(value, str):
            named.add(value)
    return named


def _personas_known(conn: psycopg.Connection, named: set[str]) -> set[str]:
    valid: list[UUID] = []
    for value in named:
        try:
            valid.append(UUID(value))
        except ValueError:
            pass  # refused by the field's own validation
    return {str(ident) for ident in store.known_personas(conn, valid)}


def _merge_save(state: BackendState, video_id: str, expected: int | None, changes: list[TrackChange],
                scope: PersonaScope | None) -> Response:
    _check_changes(changes)
    with state.pool.connection() as conn:
        video = _lock_video(conn, video_id)
        previous: int = video[0]
        if expected is None:
            raise ApiError(409, f"If-Match names another video's revision, not video {video_id}'s (now {previous})",
                           IF_MATCH, {"revision": previous})
        current: dict[tuple[str, UUID], Track] = {}
        foreign: dict[tuple[str, UUID], str] = {}
        for name, kind in KINDS.items():
            ids = [change.id for change in changes if change.kind == name]
            if not ids:
                continue
            names = list(kind.fields)
            for row in store.current_objects(conn, name, ids):
                if row[1] != video_id:
                    foreign[(name, row[0])] = row[1]
                    continue
                current[(name, row[0])] = stored_object(kind, dict(zip(names, row[2:2 + len(names)], strict=True)),
                                                        row[-2], row[-1])
        if scope is not None:
            _check_changes_in_scope(changes, current, scope)
        deleted = store.tombstones(conn, [c.id for c in changes], video_id)
        entities = store.world_entities(conn) if _named(changes, "entityId") or any(c.kind != "track" for c in changes) else {}
        rules = Rules(width=video[1], height=video[2], frame_count=video[3],
                      persona_exists=_personas_known(conn, _named(changes, "personaId")).__contains__,
                      entity_exists=entities.__contains__)
        outcomes: list[Outcome] = []
        for index, change in enumerate(changes):
            key = (change.kind, change.id)
            if key in foreign:
                outcomes.append(Outcome(None, rejected=[Rejection(
                    index, change.id, ("body", "changes", index, "id"),
                    f"{change.kind} {change.id} belongs to video {foreign[key]}, not {video_id}")]))
                continue
            outcomes.append(merge(index, change, current.get(key), deleted.get(change.id), expected, rules))
        if any(change.kind != "track" for change in changes):
            Semantics(conn, video_id, changes, outcomes, entities).enforce(current)
        _write(conn, video_id, changes, outcomes, previous)
        return _saved(conn, video_id, [(change.kind, change.id) for change in changes], previous,
                      [c.wire() for outcome in outcomes for c in outcome.conflicts],
                      [r.wire() for outcome in outcomes for r in outcome.rejected])


class Semantics:
    """The ontology's rules (semantics.py) applied to the events and relations a save writes, against the objects
    as they will be after it: a part that breaks them is refused where it is, and the rest of the save goes on."""

    def __init__(self, conn: psycopg.Connection, video_id: str, changes: list[TrackChange], outcomes: list[Outcome],
                 entities: dict[str, dict[str, Any]]) -> None:
        self.conn, self.video_id, self.changes, self.outcomes, self.entities = conn, video_id, changes, outcomes, entities
        self.after: dict[tuple[str, str], Track | None] = {
            (change.kind, str(change.id)): outcome.track for change, outcome in zip(changes, outcomes, strict=True)}
        self.loaded: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.ontologies: dict[str, semantics.Ontology | None] = {}

    def ontology(self, persona_id: str | None) -> semantics.Ontology | None:
        if persona_id is None:
            return None
        if persona_id not in self.ontologies:
            row = store.ontology_lists(self.conn, persona_id)
            self.ontologies[persona_id] = semantics.Ontology.of(*row) if row else None
        return self.ontologies[persona_id]

    def _stored(self, kind: str, ident: str) -> dict[str, Any] | None:
        if (kind, ident) not in self.loaded:
            try:
                row = store.type_and_label(self.conn, kind, UUID(ident), self.video_id)
            except ValueError:
                row = None
            self.loaded[(kind, ident)] = {"type": row[0], "label": row[1]} if row else None
        return self.loaded[(kind, ident)]

    def resolver(self, persona_id: str | None) -> semantics.Resolver:
        def resolve(ref: dict[str, Any]) -> semantics.Resolved | None:
            kind, ident = ref.get("kind"), str(ref.get("id"))
            if kind == "entity":
                entity = self.entities.get(ident)
                if entity is None:
                    return None
                return semantics.Resolved("entity", semantics.entity_type_for(entity, persona_id),
                                          f"entity «{entity.get('name') or ident}»")
            if kind not in ("track", "event"):
                return None
            if (kind, ident) in self.after:
                track = self.after[(kind, ident)]
                fields = track.fields if track is not None else None
            else:
                fields = self._stored(kind, ident)
            if fields is None:
                return None
            return semantics.Resolved("entity" if kind == "track" else "event", fields["type"],
                                      f"{kind} «{fields['label']}»")
        return resolve

    def enforce(self, current: dict[tuple[str, UUID], Track]) -> None:
        for index, (change, outcome) in enumerate(zip(self.changes, self.outcomes, strict=True)):
            if change.kind == "track" or not outcome.write or outcome.track is None:
                continue
            fields = outcome.track.fields
            problems = semantics.check(change.kind, fields, self.ontology(fields.get("personaId")),
                                       self.resolver(fields.get("personaId")))
            if not problems:
                continue
            stored = current.get((change.kind, change.id))
            if stored is None:  # a create that breaks the rules is not made
                where, why = problems[0]
                self.outcomes[index] = Outcome(None, rejected=[Rejection(
                    index, change.id, ("body", "changes", index, change.kind, *where), why)])
                self.after[(change.kind, str(change.id))] = None
                continue
            for where, why in problems:
                name = str(where[0])
                if fields[name] != stored.fields[name]:  # this save's part broke it: that part goes back, refused
                    fields[name] = stored.fields[name]
                    outcome.rejected.append(Rejection(index, change.id, ("body", "changes", index, "fields", name, "to",
                                                                         *where[1:]), why))
            outcome.write = fields != stored.fields or outcome.track.frames != stored.frames


def _track_rows(kind: Kind, objects: list[tuple[UUID, Track]]) -> Jsonb:
    return Jsonb([{"id": str(ident), **{spec.column: obj.fields[name] for name, spec in kind.fields.items()},
                   **({"frames": obj.frame_list()} if kind.keyframes else {})} for ident, obj in objects])


def _write(conn: psycopg.Connection, video_id: str, changes: list[TrackChange], outcomes: list[Outcome],
           previous: int) -> None:
    for name, kind in KINDS.items():
        written = [(change, outcome) for change, outcome in zip(changes, outcomes, strict=True)
                   if outcome.write and change.kind == name]
        gone = [change.id for change, outcome in written if outcome.track is None]
        made = [(change.id, outcome.track) for change, outcome in written
                if isinstance(change, CreateChange) and outcome.track is not None]
        changed = [(change.id, outcome.track) for change, outcome in written
                   if isinstance(change, UpdateChange) and outcome.track is not None]
        if gone:
            store.delete_objects(conn, name, video_id, gone)
        try:
            if made:
                inserted = store.create_objects(conn, name, video_id, _track_rows(kind, made))
                lost = [ident for ident, _ in made if ident not in inserted]
                if lost:  # another video's object took the id since it was checked: refuse, as the check would have
                    raise ApiError(409, f"{name} {lost[0]} was just created on another video", ("body", "changes"),
                                   {"revision": previous})
            if changed:
                store.update_objects(conn, name, video_id, _track_rows(kind, changed))
        except psycopg.IntegrityError as exc:  # a persona deleted since it was checked
            raise ApiError(409, f"conflicts with a concurrent change: {exc.diag.message_detail or exc}",
                           ("body", "changes"), {"revision": previous}) from None
