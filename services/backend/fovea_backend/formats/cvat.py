"""CVAT for video 1.1 XML (the format CVAT's own "CVAT for video" export writes and its import reads): meta with the
task's size, frames and labels (each with its attribute specs), then one <track> per track with a <box> for every
frame it lasts — `keyframe="1"` on keyframes, `outside="1"` where it leaves the frame — carrying every attribute
(immutable ones from the track, mutable ones held at that frame). Reading keeps the keyframes and outside boxes,
the immutable attributes from the track's first box and each mutable attribute where its value changes."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from xml.parsers import expat
from datetime import UTC, datetime
from typing import Any

from fovea_backend.formats import VideoExport, number
from fovea_backend.formats.mot import FormatError, ReadTrack

INPUT_TYPES = {"text": "text", "number": "number", "choice": "select", "checkbox": "checkbox"}
KINDS_OF_INPUT = {v: k for k, v in INPUT_TYPES.items()} | {"radio": "choice"}
SOURCES = {"manual": "manual", "ai-assisted": "semi-auto", "automatic": "auto"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _attribute_spec(definition: dict[str, Any]) -> ET.Element:
    kind = str(definition.get("type") or "text")
    spec = ET.Element("attribute")
    ET.SubElement(spec, "name").text = str(definition["name"])
    ET.SubElement(spec, "mutable").text = "True" if definition.get("mutable") else "False"
    ET.SubElement(spec, "input_type").text = INPUT_TYPES.get(kind, "text")
    options = [str(o) for o in definition.get("options") or []]
    default = definition.get("default")
    if kind == "checkbox":
        values, default = ["false", "true"], _text(bool(default))
    elif kind == "number":
        values = [str(definition.get("min", 0)), str(definition.get("max", 1_000_000)), str(definition.get("step", 1))]
    else:
        values = options
    ET.SubElement(spec, "default_value").text = _text(default) if default is not None else (values[0] if values and kind != "text" else "")
    ET.SubElement(spec, "values").text = "\n".join(values)
    return spec


def write_cvat(video: VideoExport) -> bytes:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    for name, value in (("id", "1"), ("name", video.filename), ("size", str(video.frame_count)), ("mode", "interpolation"),
                        ("overlap", "0"), ("start_frame", "0"), ("stop_frame", str(video.frame_count - 1)),
                        ("frame_filter", "")):
        ET.SubElement(task, name).text = value
    labels = ET.SubElement(task, "labels")
    for category in video.categories:
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = category.name
        ET.SubElement(label, "type").text = "rectangle"
        attributes = ET.SubElement(label, "attributes")
        for definition in category.attributes:
            attributes.append(_attribute_spec(definition))
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(video.width)
    ET.SubElement(size, "height").text = str(video.height)
    ET.SubElement(root.find("meta"), "dumped").text = datetime.now(UTC).isoformat()  # type: ignore[union-attr]
    for track in video.tracks:
        category = video.category(track.type)
        element = ET.SubElement(root, "track", {"id": str(track.number - 1), "label": category.name,
                                                "source": SOURCES.get(track.source, "manual")})
        for f in track.frames:
            if f["frame"] >= video.frame_count:
                continue
            box = ET.SubElement(element, "box", {
                "frame": str(f["frame"]), "keyframe": "1" if f["keyframe"] else "0", "outside": "1" if f["outside"] else "0",
                "occluded": "1" if f["attributes"].get("occluded") is True else "0",
                "xtl": number(f["x"]), "ytl": number(f["y"]), "xbr": number(f["x"] + f["width"]),
                "ybr": number(f["y"] + f["height"]), "z_order": "0"})
            for name, value in {**track.attributes, **f["attributes"]}.items():
                if name == "occluded":
                    continue  # the box's own flag
                ET.SubElement(box, "attribute", {"name": name}).text = _text(value)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


# --- reading ----------------------------------------------------------------------------------------------
def _parse(body: bytes) -> tuple[ET.Element, dict[int, int]]:
    """The XML's tree and the line each element starts on (for messages naming the place): expat driven directly,
    since ElementTree's C parser does not say where an element was."""
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise FormatError(exc.lineno, f"column {exc.offset + 1}", f"not well-formed XML: {expat.ErrorString(exc.code)}") from None
    return builder.close(), lines


def _value(raw: str | None, kind: str) -> Any:
    text = raw or ""
    if kind == "checkbox":
        return text.strip().lower() == "true"
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    return text


