"""The merge of a change set into the tracks others may have saved since: per field and per keyframe.

A client's save says what it changed relative to the revision it started from, never the whole track: for a
field `{from, to}`, for a keyframe at frame f `{from: box | null, to: box | null}` (null: no keyframe there, so
`from: null` adds one and `to: null` removes it), a new track whole, a deleted track with the version it had.
Each part is merged on its own, like a compare-and-set against what is stored now:

    stored == from   → the part is applied
    stored == to     → already applied (a retried save; someone made the same edit): nothing to do
    otherwise        → a conflict: someone else changed this field or keyframe since; nothing is written
                       for it, and the client is told base, theirs (stored) and mine (to) to choose from.

So two people editing different keyframes or fields of one track both keep their edits, and nobody can
replace a keyframe they did not change. At the track level: deleting a track someone changed since (its
version moved) is a conflict, editing a deleted track is a conflict, and creating a track that was created
and deleted since the client's revision (a create retried after its response was lost) is a conflict
rather than a resurrection. The same rules are implemented by the editor library for undo, rebase and the
offline journal (services/frontend/src/editor/changes.ts); the cases in
services/frontend/src/editor/merge.cases.json are run against both.

Values are validated per part as well: a label too long or a box outside the frame is refused with its
place and reason, and the other parts of the save go through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from fovea_backend.errors import ApiError
from fovea_backend.jsoncheck import check_json
from fovea_backend.schemas import (AnnotationBody, CreateChange, DeleteChange, EventBody, Keyframe, RelationBody, TrackChange,
                                   UpdateChange)

Loc = tuple[str | int, ...]
Box = dict[str, Any]  # {x, y, width, height, outside, attributes?}: a keyframe without its frame
BOX_KEYS = ("x", "y", "width", "height")


def jsonable(value: Any) -> Any:
    """A value as JSON carries it (UUIDs as text, models as objects), so stored values compare with a client's."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """A validator for one field of an object, with the same constraints as the whole object's body."""
    info = model.model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)])  # type: ignore[arg-type]


@dataclass(frozen=True)
class TrackField:
    """A field a change may set: its column and validator. Adding a field (attributes, an entity link) is one
    entry in its kind's list here and one in the editor library's (changes.ts)."""

    column: str  # also its attribute in the kind's body model
    sql_type: str
    validate: TypeAdapter[Any]

    def wire(self, value: Any) -> Any:
        return jsonable(value)


def _fields(model: type[BaseModel], spec: dict[str, str]) -> dict[str, TrackField]:
    """{wire name: TrackField} from {wire name: SQL type}; the column is the body model's attribute."""
    by_alias = {(info.alias or name): name for name, info in model.model_fields.items()}
    return {wire: TrackField(by_alias[wire], sql_type, _adapter(model, by_alias[wire])) for wire, sql_type in spec.items()}


TRACK_FIELDS: dict[str, TrackField] = _fields(AnnotationBody, {
    "type": "text", "label": "text", "personaId": "uuid", "source": "text", "confidence": "double precision",
    "entityId": "text", "attributes": "jsonb", "locked": "boolean",
})
EVENT_FIELDS: dict[str, TrackField] = _fields(EventBody, {
    "type": "text", "label": "text", "personaId": "uuid", "source": "text", "startFrame": "bigint",
    "endFrame": "bigint", "roles": "jsonb", "attributes": "jsonb",
})
RELATION_FIELDS: dict[str, TrackField] = _fields(RelationBody, {
    "type": "text", "personaId": "uuid", "source": "jsonb", "target": "jsonb", "attributes": "jsonb",
})


@dataclass(frozen=True)
class Kind:
    """What a change may be about: its table, the body a create carries, the fields merged one by one, and
    whether it has keyframes (merged one by one too)."""

    name: str
    table: str
    body: type[BaseModel]
    fields: dict[str, TrackField]
    keyframes: bool = False


KINDS: dict[str, Kind] = {
    "track": Kind("track", "annotations", AnnotationBody, TRACK_FIELDS, keyframes=True),
    "event": Kind("event", "annotation_events", EventBody, EVENT_FIELDS),
    "relation": Kind("relation", "annotation_relations", RelationBody, RELATION_FIELDS),
}


@dataclass
class Track:
    """An object as stored (a track, an event or a relation): fields by wire name, keyframes by frame (tracks
    only), and its version."""

    fields: dict[str, Any]
    frames: dict[int, Box]
    version: int = 1

    def frame_list(self) -> list[dict[str, Any]]:
        return [{"frame": frame, **self.frames[frame]} for frame in sorted(self.frames)]

    def wire(self, keyframes: bool = True) -> dict[str, Any]:
        out = {**self.fields, "version": self.version}
        if keyframes:
            out["frames"] = self.frame_list()
        return out


