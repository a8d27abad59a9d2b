// Prometheus alerting rules derived from the performance benchmarks: crossing
// the spec's "Acceptable" bound is a warning, crossing "Action Required" is
// critical. Thresholds come from the benchmark data, never retyped here.
import { stringify } from "yaml";
import { PERFORMANCE_BENCHMARKS, formatBound, worseThan, type PerformanceBenchmark } from "../domain/benchmarks";

export type AlertSeverity = "warning" | "critical";

/** One Prometheus alerting rule; each rule group adds its own labels next to the severity. */
export interface AlertRule<Labels extends object> {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: AlertSeverity } & Labels;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook: string };
}

export type PrometheusAlertRule = AlertRule<{ readonly benchmark: string }>;

export interface PrometheusRuleGroup {
  readonly name: string;
  readonly rules: readonly PrometheusAlertRule[];
}

export interface PrometheusRuleFile {
  readonly groups: readonly PrometheusRuleGroup[];
}

export const ALERT_RULE_GROUP = "medianest-performance";

/** Warnings wait out short spikes; critical pages sooner. */
const FOR_DURATION: Readonly<Record<AlertSeverity, string>> = { warning: "5m", critical: "2m" };

/** Where to look first, per benchmark id; unknown ids get the generic hint. */
const RUNBOOK_HINTS: Readonly<Record<string, string>> = {
  ApiResponseTime: "Check backend task health and replica count, slow endpoints (traefik_router_request_duration_seconds by code and method), and PostgreSQL/Redis latency (MediaNest dashboard in Grafana).",
  PageLoadTime: "Server-side figure only: check API latency first, then frontend task CPU/memory and asset delivery through the edge.",
  FileUploadSpeed: "Server-side figure only: check network throughput between the edge and the backend, and the backend's handling of large request bodies.",
  SearchResponse: "Check PostgreSQL slow queries and index use, and Redis cache hit rate.",
  CpuUtilization: "Find the busiest tasks on the node (cAdvisor); scale the service out or move workers to processing nodes.",
  MemoryUsage: "Find the largest tasks on the node (cAdvisor); check service memory limits and for leaks before the OOM killer acts.",
  DiskIoWait: "Check which volume is saturated (node_disk_* metrics); PostgreSQL and MinIO belong on SSD-labelled nodes.",
};
const DEFAULT_RUNBOOK = "Open the MediaNest dashboard in Grafana and compare with the spec's Performance Benchmarks table.";

/** The opposite of "worse than": how the spec phrases target and acceptable bounds. */
const betterThan = (benchmark: PerformanceBenchmark): ">" | "<" => (worseThan(benchmark) === ">" ? "<" : ">");

function rule(benchmark: PerformanceBenchmark, severity: AlertSeverity): PrometheusAlertRule {
  const { id, metric, unit, expr } = benchmark;
  const threshold = severity === "warning" ? benchmark.acceptable : benchmark.actionRequired;
  const worse = worseThan(benchmark);
  const measured = `{{ $value | printf "%.1f" }}${unit === "%" ? "%" : ` ${unit}`}`;
  // Per-node benchmarks carry an instance label; fleet-wide ones do not.
  const where = "{{ with $labels.instance }} on {{ . }}{{ end }}";
  const bound = severity === "warning" ? "the acceptable bound" : "the action-required bound";
  const { measures, proxy } = benchmark.source;
  return {
    alert: `${id}${severity === "warning" ? "Warning" : "Critical"}`,
    expr: `(${expr}) ${worse} ${threshold}`,
    for: FOR_DURATION[severity],
    labels: { severity, benchmark: id },
    annotations: {
      summary: `${metric}${proxy === undefined ? "" : " (server-side proxy)"} is ${measured}${where} (threshold ${formatBound(worse, threshold, unit)})`,
      description:
        `${benchmark.description} is ${measured}${where}, past ${bound} (${formatBound(worse, threshold, unit)}). ` +
        `Spec: target ${formatBound(betterThan(benchmark), benchmark.target, unit)}, ` +
        `acceptable ${formatBound(betterThan(benchmark), benchmark.acceptable, unit)}, ` +
        `action required ${formatBound(worse, benchmark.actionRequired, unit)}. ` +
        `Measured: ${measures}.${proxy === undefined ? "" : ` ${proxy}`}`,
      runbook: RUNBOOK_HINTS[id] ?? DEFAULT_RUNBOOK,
    },
  };
}

/** Two rules per benchmark: `<id>Warning` past "Acceptable", `<id>Critical` past "Action Required". */
export function alertRules(benchmarks: readonly PerformanceBenchmark[] = PERFORMANCE_BENCHMARKS): PrometheusRuleFile {
  const ids = new Set<string>();
  for (const { id } of benchmarks) {
    // Duplicate ids would produce duplicate alert names that inhibit each other.
    if (ids.has(id)) throw new Error(`duplicate benchmark id "${id}"`);
    ids.add(id);
  }
  return {
    groups: [{ name: ALERT_RULE_GROUP, rules: benchmarks.flatMap((b) => [rule(b, "warning"), rule(b, "critical")]) }],
  };
}

/** The rules as a Prometheus rule file (YAML). */
export function alertRulesYaml(benchmarks: readonly PerformanceBenchmark[] = PERFORMANCE_BENCHMARKS): string {
  // lineWidth 0: PromQL and templates stay on one line, as they are in the data.
  return `# Generated from domain/benchmarks.ts by topology/alert-rules.ts; do not edit.\n${stringify(alertRules(benchmarks), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
