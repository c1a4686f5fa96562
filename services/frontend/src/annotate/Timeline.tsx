/**
 * Track list + timeline: one row per track (its span, keyframes, outside spans), a playhead, click to seek,
 * zoom. Rows are virtualised (only those scrolled into view are in the DOM) and the playhead moves by a
 * style write, so neither the rows nor the list re-render per frame: 1,000 tracks stay cheap.
 */
import { memo, useEffect, useLayoutEffect, useRef, useState, type MouseEvent } from "react";
import { keyframeIndexAtOrBefore, lastFrameOf, outsideSpans } from "../editor/keyframes";
import type { Track } from "../editor/types";
import { EventLane } from "./EventLane";
import { LabelField } from "./SidePanels";
import { trackColor, typeName, type TypeIndex } from "./types";
import { useDocVersion, useUi, type Workspace } from "./workspace";

const ROW = 26;
const LIST_WIDTH = 330;

export function Timeline({ ws, types }: { ws: Workspace; types: TypeIndex }) {
  useDocVersion(ws);
  const ui = useUi(ws);
  const scroller = useRef<HTMLDivElement>(null);
  const lanes = useRef<HTMLDivElement>(null);
  const playhead = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(200);
  const [laneWidth, setLaneWidth] = useState(600);
  const [zoom, setZoom] = useState(1); // 1 = the whole video fits
  const [start, setStart] = useState(0);
  const frames = Math.max(ws.player.frameCount ?? 1, 1);
  const visibleFrames = Math.max(10, Math.ceil(frames / zoom));
  const ppf = laneWidth / visibleFrames;
  const tracks = ws.doc.list();

  useLayoutEffect(() => {
    const el = scroller.current!;
    const measure = () => {
      setHeight(el.clientHeight);
      setLaneWidth(Math.max(100, el.clientWidth - LIST_WIDTH - 12));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // The playhead follows the player without rendering React; the window scrolls when it leaves the view.
  useEffect(() => {
    const place = () => {
      const f = ws.player.frame;
      if (f < start || f >= start + visibleFrames) {
        setStart(Math.max(0, Math.min(frames - visibleFrames, f - Math.floor(visibleFrames / 4))));
        return;
      }
      if (playhead.current) playhead.current.style.transform = `translateX(${LIST_WIDTH + (f - start + 0.5) * ppf}px)`;
    };
    place();
    return ws.player.subscribe(place);
  }, [ws, start, visibleFrames, ppf, frames]);

  const first = Math.max(0, Math.floor(scrollTop / ROW) - 4);
  const last = Math.min(tracks.length, Math.ceil((scrollTop + height) / ROW) + 4);
  const rows = [];
  for (let i = first; i < last; i++) {
    const t = tracks[i];
    rows.push(
      <TrackRow key={t.id} ws={ws} track={t} top={i * ROW} types={types} selected={ui.selected === t.id}
        hidden={ui.hidden.has(t.id)} start={start} visibleFrames={visibleFrames} ppf={ppf} />,
    );
  }

  function seekFromLane(e: MouseEvent) {
    const rect = lanes.current!.getBoundingClientRect();
    const x = e.clientX - rect.left - LIST_WIDTH;
    if (x < 0) return;
    ws.player.seek(start + Math.floor(x / ppf));
  }

  return (
    <div className="timeline" data-testid="timeline">
      <div className="timeline-head">
        <span className="muted">{tracks.length} tracks</span>
        <label className="zoom">
          zoom
          <input type="range" min={1} max={Math.max(1, Math.floor(frames / 10))} step={0.5} value={zoom}
            onChange={(e) => setZoom(Number(e.target.value))} data-testid="timeline-zoom" />
        </label>
        <Ruler start={start} visibleFrames={visibleFrames} ppf={ppf} onSeek={(f) => ws.player.seek(f)} />
      </div>
      <EventLane ws={ws} start={start} visibleFrames={visibleFrames} ppf={ppf} offset={LIST_WIDTH} />
      <div className="timeline-body" ref={scroller} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <div ref={lanes} className="timeline-rows" style={{ height: Math.max(tracks.length * ROW, 40) }} onClick={seekFromLane}>
          {tracks.length === 0 && <div className="muted timeline-empty">No tracks yet: press N and drag a box on the video.</div>}
          {rows}
          <div ref={playhead} className="playhead" data-testid="playhead" />
        </div>
      </div>
    </div>
  );
}

function Ruler({ start, visibleFrames, ppf, onSeek }: { start: number; visibleFrames: number; ppf: number; onSeek: (f: number) => void }) {
  const step = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000].find((s) => s * ppf >= 60) ?? 10000;
  const ticks = [];
  for (let f = Math.ceil(start / step) * step; f < start + visibleFrames; f += step) {
    ticks.push(<span key={f} className="tick" style={{ left: (f - start) * ppf }}>{f}</span>);
  }
  return (
    <div className="ruler" style={{ left: LIST_WIDTH }} data-testid="timeline-ruler"
      onClick={(e) => onSeek(start + Math.floor((e.clientX - e.currentTarget.getBoundingClientRect().left) / ppf))}>
      {ticks}
    </div>
  );
}

const TrackRow = memo(function TrackRow({ ws, track, top, types, selected, hidden, start, visibleFrames, ppf }: {
  ws: Workspace; track: Track; top: number; types: TypeIndex; selected: boolean; hidden: boolean;
  start: number; visibleFrames: number; ppf: number;
}) {
  const [renaming, setRenaming] = useState(false);
  const color = trackColor(track, types);
  const candidate = track.source === "automatic";
  const fr = track.frames;
  const end = start + visibleFrames;
  // Only the keyframes inside the visible window (binary search for the first).
  const marks = [];
  for (let i = Math.max(0, keyframeIndexAtOrBefore(fr, start)); i < fr.length && fr[i].frame < end; i++) {
    if (fr[i].frame < start) continue;
    marks.push(
      <span key={fr[i].frame} className={`kf${fr[i].outside ? " kf-outside" : ""}`} style={{ left: (fr[i].frame - start + 0.5) * ppf }}
        title={`keyframe ${fr[i].frame}${fr[i].outside ? " (outside)" : ""}`} />,
    );
  }
  const lastKey = fr[fr.length - 1];
  const spanStart = Math.max(fr[0].frame, start);
  const spanEnd = Math.min(end, lastKey.frame);
  // After the last keyframe a person's track is held (fainter) for as long as it lasts (lastFrameOf: the rule the
  // export follows too), i.e. to the end of the video unless marked outside.
  const heldStart = Math.max(lastKey.frame, start);
  const heldEnd = Math.min(end, lastFrameOf(track, ws.player.frameCount) + 1);
  const held = heldEnd > heldStart && lastFrameOf(track, ws.player.frameCount) > lastKey.frame;
  const outside = outsideSpans(fr).map(([a, b]) => [Math.max(a, start), Math.min(b ?? end, end)] as const).filter(([a, b]) => b > a);
  const typeOptions = [...types.values()];
  const select = () => ws.ui.set({ selected: track.id });

  return (
    <div className={`track-row${selected ? " selected" : ""}${candidate ? " candidate" : ""}`} style={{ top }}
      data-testid="track-row" data-track-id={track.id} data-source={track.source} data-keyframes={fr.map((k) => k.frame).join(",")}>
      <div className="track-cell" onClick={(e) => { e.stopPropagation(); select(); }}>
        <span className="swatch" style={{ background: color }} />
        {renaming ? (
          <span className="rename" onClick={(e) => e.stopPropagation()}>
            <LabelField ws={ws} trackId={track.id} label={track.label} testId="track-rename" autoFocus onDone={() => setRenaming(false)} />
          </span>
        ) : (
          <span className="track-label" onDoubleClick={() => setRenaming(true)} title="double-click to rename" data-testid="track-label">{track.label}</span>
        )}
        <select value={track.type} onChange={(e) => ws.doc.setType(track.id, e.target.value, (type) => types.get(type)?.name ?? type)}
          onClick={(e) => e.stopPropagation()} data-testid="track-type" aria-label="type">
          {!types.has(track.type) && <option value={track.type}>{typeName(track.type, types)}</option>}
          {typeOptions.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
        {candidate ? (
          <>
            <button className="icon ok" title="Accept candidate" data-testid="candidate-accept" onClick={(e) => { e.stopPropagation(); ws.doc.acceptCandidates([track.id]); }}>✓</button>
            <button className="icon bad" title="Reject candidate" data-testid="candidate-reject" onClick={(e) => { e.stopPropagation(); ws.doc.deleteTracks([track.id]); }}>✗</button>
          </>
        ) : (
          <button className="icon" title="Rename" onClick={(e) => { e.stopPropagation(); setRenaming(true); }}>✎</button>
        )}
        <button className="icon" title={hidden ? "Show" : "Hide"} data-testid="track-hide"
          onClick={(e) => { e.stopPropagation(); ws.toggleHidden(track.id); }}>{hidden ? "◌" : "●"}</button>
        <button className="icon bad" title="Delete track" data-testid="track-delete"
          onClick={(e) => { e.stopPropagation(); ws.doc.deleteTracks([track.id]); if (selected) ws.ui.set({ selected: null }); }}>✕</button>
      </div>
      <div className="lane" onClick={select}>
        {spanEnd > spanStart && (
          <span className={`span${hidden ? " span-hidden" : ""}`} style={{ left: (spanStart - start) * ppf, width: (spanEnd - spanStart) * ppf, background: color }} />
        )}
        {held && <span className="span span-held" data-testid="span-held" style={{ left: (heldStart - start) * ppf, width: (heldEnd - heldStart) * ppf, background: color }} />}
        {outside.map(([a, b]) => <span key={a} className="outside" style={{ left: (a - start) * ppf, width: (b - a) * ppf }} />)}
        {marks}
      </div>
    </div>
  );
});