def box(keyframe: dict[str, Any]) -> Box:
    """A keyframe's value: the four numbers (as floats, like every other writer stores them, so a track's JSON
    is the same whoever wrote it), `outside` (absent = false) and the attributes it sets (absent when none)."""
    value: Box = {**{k: float(keyframe[k]) for k in BOX_KEYS}, "outside": bool(keyframe.get("outside", False))}
    if keyframe.get("attributes"):
        value["attributes"] = dict(keyframe["attributes"])
    return value


_MALFORMED: Any = object()


def _base_box(value: Any) -> Box | None:
    """A keyframe change's `from`: None (no keyframe there), its box, or _MALFORMED."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), (int, float)) and not isinstance(value.get(k), bool)
                                              for k in BOX_KEYS):
        return _MALFORMED
    if value.get("attributes") is not None and not isinstance(value["attributes"], dict):
        return _MALFORMED
    return box(value)


def same_box(a: Box | None, b: Box | None) -> bool:
    if a is None or b is None:
        return a is b
    return (all(a[k] == b[k] for k in BOX_KEYS) and bool(a.get("outside", False)) == bool(b.get("outside", False))
            and (a.get("attributes") or {}) == (b.get("attributes") or {}))


def stored_object(kind: Kind, fields: dict[str, Any], frames: list[dict[str, Any]], version: int) -> Track:
    return Track({name: spec.wire(fields.get(name, _DEFAULTS.get(name))) for name, spec in kind.fields.items()},
                 {int(kf["frame"]): box(kf) for kf in frames}, version)


# What a field holds when a stored object predates it (a merge case written before the field existed).
_DEFAULTS: dict[str, Any] = {"attributes": {}, "locked": False, "roles": {}}


def stored_track(fields: dict[str, Any], frames: list[dict[str, Any]], version: int) -> Track:
    return stored_object(KINDS["track"], fields, frames, version)


@dataclass(frozen=True)
class Conflict:
    index: int  # the change's position in the request
    id: UUID
    part: str  # "track" (the whole object, whatever its kind), "field" or "keyframe"
    message: str
    theirs: Any
    mine: Any
    base: Any = None
    field: str | None = None
    frame: int | None = None
    kind: str = "track"

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "kind": self.kind, "id": str(self.id), "part": self.part,
                               "message": self.message, "base": self.base, "theirs": self.theirs, "mine": self.mine}
        if self.field is not None:
            out["field"] = self.field
        if self.frame is not None:
            out["frame"] = self.frame
        return out


@dataclass(frozen=True)
class Rejection:
    index: int
    id: UUID
    loc: Loc
    message: str

    def wire(self) -> dict[str, Any]:
        return {"index": self.index, "id": str(self.id), "loc": list(self.loc), "message": self.message}


@dataclass(frozen=True)
class Rules:
    """What a value is checked against besides its own type: the video's size and the known personas."""

    width: int | None = None
    height: int | None = None
    frame_count: int | None = None
    persona_exists: Callable[[str], bool] = lambda _persona: True
    entity_exists: Callable[[str], bool] = lambda _entity: True


@dataclass
class Outcome:
    """What one change does: the track after it (None: absent), whether anything is written, and why not."""

    track: Track | None
    write: bool = False
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def _first_error(exc: ValidationError, loc: Loc) -> tuple[Loc, str]:
    first = exc.errors()[0]
    return (*loc, *first["loc"]), str(first["msg"])


def _check_box(value: Any, frame: int, rules: Rules, loc: Loc) -> tuple[Loc, str] | None:
    """Why a keyframe's new box is refused, or None."""
    if not isinstance(value, dict):
        return loc, "a keyframe box must be an object {x, y, width, height, outside}"
    try:
        check_json(value, loc)
        kf = Keyframe.model_validate({**value, "frame": frame})
    except ValidationError as exc:
        return _first_error(exc, loc)
    except ApiError as exc:
        return exc.field, exc.message
    outside = outside_the_frame(kf, rules.width, rules.height)
    return ((*loc, outside[0]), outside[1]) if outside else None


def outside_the_frame(kf: Keyframe, width: int | None, height: int | None) -> tuple[str, str] | None:
    """(field, why) when the box reaches past the video's frame (of a known size), else None."""
    if width is not None and kf.x + kf.width > width:
        return "width", f"box exceeds the video width: x + width = {kf.x + kf.width} > {width}"
    if height is not None and kf.y + kf.height > height:
        return "height", f"box exceeds the video height: y + height = {kf.y + kf.height} > {height}"
    return None


