/**
 * The read-only Prometheus API behind the frontend's nginx (`/prometheus/api/v1/...`, session required)
 * and the dashboard files it serves (`/dashboards/`). Requests go through the app's API client, so a
 * lost session sends the user to login like everywhere else.
 */
import { getJson } from "../api/client";
import { parseDashboard, type Dashboard, type PanelTarget, type PromSeries, type TimeRange } from "./dashboard";

interface PromResponse {
  status: "success" | "error";
  data?: { resultType: string; result: PromSeries[] };
  error?: string;
}

async function prom(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<PromSeries[]> {
  const body = await getJson<PromResponse>(`/prometheus/api/v1/${path}?${new URLSearchParams(params)}`, { signal });
  if (body.status !== "success" || !body.data) throw new Error(body.error ?? "Prometheus answered without data");
  return body.data.result;
}

export interface TargetResult {
  target: PanelTarget;
  series: PromSeries[];
}

export function queryRange(targets: PanelTarget[], range: TimeRange, step: number, signal?: AbortSignal): Promise<TargetResult[]> {
  return Promise.all(targets.map(async (target) => ({
    target,
    series: await prom("query_range", { query: target.expr, start: String(range.start), end: String(range.end), step: String(step) }, signal),
  })));
}

export function queryInstant(targets: PanelTarget[], time: number, signal?: AbortSignal): Promise<TargetResult[]> {
  return Promise.all(targets.map(async (target) => ({
    target,
    series: await prom("query", { query: target.expr, time: String(time) }, signal),
  })));
}

interface IndexEntry {
  name: string;
  type: string;
}

/** Every dashboard file nginx lists (its JSON autoindex of configs/grafana/dashboards), by title. */
export async function loadDashboards(): Promise<Dashboard[]> {
  const entries = await getJson<IndexEntry[]>("/dashboards/");
  const files = entries.filter((e) => e.type === "file" && e.name.endsWith(".json")).map((e) => e.name);
  const dashboards = await Promise.all(files.map(async (file) => parseDashboard(file, await getJson<unknown>(`/dashboards/${encodeURIComponent(file)}`))));
  return dashboards.sort((a, b) => a.title.localeCompare(b.title));
}
