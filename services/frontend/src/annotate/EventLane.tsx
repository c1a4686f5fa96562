/**
 * The timeline's lane of events: one bar per event over its frames (tags and events alike), stacked when they
 * overlap. Click selects (and opens the events panel's details); dragging a bar's end moves that end, one undo step
 * when the mouse is let go (the document refuses an end before the start).
 */
import { useState, type MouseEvent } from "react";
import { useDocVersion, useUi, type Workspace } from "./workspace";

const BAR = 14;

export function EventLane({ ws, start, visibleFrames, ppf, offset }: {
  ws: Workspace; start: number; visibleFrames: number; ppf: number; offset: number;
}) {
  useDocVersion(ws);
  const ui = useUi(ws);
  const [drag, setDrag] = useState<{ id: string; end: "startFrame" | "endFrame"; frame: number } | null>(null);
  const events = ws.doc.events();
  // Rows: each event on the first row where it overlaps nothing.
  const rows: Array<Array<[number, number]>> = [];
  const rowOf = new Map<string, number>();
  for (const e of [...events].sort((a, b) => a.startFrame - b.startFrame)) {
    let row = rows.findIndex((spans) => spans.every(([a, b]) => e.startFrame > b || e.endFrame < a));
    if (row < 0) row = rows.push([]) - 1;
    rows[row].push([e.startFrame, e.endFrame]);
    rowOf.set(e.id, row);
  }
  const frameAt = (clientX: number, lane: HTMLElement) =>
    Math.max(0, start + Math.floor((clientX - lane.getBoundingClientRect().left - offset) / ppf));

  function grab(e: MouseEvent, id: string, end: "startFrame" | "endFrame") {
    e.stopPropagation();
    e.preventDefault();
    const lane = (e.currentTarget as HTMLElement).closest(".event-lane") as HTMLElement;
    const move = (m: globalThis.MouseEvent) => setDrag({ id, end, frame: frameAt(m.clientX, lane) });
    const up = (m: globalThis.MouseEvent) => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      setDrag(null);
      const ev = ws.doc.event(id);
      if (!ev) return;
      const frame = frameAt(m.clientX, lane);
      const result = end === "startFrame" ? ws.doc.setEventSpan(id, frame, ev.endFrame) : ws.doc.setEventSpan(id, ev.startFrame, frame);
      if (!result.ok) ws.ui.set({ message: result.problem.message });
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  }

  return (
    <div className="event-lane" data-testid="event-lane" style={{ height: Math.max(1, rows.length) * (BAR + 2) + 4 }}>
      <span className="event-lane-name muted" style={{ width: offset }}>events{events.length ? ` (${events.length})` : ""}</span>
      {events.map((e) => {
        const s = drag?.id === e.id && drag.end === "startFrame" ? drag.frame : e.startFrame;
        const t = drag?.id === e.id && drag.end === "endFrame" ? drag.frame : e.endFrame;
        const left = Math.max(s, start);
        const right = Math.min(t + 1, start + visibleFrames);
        if (right <= left) return null;
        return (
          <div key={e.id} className={`event-bar${ui.selectedEvent === e.id ? " selected" : ""}`} data-testid="event-bar" data-event-id={e.id}
            data-start={e.startFrame} data-end={e.endFrame} title={`${e.label}: frames ${e.startFrame}–${e.endFrame}`}
            style={{ left: offset + (left - start) * ppf, width: (right - left) * ppf, top: 2 + (rowOf.get(e.id) ?? 0) * (BAR + 2), height: BAR }}
            onClick={(m) => { m.stopPropagation(); ws.ui.set({ selectedEvent: e.id, selected: null }); }}>
            <span className="event-handle" data-testid="event-handle-start" onMouseDown={(m) => grab(m, e.id, "startFrame")} />
            <span className="event-bar-label">{e.label}</span>
            <span className="event-handle end" data-testid="event-handle-end" onMouseDown={(m) => grab(m, e.id, "endFrame")} />
          </div>
        );
      })}
    </div>
  );
}
