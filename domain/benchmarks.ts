// The spec's "Performance Benchmarks" table, as data. Alert rules, the Grafana
// dashboard and anything else that judges performance read the thresholds from
// here; the table is written down nowhere else in the program.
//
// Metrics the application must expose (Prometheus text format, scraped from
// its /metrics endpoint) for the app rows to have data:
//   - http_request_duration_seconds_bucket   histogram, backend (job "medianest-backend")
//   - medianest_page_load_seconds_bucket     histogram of real-user page loads (frontend beacons)
//   - medianest_upload_bytes_total           counter, bytes received by completed uploads
//   - medianest_upload_duration_seconds_total counter, seconds spent receiving those uploads
//   - medianest_search_duration_seconds_bucket histogram, search request latency
// CPU, memory and I/O wait come from node-exporter (node_cpu_seconds_total,
// node_memory_MemAvailable_bytes, node_memory_MemTotal_bytes). A missing metric
// means no data, which never fires an alert: the "Services up" panel and
// `up == 0` are how a silent exporter gets noticed.

export type BenchmarkDirection = "above-is-bad" | "below-is-bad";

export interface PerformanceBenchmark {
  /** PascalCase, used in alert names ("ApiResponseTimeWarning"). */
  readonly id: string;
  /** The spec's row name. */
  readonly metric: string;
  /** "ms" | "s" | "MB/s" | "%". */
  readonly unit: string;
  /** The spec's "Target" column. */
  readonly target: number;
  /** The spec's "Acceptable" column: crossing it is a warning. */
  readonly acceptable: number;
  /** The spec's "Action Required" column: crossing it is critical. */
  readonly actionRequired: number;
  readonly direction: BenchmarkDirection;
  /** PromQL giving the measured value in `unit`. */
  readonly expr: string;
  readonly description: string;
}

/** p95 over 5 minutes of a seconds histogram, across all instances (what users experience), scaled to the wanted unit. */
const p95 = (bucket: string, scale: number): string => {
  const quantile = `histogram_quantile(0.95, sum by (le) (rate(${bucket}[5m])))`;
  return scale === 1 ? quantile : `${quantile} * ${scale}`;
};

export const PERFORMANCE_BENCHMARKS: readonly PerformanceBenchmark[] = [
  {
    id: "ApiResponseTime",
    metric: "API Response Time",
    unit: "ms",
    target: 100,
    acceptable: 200,
    actionRequired: 500,
    direction: "above-is-bad",
    expr: p95('http_request_duration_seconds_bucket{job="medianest-backend"}', 1000),
    description: "95th percentile latency of backend API requests",
  },
  {
    id: "PageLoadTime",
    metric: "Page Load Time",
    unit: "s",
    target: 2,
    acceptable: 3,
    actionRequired: 5,
    direction: "above-is-bad",
    // No job selector: whichever service receives the browsers' timing beacons exposes it.
    expr: p95("medianest_page_load_seconds_bucket", 1),
    description: "95th percentile page load time reported by browsers",
  },
  {
    id: "FileUploadSpeed",
    metric: "File Upload Speed",
    unit: "MB/s",
    target: 50,
    acceptable: 25,
    actionRequired: 10,
    direction: "below-is-bad",
    // Bytes per second spent receiving, not per wall-clock second: idle periods
    // would otherwise read as slow uploads. The `> 0` filter turns "no uploads in
    // the window" into no data (no alert) instead of a division by zero.
    expr:
      "(sum by (job) (rate(medianest_upload_bytes_total[5m])) / 1e6)" +
      " / (sum by (job) (rate(medianest_upload_duration_seconds_total[5m])) > 0)",
    description: "Average throughput of file uploads while they are being received (SI megabytes per second)",
  },
  {
    id: "SearchResponse",
    metric: "Search Response",
    unit: "ms",
    target: 50,
    acceptable: 100,
    actionRequired: 200,
    direction: "above-is-bad",
    expr: p95("medianest_search_duration_seconds_bucket", 1000),
    description: "95th percentile latency of search requests",
  },
  {
    id: "CpuUtilization",
    metric: "CPU Utilization",
    unit: "%",
    target: 70,
    acceptable: 85,
    actionRequired: 90,
    direction: "above-is-bad",
    // Per node: one saturated host is the problem, a cluster average would hide it.
    expr: '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))',
    description: "Share of CPU time not idle, per node",
  },
  {
    id: "MemoryUsage",
    metric: "Memory Usage",
    unit: "%",
    target: 80,
    acceptable: 90,
    actionRequired: 95,
    direction: "above-is-bad",
    // MemAvailable, not MemFree: page cache is reclaimable and is not pressure.
    expr: "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    description: "Share of memory not available to new work, per node",
  },
  {
    id: "DiskIoWait",
    metric: "Disk I/O Wait",
    unit: "%",
    target: 10,
    acceptable: 20,
    actionRequired: 30,
    direction: "above-is-bad",
    expr: '100 * avg by (instance) (rate(node_cpu_seconds_total{mode="iowait"}[5m]))',
    description: "Share of CPU time spent waiting for disk I/O, per node",
  },
];

/** The comparison that means "worse than `threshold`" for a benchmark. */
export const worseThan = (benchmark: PerformanceBenchmark): ">" | "<" => (benchmark.direction === "above-is-bad" ? ">" : "<");

/** "< 100 ms" / "> 50 MB/s": how the spec phrases a bound. */
export const formatBound = (comparison: ">" | "<", value: number, unit: string): string =>
  `${comparison} ${value}${unit === "%" ? "%" : ` ${unit}`}`;
