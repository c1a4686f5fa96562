/**
 * Boxes over the video, in video pixel coordinates: the SVG's viewBox is the video's size, so a box is
 * drawn and hit-tested in the same units the backend stores whatever the display size. Only the boxes
 * visible at the current frame are drawn (binary search per track). Drags are previewed locally and
 * become one document command (one undo step) on mouse up.
 */
import { memo, useRef, useState, type PointerEvent as ReactPointerEvent } from "react";
import { boxFromCorners, clampBox, clientToVideo, handlePoint, HANDLES, resizeBox, type Handle } from "../editor/coords";
import { visibleBoxAt } from "../editor/keyframes";
import type { Box } from "../editor/types";
import { trackColor, type TypeIndex } from "./types";
import { useDocVersion, usePlayer, useUi, type Workspace } from "./workspace";

type Drag =
  | { kind: "draw"; start: { x: number; y: number }; box: Box }
  | { kind: "move"; id: string; start: { x: number; y: number }; origin: Box; box: Box }
  | { kind: "resize"; id: string; handle: Handle; start: { x: number; y: number }; origin: Box; box: Box };

const r3 = (v: number) => String(Math.round(v * 1000) / 1000);

export const Overlay = memo(function Overlay({ ws, types, onCreate }: {
  ws: Workspace;
  types: TypeIndex;
  onCreate: (box: Box, frame: number) => void;
}) {
  const { frame } = usePlayer(ws);
  useDocVersion(ws);
  const ui = useUi(ws);
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const size = ws.size;
  const handleSize = Math.max(size.width, size.height) / 100;

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

  function onBackgroundDown(e: ReactPointerEvent) {
    if (e.button !== 0) return;
    if (ui.drawing) {
      const p = point(e);
      begin(e, { kind: "draw", start: p, box: { x: p.x, y: p.y, width: 0, height: 0 } });
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

  const boxes = [];
  for (const track of ws.doc.list()) {
    if (ui.hidden.has(track.id)) continue;
    const shown = visibleBoxAt(track, frame);
    if (!shown) continue;
    const dragging = drag && drag.kind !== "draw" && drag.id === track.id ? drag.box : null;
    const b = dragging ?? shown;
    const selected = ui.selected === track.id;
    const candidate = track.source === "automatic";
    const color = trackColor(track, types);
    boxes.push(
      <g key={track.id}>
        <rect
          data-testid="box"
          data-track-id={track.id}
          data-x={r3(b.x)}
          data-y={r3(b.y)}
          data-width={r3(b.width)}
          data-height={r3(b.height)}
          data-keyframe={shown.keyframe ? "true" : "false"}
          data-candidate={candidate ? "true" : "false"}
          data-selected={selected ? "true" : "false"}
          x={b.x}
          y={b.y}
          width={b.width}
          height={b.height}
          stroke={color}
          fill={selected ? color : "transparent"}
          fillOpacity={selected ? 0.15 : 0}
          strokeWidth={selected ? 3 : 2}
          strokeDasharray={candidate ? "8 5" : undefined}
          vectorEffect="non-scaling-stroke"
          className="box"
          onPointerDown={(e) => {
            if (e.button !== 0 || ui.drawing) return;
            ws.ui.set({ selected: track.id });
            begin(e, { kind: "move", id: track.id, start: point(e), origin: b, box: b });
          }}
        />
        {selected && HANDLES.map((h) => {
          const p = handlePoint(b, h);
          return (
            <rect
              key={h}
              data-testid={`handle-${h}`}
              className={`handle handle-${h}`}
              x={p.x - handleSize / 2}
              y={p.y - handleSize / 2}
              width={handleSize}
              height={handleSize}
              fill="#fff"
              stroke={color}
              vectorEffect="non-scaling-stroke"
              onPointerDown={(e) => {
                if (e.button !== 0) return;
                begin(e, { kind: "resize", id: track.id, handle: h, start: point(e), origin: b, box: b });
              }}
            />
          );
        })}
        <text x={b.x + 2} y={Math.max(b.y - 4, 12)} className="box-label" fill={color} fontSize={handleSize * 1.6}>
          {track.label}{candidate && track.confidence != null ? ` ${Math.round(track.confidence * 100)}%` : ""}
        </text>
      </g>,
    );
  }

  return (
    <svg
      ref={svg}
      className={`overlay${ui.drawing ? " drawing" : ""}`}
      data-testid="overlay"
      data-frame={frame}
      data-box-count={boxes.length}
      viewBox={`0 0 ${size.width} ${size.height}`}
      preserveAspectRatio="none"
      onPointerDown={onBackgroundDown}
      onPointerMove={onMove}
      onPointerUp={onUp}
      onPointerCancel={() => setDrag(null)}
    >
      {boxes}
      {drag?.kind === "draw" && (
        <rect data-testid="draw-preview" x={drag.box.x} y={drag.box.y} width={drag.box.width} height={drag.box.height}
          className="draw-preview" vectorEffect="non-scaling-stroke" />
      )}
    </svg>
  );
});