def read_cvat(body: bytes) -> tuple[list[dict[str, Any]], list[ReadTrack]]:
    """(labels: [{name, attributes: [ontology attribute definitions]}], tracks). Raises FormatError naming the line."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise FormatError(1, "line", "a DOCTYPE or ENTITY declaration is not accepted in an import")
    root, lines = _parse(body)
    line_of = lambda element: lines.get(id(element), 0)  # noqa: E731
    if root.tag != "annotations":
        raise FormatError(line_of(root), root.tag, "a CVAT XML file starts with <annotations>")
    labels: list[dict[str, Any]] = []
    specs: dict[str, dict[str, dict[str, Any]]] = {}
    for label in root.iterfind("meta/*/labels/label"):
        name = (label.findtext("name") or "").strip()
        if not name:
            raise FormatError(line_of(label), "label", "a label has no name")
        definitions = []
        for spec in label.iterfind("attributes/attribute"):
            input_type = (spec.findtext("input_type") or "text").strip()
            values = [v for v in (spec.findtext("values") or "").split("\n") if v != ""]
            kind = KINDS_OF_INPUT.get(input_type, "text")
            definition: dict[str, Any] = {"id": f"attr-{uuid.uuid4().hex[:8]}", "name": (spec.findtext("name") or "").strip(),
                                          "type": kind, "mutable": (spec.findtext("mutable") or "").strip().lower() == "true"}
            if kind == "choice":
                definition["options"] = values
            default = spec.findtext("default_value")
            if default not in (None, ""):
                definition["default"] = _value(default, kind)
            definitions.append(definition)
        labels.append({"name": name, "attributes": definitions})
        specs[name] = {d["name"]: d for d in definitions}
    if root.find("image") is not None:
        raise FormatError(line_of(root.find("image")), "image", "this is CVAT for images (per-image <image> elements);"
                                                                " import CVAT for video 1.1 (<track> elements)")
    tracks: list[ReadTrack] = []
    for element in root.iterfind("track"):
        line = line_of(element)
        label = element.get("label")
        if label is None or label not in specs:
            raise FormatError(line, "label", f"track {element.get('id')} has label {label!r}, which <meta> does not declare")
        if element.find("box") is None:
            if any(child.tag != "box" for child in element):
                raise FormatError(line, "track", f"track {element.get('id')} holds {element[0].tag} shapes; only boxes are"
                                                 " imported")
            continue
        keyframes: list[dict[str, Any]] = []
        fixed: dict[str, Any] = {}
        held: dict[str, Any] = {}
        previous = -1
        for box in element.iterfind("box"):
            box_line = line_of(box)
            values: dict[str, float] = {}
            for name in ("frame", "xtl", "ytl", "xbr", "ybr"):
                raw = box.get(name)
                if raw is None:
                    raise FormatError(box_line, name, f"<box> lacks {name}")
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise FormatError(box_line, name, f"{name} {raw!r} is not a number") from None
            frame = int(values["frame"])
            if frame != values["frame"] or frame < 0:
                raise FormatError(box_line, "frame", f"frame {box.get('frame')!r} must be a whole number from 0")
            if frame <= previous:
                raise FormatError(box_line, "frame", f"boxes of a track come in frame order: {frame} follows {previous}")
            previous = frame
            if values["xbr"] < values["xtl"] or values["ybr"] < values["ytl"]:
                raise FormatError(box_line, "xbr" if values["xbr"] < values["xtl"] else "ybr", "xbr/ybr lie left of or above xtl/ytl")
            attributes = {a.get("name", ""): _value(a.text, specs[label].get(a.get("name", ""), {}).get("type", "text"))
                          for a in box.iterfind("attribute")}
            if box.get("occluded") == "1" or "occluded" in specs[label]:
                attributes["occluded"] = box.get("occluded") == "1"
            if not keyframes:
                fixed = {k: v for k, v in attributes.items() if k in specs[label] and not specs[label][k]["mutable"]}
            mutable = {k: v for k, v in attributes.items() if k not in fixed}
            if box.get("keyframe") == "1" or box.get("outside") == "1":
                changed = {k: v for k, v in mutable.items() if held.get(k, _MISSING) != v}
                held.update(mutable)
                keyframe: dict[str, Any] = {"frame": frame, "x": values["xtl"], "y": values["ytl"],
                                            "width": values["xbr"] - values["xtl"], "height": values["ybr"] - values["ytl"]}
                if box.get("outside") == "1":
                    keyframe["outside"] = True
                if changed:
                    keyframe["attributes"] = changed
                keyframe["line"] = box_line
                keyframes.append(keyframe)
        if keyframes:
            source = {"semi-auto": "ai-assisted", "auto": "automatic"}.get(element.get("source", ""), "manual")
            tracks.append(ReadTrack(element.get("id") or str(len(tracks)), label, keyframes, fixed, source))
    return labels, tracks


_MISSING = object()
