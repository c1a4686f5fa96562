import { describe, expect, it } from "vitest";
import {
  SUPPORTED_TYPES, alignSeries, compactUpwards, formatValue, instantValues, legendOf, parseDashboard, pointCount, resolveRange, stepFor, unitName,
} from "./dashboard";

// The files Grafana provisions and nginx serves to the page, read at test time by Vite's glob.
const DASHBOARDS = import.meta.glob("../../../../configs/grafana/dashboards/*.json", { eager: true, import: "default" });

describe("the provisioned dashboards", () => {
  it("are all found, and every panel has a drawable type and a query", () => {
    expect(Object.keys(DASHBOARDS).length).toBeGreaterThanOrEqual(4);
    for (const [file, raw] of Object.entries(DASHBOARDS)) {
      const dashboard = parseDashboard(file, raw);
      expect(dashboard.panels.length).toBeGreaterThan(0);
      for (const panel of dashboard.panels) {
        expect(SUPPORTED_TYPES as readonly string[], `${file}: ${panel.title}`).toContain(panel.type);
        expect(panel.targets.length, `${file}: ${panel.title}`).toBeGreaterThan(0);
        expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      }
    }
  });
});

describe("parseDashboard", () => {
  it("rejects what is not a dashboard, naming the file", () => {
    expect(() => parseDashboard("x.json", { title: "no panels" })).toThrow(/x.json/);
  });

  it("keeps an unknown panel type as it is (the page shows a placeholder) and flattens collapsed rows", () => {
    const parsed = parseDashboard("d.json", {
      uid: "d", title: "D",
      panels: [{ type: "row", title: "r", panels: [{ type: "heatmap", title: "h", targets: [{ expr: "up" }] }] }],
    });
    expect(parsed.panels.map((p) => p.type)).toEqual(["row", "heatmap"]);
    expect(parsed.panels[1].unit).toBe("short");
  });
});

describe("compactUpwards", () => {
  it("lifts a panel into the empty rows above it, and no further than a panel it would overlap", () => {
    const panel = (id: number, x: number, y: number, w: number, h: number) =>
      ({ id, type: "stat", title: `p${id}`, unit: "short", targets: [], gridPos: { x, y, w, h } });
    const compacted = compactUpwards([panel(1, 0, 0, 6, 4), panel(2, 12, 0, 12, 8), panel(3, 0, 8, 12, 8), panel(4, 12, 8, 12, 8)]);
    expect(compacted.map((p) => p.gridPos.y)).toEqual([0, 0, 4, 8]);
  });
});

describe("legendOf", () => {
  it("fills Grafana's {{label}} template and falls back to the series selector", () => {
    expect(legendOf("{{method}} {{route}}", { method: "GET", route: "/api/videos" })).toBe("GET /api/videos");
    expect(legendOf("{{missing}}x", {})).toBe("x");
    expect(legendOf(undefined, { __name__: "up", job: "prometheus" })).toBe('up{job="prometheus"}');
  });
});

describe("formatValue", () => {
  it("speaks the dashboards' units", () => {
    expect(formatValue(0.0042, "s")).toBe("4.2 ms");
    expect(formatValue(0.25, "percentunit")).toBe("25%");
    expect(formatValue(1500, "reqps")).toBe("1.5k req/s");
    expect(formatValue(3, "ops")).toBe("3 ops/s");
    expect(formatValue(2048, "bytes")).toBe("2 KiB");
    expect(formatValue(123456, "short")).toBe("123k");
    expect(formatValue(Number.NaN, "s")).toBe("–");
    expect(unitName("percentunit")).toBe("%");
    expect(unitName("short")).toBe("");
  });
});

describe("time ranges", () => {
  it("resolves relative ranges against now, keeps a valid custom span, and steps by about 300 points", () => {
    expect(resolveRange("15m", 10_000)).toEqual({ start: 9_100, end: 10_000 });
    expect(resolveRange("custom", 10_000, { start: 1, end: 5 })).toEqual({ start: 1, end: 5 });
    expect(resolveRange("custom", 10_000, { start: 5, end: 1 })).toEqual({ start: 6_400, end: 10_000 });
    expect(stepFor({ start: 0, end: 900 })).toBe(15);
    expect(stepFor({ start: 0, end: 86_400 })).toBe(288);
  });
});

describe("alignSeries", () => {
  it("puts every target's series on one time axis, with NaN as a gap", () => {
    const data = alignSeries([
      { target: { expr: "a", legendFormat: "{{q}}" }, series: [{ metric: { q: "x" }, values: [[10, "1"], [25, "NaN"]] }] },
      { target: { expr: "b", legendFormat: "b" }, series: [{ metric: {}, values: [[25, "2"], [40, "3"]] }] },
    ]);
    expect(data.times).toEqual([10, 25, 40]);
    expect(data.series).toEqual([{ label: "x", values: [1, null, null] }, { label: "b", values: [null, 2, 3] }]);
    expect(pointCount(data.series)).toBe(3);
  });

  it("reads instant values for stat panels", () => {
    expect(instantValues([{ target: { expr: "up", legendFormat: "{{job}}" }, series: [{ metric: { job: "p" }, value: [1, "1"] }] }]))
      .toEqual([{ label: "p", value: 1 }]);
  });
});