def _check_field(kind: Kind, name: str, value: Any, rules: Rules, loc: Loc) -> tuple[Loc, str] | tuple[None, Any]:
    """(None, the value as stored) when valid, else (where, why)."""
    spec = kind.fields.get(name)
    if spec is None:
        return loc[:-1], f"unknown field {name!r}; a change of a {kind.name} may set {', '.join(kind.fields)}"
    try:
        check_json(value, loc)
        valid = spec.validate.validate_python(value)
    except ValidationError as exc:
        return _first_error(exc, loc)
    except ApiError as exc:
        return exc.field, exc.message
    wired = spec.wire(valid)
    return _check_reference(name, wired, rules, loc) or (None, wired)


def _check_reference(name: str, value: Any, rules: Rules, loc: Loc) -> tuple[Loc, str] | None:
    """Why a field's value names something that does not exist (a persona, a world entity), or None."""
    if name == "personaId" and value is not None and not rules.persona_exists(value):
        return loc, f"unknown persona {value}"
    if name == "entityId" and value is not None and not rules.entity_exists(value):
        return loc, f"unknown world entity {value!r}: make it on the World page or from the track first"
    return None


def _check_object(kind: Kind, fields: dict[str, Any], rules: Rules) -> list[tuple[tuple[str, ...], str]]:
    """What is wrong with a whole object's fields together: (the fields at fault, why)."""
    if kind.name != "event":
        return []
    start, end = fields["startFrame"], fields["endFrame"]
    if end < start:
        return [(("startFrame", "endFrame"), f"an event ends at or after it starts: endFrame {end} < startFrame {start}")]
    if rules.frame_count is not None and end >= rules.frame_count:
        return [(("endFrame",), f"endFrame {end} is past the video's last frame ({rules.frame_count - 1})")]
    return []


def _create(index: int, change: CreateChange, kind: Kind, current: Track | None, deleted_rev: int | None,
            base_revision: int, rules: Rules, loc: Loc) -> Outcome:
    if current is not None:
        return Outcome(current)  # made by an earlier try of this save whose answer was lost
    body_loc: Loc = (*loc, kind.name)
    try:
        check_json(change.body(), body_loc)
        body = kind.body.model_validate(change.body())
    except ValidationError as exc:
        where, why = _first_error(exc, body_loc)
        return Outcome(None, rejected=[Rejection(index, change.id, where, why)])
    except ApiError as exc:
        return Outcome(None, rejected=[Rejection(index, change.id, exc.field, exc.message)])
    frames: list[Keyframe] = getattr(body, "frames", [])
    created = stored_object(kind, {name: getattr(body, spec.column) for name, spec in kind.fields.items()},
                            [kf.stored() for kf in frames], 1)
    problems: list[Rejection] = []
    previous = -1
    for position, kf in enumerate(frames):
        frame_loc: Loc = (*body_loc, "frames", position)
        if kf.frame <= previous:
            problems.append(Rejection(index, change.id, (*frame_loc, "frame"),
                                      f"frames must be sorted and unique: frame {kf.frame} follows {previous}"))
        previous = kf.frame
        bad = _check_box(kf.model_dump(exclude={"frame"}), kf.frame, rules, frame_loc)
        if bad is not None:
            problems.append(Rejection(index, change.id, bad[0], bad[1]))
    for name in kind.fields:
        bad_ref = _check_reference(name, created.fields[name], rules, (*body_loc, name))
        if bad_ref is not None:
            problems.append(Rejection(index, change.id, *bad_ref))
    for names, why in _check_object(kind, created.fields, rules):
        problems.append(Rejection(index, change.id, (*body_loc, names[-1]), why))
    if problems:
        return Outcome(None, rejected=problems[:1])
    if deleted_rev is not None and deleted_rev > base_revision:
        return Outcome(None, conflicts=[Conflict(
            index, change.id, "track", f"this {kind.name} was deleted by someone else after it was created (at revision"
            f" {deleted_rev}, after yours, {base_revision}); keep it deleted, or bring it back", theirs=None,
            mine=created.wire(kind.keyframes), kind=kind.name)])
    return Outcome(created, write=True)


LOCKED = "the track is locked: unlock it first"


