/**
 * The boxes of the current frame, drawn imperatively into an SVG group: a pool of <rect>/<text> elements
 * keyed by track, whose attributes are written only when they change. With 1,000 tracks moving every
 * frame, React reconciling 2,000 elements per frame was the bottleneck (~30 ms); attribute writes on the
 * visible boxes take a few. The selection's handles and a box being dragged stay in React (one track).
 */
import { visibleBoxAt } from "../editor/keyframes";
import type { Track } from "../editor/types";
import { trackColor, type TypeIndex } from "./types";

const SVG = "http://www.w3.org/2000/svg";
/** Above this many boxes on a frame only the selected box keeps its label (hundreds are unreadable anyway). */
export const LABEL_LIMIT = 200;

interface Drawn {
  group: SVGGElement;
  rect: SVGRectElement;
  text: SVGTextElement;
  attrs: Map<string, string>;
}

type PerfWindow = Window & { __foveaOverlayTimes?: number[] };

const r3 = (v: number) => String(Math.round(v * 1000) / 1000);

export interface LayerState {
  frame: number;
  tracks: readonly Track[];
  hidden: ReadonlySet<string>;
  selected: string | null;
  /** A track being dragged: React draws it, the layer leaves it out. */
  dragging: string | null;
  types: TypeIndex;
  fontSize: number;
  /** A box's label (default: the track's). */
  caption?: (track: Track) => string;
}

export class BoxLayer {
  private drawn = new Map<string, Drawn>();

  /**
   * `readOnly`: the other personas' boxes, drawn faded and dotted, never picked (no `data-track-id`, no pointer
   * events): the workspace cannot select, move or save them.
   */
  constructor(
    private readonly root: SVGSVGElement,
    private readonly group: SVGGElement,
    private readonly readOnly = false,
  ) {}

  private set(d: Drawn, el: Element, name: string, value: string): void {
    const key = el === d.rect ? name : `t:${name}`;
    if (d.attrs.get(key) === value) return;
    d.attrs.set(key, value);
    el.setAttribute(name, value);
  }

  private create(id: string): Drawn {
    const group = document.createElementNS(SVG, "g");
    const rect = document.createElementNS(SVG, "rect");
    const text = document.createElementNS(SVG, "text");
    rect.setAttribute("data-testid", this.readOnly ? "other-box" : "box");
    rect.setAttribute(this.readOnly ? "data-other-track-id" : "data-track-id", id);
    rect.setAttribute("class", this.readOnly ? "box box-other" : "box");
    rect.setAttribute("vector-effect", "non-scaling-stroke");
    text.setAttribute("class", "box-label");
    group.append(rect, text);
    const d = { group, rect, text, attrs: new Map<string, string>() };
    this.drawn.set(id, d);
    return d;
  }

  update(s: LayerState): void {
    const started = performance.now();
    const seen = new Set<string>();
    let count = 0;
    const visible: Array<{ track: Track; box: NonNullable<ReturnType<typeof visibleBoxAt>> }> = [];
    for (const track of s.tracks) {
      if (s.hidden.has(track.id)) continue;
      const box = visibleBoxAt(track, s.frame);
      if (box) visible.push({ track, box });
    }
    const labels = visible.length <= LABEL_LIMIT;
    let previous: Element | null = null;
    for (const { track, box } of visible) {
      count++;
      if (track.id === s.dragging) continue;
      seen.add(track.id);
      const d = this.drawn.get(track.id) ?? this.create(track.id);
      // Keep document order = track order (later tracks on top), moving only what is out of place.
      const expected: ChildNode | null = previous ? previous.nextSibling : this.group.firstChild;
      if (expected !== d.group) this.group.insertBefore(d.group, expected);
      previous = d.group;
      const selected = s.selected === track.id;
      const candidate = track.source === "automatic";
      const color = trackColor(track, s.types);
      const rect = d.rect;
      this.set(d, rect, "x", r3(box.x));
      this.set(d, rect, "y", r3(box.y));
      this.set(d, rect, "width", r3(box.width));
      this.set(d, rect, "height", r3(box.height));
      this.set(d, rect, "data-keyframe", box.keyframe ? "true" : "false");
      this.set(d, rect, "data-candidate", candidate ? "true" : "false");
      this.set(d, rect, "data-selected", selected ? "true" : "false");
      this.set(d, rect, "stroke", color);
      this.set(d, rect, "fill", selected ? color : "transparent");
      this.set(d, rect, "fill-opacity", selected ? "0.15" : "0");
      this.set(d, rect, "stroke-width", selected ? "3" : "2");
      // Past the last keyframe the box is only held there for continuing: shown fainter. Others' boxes fainter still.
      this.set(d, rect, "stroke-opacity", this.readOnly ? "0.7" : box.held ? "0.5" : "1");
      this.set(d, rect, "data-held", box.held ? "true" : "false");
      this.set(d, rect, "stroke-dasharray", this.readOnly ? "6 4" : candidate ? "8 5" : "none");
      const label = labels || selected
        ? `${s.caption ? s.caption(track) : track.label}${candidate && track.confidence != null ? ` ${Math.round(track.confidence * 100)}%` : ""}`
        : "";
      if (d.text.textContent !== label) d.text.textContent = label;
      if (label) {
        this.set(d, d.text, "x", r3(box.x + 2));
        this.set(d, d.text, "y", r3(Math.max(box.y - 4, s.fontSize)));
        this.set(d, d.text, "fill", color);
        this.set(d, d.text, "font-size", r3(s.fontSize));
        if (this.readOnly) this.set(d, d.text, "fill-opacity", "0.8");
      }
    }
    for (const [id, d] of this.drawn) {
      if (!seen.has(id)) {
        d.group.remove();
        this.drawn.delete(id);
      }
    }
    if (this.readOnly) {
      this.root.setAttribute("data-other-box-count", String(count));
      return;
    }
    this.root.setAttribute("data-frame", String(s.frame));
    this.root.setAttribute("data-box-count", String(count));
    (window as PerfWindow).__foveaOverlayTimes?.push(performance.now() - started);
  }
}
