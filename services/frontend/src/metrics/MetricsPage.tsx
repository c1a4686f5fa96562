/**
 * Metrics: the provisioned Grafana dashboards (configs/grafana/dashboards/*.json, the files Grafana reads
 * in registry mode) drawn from Prometheus through the frontend's read-only proxy, so they work offline.
 * The dashboard, time range and refresh interval live in the URL (`/metrics?dashboard=fovea-api&range=1h`).
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { RELATIVE_RANGES, resolveRange, stepFor, type TimeRange } from "./dashboard";
import { PanelView, ROW_HEIGHT_PX } from "./Panel";
import { loadDashboards } from "./prometheus";
import "./metrics.css";

const REFRESH_MS: Record<string, number> = { off: 0, "10s": 10_000, "30s": 30_000, "1m": 60_000, "5m": 300_000 };

/** Unix seconds now, ticking every `intervalMs` (never when 0): a relative range moves with it. */
function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000));
  useEffect(() => {
    if (!intervalMs) return;
    const timer = window.setInterval(() => setNow(Math.floor(Date.now() / 1000)), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}

function toInput(seconds: number): string {
  const date = new Date(seconds * 1000);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function fromInput(value: string): number | null {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export function MetricsPage() {
  const [params, setParams] = useSearchParams();
  const dashboards = useQuery({ queryKey: ["dashboards"], queryFn: loadDashboards, staleTime: 60_000 });
  const rangeKey = params.get("range") ?? "1h";
  const refreshKey = params.get("refresh") ?? "30s";
  const now = useNow(REFRESH_MS[refreshKey] ?? 0);
  const customFrom = fromInput(params.get("from") ?? "");
  const customTo = fromInput(params.get("to") ?? "");
  const custom: TimeRange | undefined = customFrom !== null && customTo !== null ? { start: customFrom, end: customTo } : undefined;
  const range = resolveRange(rangeKey, now, custom);
  const step = stepFor(range);

  function set(changes: Record<string, string | null>) {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    setParams(next, { replace: true });
  }

  const list = dashboards.data ?? [];
  const chosen = list.find((d) => d.uid === params.get("dashboard")) ?? list[0];

  return (
    <div className="metrics-page" data-testid="metrics-page">
      <div className="page-head">
        <h2>Metrics</h2>
        <select aria-label="Dashboard" data-testid="metrics-dashboard" value={chosen?.uid ?? ""}
                onChange={(e) => set({ dashboard: e.target.value })} disabled={!list.length}>
          {list.map((d) => <option key={d.uid} value={d.uid}>{d.title}</option>)}
        </select>
        <select aria-label="Time range" data-testid="metrics-range" value={rangeKey}
                onChange={(e) => set(e.target.value === "custom"
                  ? { range: "custom", from: toInput(range.start), to: toInput(range.end) }
                  : { range: e.target.value, from: null, to: null })}>
          {Object.keys(RELATIVE_RANGES).map((key) => <option key={key} value={key}>Last {key}</option>)}
          <option value="custom">Custom…</option>
        </select>
        {rangeKey === "custom" && (
          <>
            <input type="datetime-local" aria-label="From" data-testid="metrics-from" value={params.get("from") ?? ""}
                   onChange={(e) => set({ from: e.target.value })} />
            <input type="datetime-local" aria-label="To" data-testid="metrics-to" value={params.get("to") ?? ""}
                   onChange={(e) => set({ to: e.target.value })} />
          </>
        )}
        <select aria-label="Refresh" data-testid="metrics-refresh" value={refreshKey} onChange={(e) => set({ refresh: e.target.value })}>
          {Object.keys(REFRESH_MS).map((key) => <option key={key} value={key}>{key === "off" ? "No refresh" : `Every ${key}`}</option>)}
        </select>
        <span className="muted">step {step} s</span>
      </div>
      {dashboards.isError && <div className="error-box" role="alert">Dashboards could not be loaded: {String(dashboards.error)}</div>}
      {dashboards.isPending && <div className="page-loading">Loading dashboards…</div>}
      {dashboards.data && !chosen && <div className="empty">No dashboards in configs/grafana/dashboards.</div>}
      {chosen && (
        <div className="metrics-grid" data-testid="metrics-grid" data-dashboard={chosen.uid}
             style={{ gridAutoRows: `${ROW_HEIGHT_PX}px` }}>
          {chosen.panels.map((panel) => <PanelView key={`${chosen.uid}-${panel.id}`} panel={panel} range={range} step={step} />)}
        </div>
      )}
    </div>
  );
}