def _update(index: int, change: UpdateChange, kind: Kind, current: Track | None, rules: Rules, loc: Loc) -> Outcome:
    if current is None:
        return Outcome(None, conflicts=[Conflict(
            index, change.id, "track", f"this {kind.name} was deleted by someone else; keep it deleted, or bring it"
            " back with your changes", theirs=None,
            mine=change.model_dump(mode="json", by_alias=True, exclude={"op", "id", "kind"}), kind=kind.name)])
    outcome = Outcome(Track(dict(current.fields), dict(current.frames), current.version))
    track = outcome.track
    assert track is not None
    applied: set[str] = set()
    # A locked track takes only its unlocking: the lock is settled first, everything else is judged by it.
    names = sorted(change.fields, key=lambda name: name != "locked")
    for name in names:
        part = change.fields[name]
        field_loc: Loc = (*loc, "fields", name, "to")
        if name != "locked" and track.fields.get("locked") and current.fields.get("locked"):
            outcome.rejected.append(Rejection(index, change.id, field_loc, LOCKED))
            continue
        bad, value = _check_field(kind, name, part.to, rules, field_loc)
        if bad is not None:
            outcome.rejected.append(Rejection(index, change.id, bad, value))
            continue
        stored = track.fields[name]
        if stored == value:
            continue
        if stored == jsonable(part.from_):
            track.fields[name] = value
            applied.add(name)
            outcome.write = True
            continue
        outcome.conflicts.append(Conflict(index, change.id, "field", f"{name} was changed by someone else since your"
                                          " revision", theirs=stored, mine=value, base=part.from_, field=name,
                                          kind=kind.name))
    for names, why in _check_object(kind, track.fields, rules):
        for name in names:
            if name in applied:  # this change made the object invalid: its part goes back, refused
                track.fields[name] = current.fields[name]
                applied.discard(name)
                outcome.rejected.append(Rejection(index, change.id, (*loc, "fields", name, "to"), why))
    outcome.write = bool(applied)
    if change.keyframes and not kind.keyframes:
        outcome.rejected.append(Rejection(index, change.id, (*loc, "keyframes"), f"a {kind.name} has no keyframes"))
    elif track.fields.get("locked") and current.fields.get("locked") and change.keyframes:
        outcome.rejected.extend(Rejection(index, change.id, (*loc, "keyframes", position), LOCKED)
                                for position in range(len(change.keyframes)))
    else:
        _merge_keyframes(index, change, current, track, rules, loc, outcome)
    return outcome


def _merge_keyframes(index: int, change: UpdateChange, current: Track, track: Track, rules: Rules, loc: Loc,
                     outcome: Outcome) -> None:
    removed: list[tuple[int, int, Box]] = []
    for position, part in enumerate(change.keyframes):
        kf_loc: Loc = (*loc, "keyframes", position)
        base = _base_box(part.from_)
        if base is _MALFORMED:
            outcome.rejected.append(Rejection(index, change.id, (*kf_loc, "from"),
                                              "from must be null or the box {x, y, width, height, outside} you started from"))
            continue
        wanted: Box | None = None
        if part.to is not None:
            bad_box = _check_box(part.to, part.frame, rules, (*kf_loc, "to"))
            if bad_box is not None:
                outcome.rejected.append(Rejection(index, change.id, *bad_box))
                continue
            wanted = box(part.to)
        stored_box = track.frames.get(part.frame)
        if same_box(stored_box, wanted):
            continue
        if same_box(stored_box, base):
            if stored_box is not None and wanted is None:
                del track.frames[part.frame]
                removed.append((position, part.frame, stored_box))
            elif wanted is not None:
                track.frames[part.frame] = wanted
            outcome.write = True
            continue
        what = "removed" if stored_box is None else "added" if base is None else "changed"
        outcome.conflicts.append(Conflict(
            index, change.id, "keyframe", f"the keyframe at frame {part.frame} was {what} by someone else since your"
            " revision", theirs=stored_box, mine=wanted, base=base, frame=part.frame))
    if not track.frames and removed:
        # Both sides removed keyframes and none is left: keep this save's removals out, the track whole.
        for position, frame, previous in removed:
            track.frames[frame] = previous
            outcome.rejected.append(Rejection(index, change.id, (*loc, "keyframes", position, "to"),
                                              "a track keeps at least one keyframe: delete the track instead"))
        outcome.write = outcome.write and (track.fields != current.fields or track.frames != current.frames)


def _delete(index: int, change: DeleteChange, kind: Kind, current: Track | None) -> Outcome:
    if current is None:
        return Outcome(None)  # gone already: a retried delete, or someone else deleted it too
    if current.fields.get("locked"):
        return Outcome(current, rejected=[Rejection(index, change.id, ("body", "changes", index, "op"), LOCKED)])
    if current.version != change.version:
        return Outcome(current, conflicts=[Conflict(
            index, change.id, "track", f"this {kind.name} was changed by someone else since you last saw it (version"
            f" {change.version}, now {current.version}); delete it anyway, or keep it",
            theirs=current.wire(kind.keyframes), mine=None, kind=kind.name)])
    return Outcome(None, write=True)


def merge(index: int, change: TrackChange, current: Track | None, deleted_rev: int | None, base_revision: int,
          rules: Rules) -> Outcome:
    """The outcome of one change against the stored object (`current`, None when absent; `deleted_rev`: the
    revision whose save deleted it, when it was deleted)."""
    loc: Loc = ("body", "changes", index)
    kind = KINDS[change.kind]
    if isinstance(change, CreateChange):
        return _create(index, change, kind, current, deleted_rev, base_revision, rules, loc)
    if isinstance(change, UpdateChange):
        return _update(index, change, kind, current, rules, loc)
    return _delete(index, change, kind, current)
