/**
 * One dashboard panel: a uPlot time series chart (query_range), a stat (instant query), or a placeholder
 * that names a type this page does not draw. Each panel element reports what its chart holds in data
 * attributes (state, series, points) read from the chart's own data, for tests and for people.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import {
  SUPPORTED_TYPES, alignSeries, formatValue, instantValues, pointCount, unitName, type ChartData, type Panel, type TimeRange,
} from "./dashboard";
import { queryInstant, queryRange } from "./prometheus";

const PALETTE = ["#4aa3ff", "#3ecf8e", "#ffb547", "#ff5d5d", "#b48cff", "#4dd6d6", "#ff8ad8", "#c8d45a", "#ff9f5a", "#8ab4ff"];
export const ROW_HEIGHT_PX = 34;

type PanelState = "loading" | "ready" | "empty" | "error" | "unsupported";

interface PanelFrameProps {
  panel: Panel;
  state: PanelState;
  series: number;
  points: number;
  children: React.ReactNode;
}

function PanelFrame({ panel, state, series, points, children }: PanelFrameProps) {
  const { x, y, w, h } = panel.gridPos;
  return (
    <section
      className={`metrics-panel metrics-panel-${panel.type}`}
      style={{ gridColumn: `${x + 1} / span ${w}`, gridRow: `${y + 1} / span ${h}` }}
      data-testid="metrics-panel"
      data-title={panel.title}
      data-type={panel.type}
      data-state={state}
      data-series={series}
      data-points={points}
      aria-label={panel.title}
    >
      <header className="metrics-panel-head" title={panel.description}>
        <span className="metrics-panel-title">{panel.title}</span>
        <span className="metrics-panel-unit">{unitName(panel.unit)}</span>
      </header>
      <div className="metrics-panel-body">{children}</div>
    </section>
  );
}

export function PanelView({ panel, range, step }: { panel: Panel; range: TimeRange; step: number }) {
  if (panel.type === "row") return <div className="metrics-row" style={{ gridColumn: "1 / -1", gridRow: `${panel.gridPos.y + 1}` }}>{panel.title}</div>;
  if (!(SUPPORTED_TYPES as readonly string[]).includes(panel.type)) {
    return (
      <PanelFrame panel={panel} state="unsupported" series={0} points={0}>
        <div className="metrics-placeholder" data-testid="metrics-unsupported">
          Panel type “{panel.type}” is not drawn here (supported: {SUPPORTED_TYPES.join(", ")}). Its queries:
          <code>{panel.targets.map((t) => t.expr).join("\n")}</code>
        </div>
      </PanelFrame>
    );
  }
  return panel.type === "stat" ? <StatPanel panel={panel} range={range} /> : <TimeSeriesPanel panel={panel} range={range} step={step} />;
}

function StatPanel({ panel, range }: { panel: Panel; range: TimeRange }) {
  const result = useQuery({
    queryKey: ["prom-instant", panel.targets, range.end],
    queryFn: ({ signal }) => queryInstant(panel.targets, range.end, signal),
    placeholderData: keepPreviousData,
  });
  const values = result.data ? instantValues(result.data) : [];
  const points = values.filter((v) => v.value !== null).length;
  const state: PanelState = result.isError ? "error" : !result.data ? "loading" : points ? "ready" : "empty";
  return (
    <PanelFrame panel={panel} state={state} series={values.length} points={points}>
      {result.isError ? <PanelError error={result.error} /> : state === "empty" ? <NoData /> : (
        <div className={`metrics-stat ${values.length > 1 ? "many" : ""}`}>
          {values.map((v, i) => (
            <div key={`${v.label}-${i}`} className="metrics-stat-item" title={v.label}>
              <span className="metrics-stat-value" style={{ color: PALETTE[i % PALETTE.length] }}>{formatValue(v.value, panel.unit)}</span>
              {values.length > 1 && <span className="metrics-stat-label">{v.label}</span>}
            </div>
          ))}
        </div>
      )}
    </PanelFrame>
  );
}

function TimeSeriesPanel({ panel, range, step }: { panel: Panel; range: TimeRange; step: number }) {
  const result = useQuery({
    queryKey: ["prom-range", panel.targets, range.start, range.end, step],
    queryFn: ({ signal }) => queryRange(panel.targets, range, step, signal),
    placeholderData: keepPreviousData,
  });
  const [drawn, setDrawn] = useState({ series: 0, points: 0 });
  const data = useMemo(() => (result.data ? alignSeries(result.data) : null), [result.data]);
  const empty = data !== null && data.series.length === 0;
  const state: PanelState = result.isError ? "error" : empty ? "empty" : data && drawn.series ? "ready" : "loading";
  return (
    <PanelFrame panel={panel} state={state} series={empty ? 0 : drawn.series} points={empty ? 0 : drawn.points}>
      {result.isError ? <PanelError error={result.error} /> : empty ? <NoData /> :
        data && <Chart data={data} range={range} unit={panel.unit} onDrawn={setDrawn} />}
    </PanelFrame>
  );
}

interface ChartProps {
  data: ChartData;
  range: TimeRange;
  unit: string;
  onDrawn: (drawn: { series: number; points: number }) => void;
}

function Chart({ data, range, unit, onDrawn }: ChartProps) {
  const holder = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const format = (value: number | null) => formatValue(value, unit);
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 100),
      height: Math.max(element.clientHeight - 28, 60),
      // The x axis is the chosen range, even while a young stack has only a few samples in it.
      scales: { x: { time: true, range: () => [range.start, range.end] } },
      series: [
        {},
        ...data.series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          value: (_: uPlot, v: number | null) => format(v),
          points: { show: data.times.length < 40 },
        })),
      ],
      axes: [
        { stroke: "#8b93a3", grid: { stroke: "#2a303b" }, ticks: { stroke: "#2a303b" } },
        { stroke: "#8b93a3", grid: { stroke: "#2a303b" }, ticks: { stroke: "#2a303b" },
          values: (_: uPlot, splits: number[]) => splits.map((v) => format(v)),
          // Wide enough for the longest label ("0.06 req/s"), at about 7 px a character.
          size: (_: uPlot, values: string[] | null) => 18 + 7 * Math.max(4, ...(values ?? []).map((v) => v.length)) },
      ],
      legend: { show: true, live: true },
    };
    const aligned: uPlot.AlignedData = [data.times, ...data.series.map((s) => s.values)];
    const plot = new uPlot(options, aligned, element);
    // What the chart itself holds, not what was asked for.
    const columns = plot.data.slice(1) as Array<Array<number | null | undefined>>;
    onDrawn({ series: columns.length, points: pointCount(columns.map((c) => ({ values: c.map((v) => v ?? null) }))) });
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 100), height: Math.max(element.clientHeight - 28, 60) }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data, range.start, range.end, unit, onDrawn]);

  return <div className="metrics-chart" ref={holder} />;
}

function NoData() {
  return <div className="metrics-placeholder" data-testid="metrics-no-data">No data in this time range.</div>;
}

function PanelError({ error }: { error: unknown }) {
  return <div className="metrics-placeholder error-text" role="alert">{error instanceof Error ? error.message : String(error)}</div>;
}
