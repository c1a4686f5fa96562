/**
 * The Grafana dashboard JSON of configs/grafana/dashboards/ (the one source Grafana provisions too), read
 * into what the Metrics page draws, and the pure helpers it needs: legends, units, time ranges, steps,
 * and Prometheus results turned into uPlot's aligned columns. No DOM, no React.
 */

export interface PanelTarget {
  refId?: string;
  expr: string;
  legendFormat?: string;
}

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  unit: string;
  targets: PanelTarget[];
  gridPos: GridPos;
}

export interface Dashboard {
  uid: string;
  title: string;
  file: string;
  panels: Panel[];
}

/** The panel types drawn here; any other type gets a placeholder that says so. */
export const SUPPORTED_TYPES = ["timeseries", "stat"] as const;

interface RawPanel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  targets?: Array<{ refId?: string; expr?: string; legendFormat?: string }>;
  gridPos?: Partial<GridPos>;
  fieldConfig?: { defaults?: { unit?: string } };
  panels?: RawPanel[];
}

export function parseDashboard(file: string, raw: unknown): Dashboard {
  const body = raw as { uid?: string; title?: string; panels?: RawPanel[] };
  if (!body || typeof body !== "object" || !Array.isArray(body.panels)) {
    throw new Error(`${file}: not a Grafana dashboard (no "panels" list)`);
  }
  // Collapsed rows keep their panels inside; the page shows them all.
  const flat = body.panels.flatMap((p) => (p.type === "row" && Array.isArray(p.panels) ? [p, ...p.panels] : [p]));
  const panels = flat.map((p, index): Panel => ({
    id: p.id ?? index,
    type: p.type ?? "unknown",
    title: p.title ?? "",
    description: p.description,
    unit: p.fieldConfig?.defaults?.unit ?? "short",
    targets: (p.targets ?? []).filter((t) => typeof t.expr === "string" && t.expr.trim() !== "")
      .map((t) => ({ refId: t.refId, expr: t.expr as string, legendFormat: t.legendFormat })),
    gridPos: { x: p.gridPos?.x ?? 0, y: p.gridPos?.y ?? index * 8, w: p.gridPos?.w ?? 12, h: p.gridPos?.h ?? 8 },
  }));
  return { uid: body.uid ?? file, title: body.title ?? file, file, panels: compactUpwards(panels) };
}

/** Grafana's grid gravity: each panel rises until it meets one above it, so no row is left empty. */
export function compactUpwards(panels: Panel[]): Panel[] {
  const placed: Panel[] = [];
  const order = [...panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  for (const panel of order) {
    const { x, w } = panel.gridPos;
    const floor = placed
      .filter((p) => p.gridPos.x < x + w && x < p.gridPos.x + p.gridPos.w)
      .reduce((bottom, p) => Math.max(bottom, p.gridPos.y + p.gridPos.h), 0);
    placed.push({ ...panel, gridPos: { ...panel.gridPos, y: Math.min(panel.gridPos.y, floor) } });
  }
  return panels.map((panel) => placed.find((p) => p.id === panel.id && p.title === panel.title) ?? panel);
}

/** Grafana's legend template: `{{route}}` becomes the series' `route` label. */
export function legendOf(format: string | undefined, metric: Record<string, string>): string {
  if (format && format !== "__auto") {
    return format.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name: string) => metric[name] ?? "");
  }
  const { __name__: name, ...labels } = metric;
  const inner = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(", ");
  return inner ? `${name ?? ""}{${inner}}` : name ?? "value";
}

const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]] as const;

function short(value: number): string {
  const magnitude = Math.abs(value);
  for (const [size, suffix] of SI) {
    if (magnitude >= size) return `${trim(value / size)}${suffix}`;
  }
  return trim(value);
}

function trim(value: number): string {
  const magnitude = Math.abs(value);
  const digits = magnitude === 0 || magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return Number(value.toFixed(digits)).toString();
}

