/**
 * Boxes over the video, in video pixel coordinates: the SVG's viewBox is the video's size, so a box is
 * drawn and hit-tested in the same units the backend stores whatever the display size. The boxes of the
 * frame are drawn by `BoxLayer` (imperative, only what is visible); React draws the selected box's
 * handles and the box being drawn or dragged. Drags become one document command (one undo step) on release.
 */
import { memo, useEffect, useLayoutEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from "react";
import { boxFromCorners, clampBox, clientToVideo, handlePoint, HANDLES, resizeBox, type Handle } from "../editor/coords";
import { visibleBoxAt } from "../editor/keyframes";
import { othersCaption } from "../editor/personaScope";
import type { Box } from "../editor/types";
import { BoxLayer } from "./boxLayer";
import { trackColor, type TypeIndex } from "./types";
import { useDocVersion, usePlayer, useUi, type Workspace } from "./workspace";

type Drag =
  | { kind: "draw"; start: { x: number; y: number }; box: Box }
  | { kind: "move"; id: string; start: { x: number; y: number }; origin: Box; box: Box }
  | { kind: "resize"; id: string; handle: Handle; start: { x: number; y: number }; origin: Box; box: Box };

export const Overlay = memo(function Overlay({ ws, types, onCreate }: {
  ws: Workspace;
  types: TypeIndex;
  onCreate: (box: Box, frame: number) => void;
}) {
  const { frame } = usePlayer(ws);
  useDocVersion(ws);
  const ui = useUi(ws);
  const svg = useRef<SVGSVGElement>(null);
  const group = useRef<SVGGElement>(null);
  const othersGroup = useRef<SVGGElement>(null);
  const redraw = useRef<() => void>(() => {});
  const [drag, setDrag] = useState<Drag | null>(null);
  const dragRef = useRef<Drag | null>(null);
  dragRef.current = drag;
  const size = ws.size;
  const handleSize = Math.max(size.width, size.height) / 100;

  // The layer follows the player, the document and the UI state directly, not through React renders. One
  // layer per workspace: the types and sizes it needs are read from a ref, so a late ontology only redraws.
  const settings = useRef({ types, fontSize: handleSize * 1.6 });
  settings.current = { types, fontSize: handleSize * 1.6 };
  useLayoutEffect(() => {
    const g = group.current!;
    const l = new BoxLayer(svg.current!, g);
    // Other personas' tracks (when all are shown): a layer of their own, under this persona's, read only.
    const og = othersGroup.current!;
    const others = new BoxLayer(svg.current!, og, true);
    const draw = () => {
      const u = ws.ui.get();
      const d = dragRef.current;
      l.update({
        frame: ws.player.frame, tracks: ws.doc.list(), hidden: u.hidden, selected: u.selected,
        dragging: d && d.kind !== "draw" ? d.id : null, ...settings.current,
      });
      others.update({
        frame: ws.player.frame, tracks: u.others, hidden: u.hidden, selected: null, dragging: null, ...settings.current,
        caption: (t) => othersCaption(t, u.personaNames),
      });
    };
    draw();
    redraw.current = draw;
    const unsubscribe = [ws.player.subscribe(draw), ws.doc.subscribe(draw), ws.ui.subscribe(draw)];
    return () => {
      unsubscribe.forEach((u) => u());
      g.replaceChildren(); // the next layer starts from an empty group
      og.replaceChildren();
    };
  }, [ws]);

  // New colours or sizes, or a drag starting or ending (which track the layer leaves to React): redraw.
  useEffect(() => {
    redraw.current();
  }, [types, handleSize, drag?.kind, drag && drag.kind !== "draw" ? drag.id : null]);

  function point(e: { clientX: number; clientY: number }) {
    const rect = svg.current!.getBoundingClientRect();
    return clientToVideo(e.clientX, e.clientY, rect, size);
  }

  function begin(e: ReactPointerEvent, next: Drag) {
    e.stopPropagation();
    e.preventDefault();
    svg.current?.setPointerCapture(e.pointerId);
    setDrag(next);
  }

  function onDown(e: ReactPointerEvent) {
    if (e.button !== 0) return;
    const p = point(e);
    if (ui.drawing) {
      begin(e, { kind: "draw", start: p, box: { x: p.x, y: p.y, width: 0, height: 0 } });
      return;
    }
    const id = (e.target as Element).getAttribute?.("data-track-id");
    const track = id ? ws.doc.get(id) : undefined;
    const box = track ? visibleBoxAt(track, frame) : null;
    if (track && box && track.locked) {
      // Selected, never moved: a locked box that followed the mouse and then jumped back would look like a lost edit.
      ws.ui.set({ selected: track.id, message: `«${track.label}» is locked: unlock it (L) to move or resize it` });
    } else if (track && box) {
      ws.ui.set({ selected: track.id });
      const origin = { x: box.x, y: box.y, width: box.width, height: box.height };
      begin(e, { kind: "move", id: track.id, start: p, origin, box: origin });
    } else {
      ws.ui.set({ selected: null });
    }
  }

  function onMove(e: ReactPointerEvent) {
    if (!drag) return;
    const p = point(e);
    const dx = p.x - drag.start.x;
    const dy = p.y - drag.start.y;
    if (drag.kind === "draw") setDrag({ ...drag, box: boxFromCorners(drag.start, p) });
    else if (drag.kind === "move") setDrag({ ...drag, box: clampBox({ ...drag.origin, x: drag.origin.x + dx, y: drag.origin.y + dy }, size) });
    else setDrag({ ...drag, box: clampBox(resizeBox(drag.origin, drag.handle, dx, dy), size) });
  }

  function onUp(e: ReactPointerEvent) {
    if (!drag) return;
    svg.current?.releasePointerCapture(e.pointerId);
    setDrag(null);
    if (drag.kind === "draw") {
      if (drag.box.width >= 2 && drag.box.height >= 2) onCreate(clampBox(drag.box, size), frame);
      return;
    }
    const { origin, box } = drag;
    if (box.x !== origin.x || box.y !== origin.y || box.width !== origin.width || box.height !== origin.height) {
      ws.doc.setBox(drag.id, frame, box);
    }
  }

  // The selected box (or the one being dragged) with its handles, drawn by React.
  const selectedId = drag && drag.kind !== "draw" ? drag.id : ui.selected;
  const selectedTrack = selectedId && !ui.hidden.has(selectedId) ? ws.doc.get(selectedId) : undefined;
  const shown = selectedTrack ? visibleBoxAt(selectedTrack, frame) : null;
  const active = drag && drag.kind !== "draw" ? drag.box : shown;
  const color = selectedTrack ? trackColor(selectedTrack, types) : "#fff";

  return (
    <svg
      ref={svg}
      className={`overlay${ui.drawing ? " drawing" : ""}`}
      data-testid="overlay"
      viewBox={`0 0 ${size.width} ${size.height}`}
      preserveAspectRatio="none"
      onPointerDown={onDown}
      onPointerMove={onMove}
      onPointerUp={onUp}
      onPointerCancel={() => setDrag(null)}
    >
      <g ref={othersGroup} className="others" data-testid="other-boxes" />
      <g ref={group} />
      {selectedTrack && active && (
        <g>
          {drag && drag.kind !== "draw" && (
            <rect data-testid="box" data-track-id={selectedTrack.id} data-dragging="true" className="box" x={active.x} y={active.y}
              width={active.width} height={active.height} stroke={color} fill={color} fillOpacity={0.15} strokeWidth={3}
              vectorEffect="non-scaling-stroke" />
          )}
          {!selectedTrack.locked && HANDLES.map((h) => {
            const p = handlePoint(active, h);
            return (
              <rect key={h} data-testid={`handle-${h}`} className={`handle handle-${h}`}
                x={p.x - handleSize / 2} y={p.y - handleSize / 2} width={handleSize} height={handleSize}
                fill="#fff" stroke={color} vectorEffect="non-scaling-stroke"
                onPointerDown={(e) => {
                  if (e.button !== 0 || !shown) return;
                  const origin = { x: shown.x, y: shown.y, width: shown.width, height: shown.height };
                  begin(e, { kind: "resize", id: selectedTrack.id, handle: h, start: point(e), origin, box: origin });
                }} />
            );
          })}
        </g>
      )}
      {drag?.kind === "draw" && (
        <rect data-testid="draw-preview" x={drag.box.x} y={drag.box.y} width={drag.box.width} height={drag.box.height}
          className="draw-preview" vectorEffect="non-scaling-stroke" />
      )}
    </svg>
  );
});
