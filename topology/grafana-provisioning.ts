// Grafana provisioning files: the Prometheus datasource, a dashboard provider
// and the MediaNest dashboard, one panel per performance benchmark with the
// spec's thresholds drawn in. Provisioned read-only: the program is the source
// of truth, edits in the UI would be lost on the next deploy anyway.
import { stringify } from "yaml";
import { PERFORMANCE_BENCHMARKS, formatBound, worseThan, type PerformanceBenchmark } from "../domain/benchmarks";

/** Fixed uid so dashboards (ours and imported ones) can reference the datasource. */
export const PROMETHEUS_DATASOURCE = { type: "prometheus", uid: "prometheus" } as const;
export const DASHBOARD_UID = "medianest-overview";

export function grafanaDatasourcesYaml(prometheusUrl: string): string {
  return stringify({
    apiVersion: 1,
    datasources: [
      {
        name: "Prometheus",
        type: PROMETHEUS_DATASOURCE.type,
        uid: PROMETHEUS_DATASOURCE.uid,
        // proxy: Grafana's server queries Prometheus over the overlay network; browsers never reach it.
        access: "proxy",
        url: prometheusUrl,
        isDefault: true,
        editable: false,
      },
    ],
  });
}

export function grafanaDashboardProvidersYaml(dashboardsDir: string): string {
  return stringify({
    apiVersion: 1,
    providers: [
      {
        name: "medianest",
        orgId: 1,
        folder: "MediaNest",
        type: "file",
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path: dashboardsDir, foldersFromFilesStructure: false },
      },
    ],
  });
}

/** Benchmark units → Grafana unit ids ("MBs" is SI megabytes per second, like the spec). */
const GRAFANA_UNITS: Readonly<Record<string, string>> = { ms: "ms", s: "s", "MB/s": "MBs", "%": "percent" };

export interface ThresholdStep {
  readonly color: "green" | "yellow" | "red";
  /** null: the base step, below the first threshold. */
  readonly value: number | null;
}

export interface GridPos {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

interface PanelTarget {
  readonly refId: string;
  readonly datasource: typeof PROMETHEUS_DATASOURCE;
  readonly expr: string;
  readonly legendFormat: string;
}

export interface DashboardPanel {
  readonly id: number;
  readonly type: "timeseries" | "stat";
  readonly title: string;
  readonly description: string;
  readonly datasource: typeof PROMETHEUS_DATASOURCE;
  readonly gridPos: GridPos;
  readonly targets: readonly PanelTarget[];
  readonly fieldConfig: {
    readonly defaults: {
      readonly unit: string;
      readonly thresholds: { readonly mode: "absolute"; readonly steps: readonly ThresholdStep[] };
      readonly color: { readonly mode: string };
      readonly custom?: Readonly<Record<string, unknown>>;
    };
    readonly overrides: readonly unknown[];
  };
  readonly options: Readonly<Record<string, unknown>>;
}

const GRID_WIDTH = 24;
const UP_PANEL_HEIGHT = 4;
const BENCHMARK_PANEL = { w: 12, h: 8 } as const;

/**
 * Grafana wants threshold steps ascending. Above-is-bad: green, yellow past
 * "Acceptable", red past "Action Required". Below-is-bad (upload speed) is the
 * mirror image: red up to "Action Required", yellow up to "Acceptable", then green.
 */
export function thresholdSteps(benchmark: PerformanceBenchmark): ThresholdStep[] {
  return benchmark.direction === "above-is-bad"
    ? [
        { color: "green", value: null },
        { color: "yellow", value: benchmark.acceptable },
        { color: "red", value: benchmark.actionRequired },
      ]
    : [
        { color: "red", value: null },
        { color: "yellow", value: benchmark.actionRequired },
        { color: "green", value: benchmark.acceptable },
      ];
}

function grafanaUnit(benchmark: PerformanceBenchmark): string {
  const unit = GRAFANA_UNITS[benchmark.unit];
  if (unit === undefined) throw new Error(`benchmark ${benchmark.id}: no Grafana unit for "${benchmark.unit}"`);
  return unit;
}

function upPanel(): DashboardPanel {
  return {
    id: 1,
    type: "stat",
    title: "Services up",
    description: "Scrape targets answering, per job (Swarm tasks found through tasks.<service> DNS).",
    datasource: PROMETHEUS_DATASOURCE,
    gridPos: { x: 0, y: 0, w: GRID_WIDTH, h: UP_PANEL_HEIGHT },
    targets: [{ refId: "A", datasource: PROMETHEUS_DATASOURCE, expr: "sum by (job) (up)", legendFormat: "{{job}}" }],
    fieldConfig: {
      defaults: {
        unit: "none",
        // Zero tasks answering is red; any answering task is green.
        thresholds: { mode: "absolute", steps: [{ color: "red", value: null }, { color: "green", value: 1 }] },
        color: { mode: "thresholds" },
      },
      overrides: [],
    },
    options: {
      reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
      colorMode: "background",
      graphMode: "none",
      textMode: "value_and_name",
      orientation: "auto",
    },
  };
}

function benchmarkPanel(benchmark: PerformanceBenchmark, index: number): DashboardPanel {
  const worse = worseThan(benchmark);
  const better = worse === ">" ? "<" : ">";
  const { unit } = benchmark;
  return {
    id: index + 2,
    type: "timeseries",
    title: benchmark.source.proxy === undefined ? benchmark.metric : `${benchmark.metric} (server-side proxy)`,
    description:
      `${benchmark.description}. Spec: target ${formatBound(better, benchmark.target, unit)}, ` +
      `acceptable ${formatBound(better, benchmark.acceptable, unit)}, action required ${formatBound(worse, benchmark.actionRequired, unit)}. ` +
      `Measured: ${benchmark.source.measures}.${benchmark.source.proxy === undefined ? "" : ` ${benchmark.source.proxy}`}`,
    datasource: PROMETHEUS_DATASOURCE,
    // Two panels per row under the full-width "Services up" strip.
    gridPos: {
      x: (index % 2) * BENCHMARK_PANEL.w,
      y: UP_PANEL_HEIGHT + Math.floor(index / 2) * BENCHMARK_PANEL.h,
      w: BENCHMARK_PANEL.w,
      h: BENCHMARK_PANEL.h,
    },
    targets: [{ refId: "A", datasource: PROMETHEUS_DATASOURCE, expr: benchmark.expr, legendFormat: "__auto" }],
    fieldConfig: {
      defaults: {
        unit: grafanaUnit(benchmark),
        thresholds: { mode: "absolute", steps: thresholdSteps(benchmark) },
        color: { mode: "palette-classic" },
        // Draw the bounds on the graph, not just in the legend colours.
        custom: { thresholdsStyle: { mode: "line+area" }, fillOpacity: 0, lineWidth: 1, spanNulls: false },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: "list", placement: "bottom", showLegend: true },
      tooltip: { mode: "multi", sort: "desc" },
    },
  };
}

/** The MediaNest overview dashboard as Grafana JSON, for the file provider's directory. */
export function medianestDashboardJson(benchmarks: readonly PerformanceBenchmark[] = PERFORMANCE_BENCHMARKS): string {
  const dashboard = {
    // null id: Grafana assigns its own; the uid is what links and provisioning use.
    id: null,
    uid: DASHBOARD_UID,
    title: "MediaNest",
    tags: ["medianest"],
    timezone: "browser",
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    annotations: { list: [] },
    templating: { list: [] },
    links: [],
    panels: [upPanel(), ...benchmarks.map(benchmarkPanel)],
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