function seconds(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude === 0) return "0 s";
  if (magnitude < 1e-3) return `${trim(value * 1e6)} µs`;
  if (magnitude < 1) return `${trim(value * 1e3)} ms`;
  if (magnitude < 120) return `${trim(value)} s`;
  if (magnitude < 7200) return `${trim(value / 60)} min`;
  return `${trim(value / 3600)} h`;
}

function bytes(value: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let scaled = value;
  let index = 0;
  while (Math.abs(scaled) >= 1024 && index < units.length - 1) {
    scaled /= 1024;
    index += 1;
  }
  return `${trim(scaled)} ${units[index]}`;
}

const UNIT_NAMES: Record<string, string> = {
  s: "seconds", ms: "milliseconds", percentunit: "%", percent: "%", reqps: "requests / s", ops: "operations / s", bytes: "bytes",
};

/** The unit as a person reads it in a panel's header ("" for plain counts). */
export function unitName(unit: string): string {
  return UNIT_NAMES[unit] ?? (unit === "short" || unit === "none" ? "" : unit);
}

/** A value in the panel's Grafana unit (the ids the dashboards use; others fall back to plain numbers). */
export function formatValue(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  switch (unit) {
    case "s":
      return seconds(value);
    case "ms":
      return seconds(value / 1e3);
    case "percentunit":
      return `${trim(value * 100)}%`;
    case "percent":
      return `${trim(value)}%`;
    case "reqps":
      return `${short(value)} req/s`;
    case "ops":
      return `${short(value)} ops/s`;
    case "bytes":
      return bytes(value);
    default:
      return short(value);
  }
}

export interface TimeRange {
  /** unix seconds */
  start: number;
  end: number;
}

export const RELATIVE_RANGES: Record<string, number> = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400 };

/** "1h" → the last hour ending now; "custom" uses the given span. */
export function resolveRange(key: string, nowSeconds: number, custom?: TimeRange): TimeRange {
  const span = RELATIVE_RANGES[key];
  if (span !== undefined) return { start: nowSeconds - span, end: nowSeconds };
  if (custom && custom.end > custom.start) return custom;
  return { start: nowSeconds - RELATIVE_RANGES["1h"], end: nowSeconds };
}

/** About 300 points per series, never finer than Prometheus' 15 s evaluation grid. */
export function stepFor(range: TimeRange): number {
  return Math.max(15, Math.ceil((range.end - range.start) / 300));
}

export interface PromSeries {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
  value?: [number, string];
}

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
}

export interface ChartData {
  /** unix seconds, ascending */
  times: number[];
  series: ChartSeries[];
}

function sample(raw: string): number | null {
  const value = Number(raw);
  return Number.isFinite(value) ? value : null; // NaN and ±Inf are gaps, not points
}

/** Range results of every target of a panel, aligned on one time axis (uPlot's column layout). */
export function alignSeries(results: Array<{ target: PanelTarget; series: PromSeries[] }>): ChartData {
  const times = new Set<number>();
  for (const { series } of results) for (const s of series) for (const [t] of s.values ?? []) times.add(t);
  const axis = [...times].sort((a, b) => a - b);
  const index = new Map(axis.map((t, i) => [t, i]));
  const series: ChartSeries[] = [];
  for (const { target, series: found } of results) {
    for (const s of found) {
      const values: Array<number | null> = new Array(axis.length).fill(null);
      for (const [t, raw] of s.values ?? []) values[index.get(t)!] = sample(raw);
      series.push({ label: legendOf(target.legendFormat, s.metric), values });
    }
  }
  return { times: axis, series };
}

/** Instant results (stat panels): one value per series. */
export function instantValues(results: Array<{ target: PanelTarget; series: PromSeries[] }>): Array<{ label: string; value: number | null }> {
  return results.flatMap(({ target, series }) =>
    series.map((s) => ({ label: legendOf(target.legendFormat, s.metric), value: s.value ? sample(s.value[1]) : null })));
}

/** How many real (finite) points a chart holds: what the page reports for tests and people. */
export function pointCount(series: Array<{ values: Array<number | null> }>): number {
  return series.reduce((sum, s) => sum + s.values.filter((v) => v !== null).length, 0);
}
