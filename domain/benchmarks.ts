// The spec's "Performance Benchmarks" table, as data. Alert rules, the Grafana
// dashboard and anything else that judges performance read the thresholds from
// here; the table is written down nowhere else in the program.
//
// Each row names where its series come from. The app itself reports no request latency
// (its request histogram is declared but never observed: domain/app-contract.ts
// BACKEND_METRICS), so the request rows read the edge: Traefik's per-router histograms
// (traefik_router_request_duration_seconds, labels router/service/code/method/protocol),
// with a router of its own where a row needs one (search, Socket.IO kept out of the API's).
// Two rows have no real source and say so: browsers report no page-load time to anything
// the stack runs, and upstream MediaNest has no upload endpoint; each uses the closest
// server-side figure, named as a proxy in its alert and panel. CPU, memory and I/O wait
// come from node-exporter. A missing metric means no data, which never fires an alert:
// the availability rules (scrape targets down, tasks missing) are how silence is noticed.

/** Traefik's routers the benchmarks measure (the edge's labels use these names; the Swarm provider qualifies them as "<name>@swarm"). */
export const EDGE_ROUTERS = { api: "api", search: "api-search", socketIo: "api-socketio", frontend: "frontend" } as const;
export const swarmRouter = (name: string): string => `${name}@swarm`;

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
  readonly source: {
    /** The scrape job whose series the expression reads. */
    readonly job: "traefik" | "node-exporter";
    /** What is measured, in words (annotations, panel, README). */
    readonly measures: string;
    /** Set when nothing in the stack measures what the spec's row means: why, and how the proxy differs. */
    readonly proxy?: string;
  };
}

/** p95 over 5 minutes of a seconds histogram, across all instances (what users experience), scaled to the wanted unit. */
const p95 = (bucket: string, scale: number): string => {
  const quantile = `histogram_quantile(0.95, sum by (le) (rate(${bucket}[5m])))`;
  return scale === 1 ? quantile : `${quantile} * ${scale}`;
};

/** A Traefik router's series, HTTP requests only (websocket upgrades last as long as the connection). */
const routerSeries = (name: string, router: string, extra = ""): string => `${name}{job="traefik",router="${swarmRouter(router)}",protocol="http"${extra}}`;
const node = (name: string, extra = ""): string => `${name}{job="node-exporter"${extra}}`;

/**
 * Request bodies smaller than this in a 5-minute window do not make an upload-speed
 * figure: small JSON posts would read as a slow upload. 100 MB, about twenty photos.
 */
export const UPLOAD_SAMPLE_BYTES = 100e6;
const BODIES = ',method=~"POST|PUT|PATCH"';

export const PERFORMANCE_BENCHMARKS: readonly PerformanceBenchmark[] = [
  {
    id: "ApiResponseTime",
    metric: "API Response Time",
    unit: "ms",
    target: 100,
    acceptable: 200,
    actionRequired: 500,
    direction: "above-is-bad",
    expr: p95(routerSeries("traefik_router_request_duration_seconds_bucket", EDGE_ROUTERS.api), 1000),
    description: "95th percentile latency of backend API requests",
    source: { job: "traefik", measures: "Traefik's api router (the backend's /api/v1, /api/health and /health; search and Socket.IO have routers of their own), from the edge receiving a request to its last response byte" },
  },
  {
    id: "PageLoadTime",
    metric: "Page Load Time",
    unit: "s",
    target: 2,
    acceptable: 3,
    actionRequired: 5,
    direction: "above-is-bad",
    expr: p95(routerSeries("traefik_router_request_duration_seconds_bucket", EDGE_ROUTERS.frontend, ',method="GET"'), 1),
    description: "95th percentile time the edge takes to serve the frontend's GET responses (server-side proxy for page load)",
    source: {
      job: "traefik",
      measures: "Traefik's frontend router, GET requests (pages and assets), from request to last response byte",
      proxy:
        "No real source: browsers report page-load timing to nothing in the stack (the frontend has no timing beacon, the backend no such metric). This is the server side of a page load only: no browser rendering, no network beyond the edge.",
    },
  },
  {
    id: "FileUploadSpeed",
    metric: "File Upload Speed",
    unit: "MB/s",
    target: 50,
    acceptable: 25,
    actionRequired: 10,
    direction: "below-is-bad",
    // Bytes per second spent in requests, not per wall-clock second: idle periods would
    // otherwise read as slow uploads. `> 0` turns "no requests" into no data instead of a
    // division by zero; the `and` keeps windows with too little body data silent.
    expr:
      `(sum(rate(${routerSeries("traefik_router_requests_bytes_total", EDGE_ROUTERS.api, BODIES)}[5m])) / 1e6)` +
      ` / (sum(rate(${routerSeries("traefik_router_request_duration_seconds_sum", EDGE_ROUTERS.api, BODIES)}[5m])) > 0)` +
      ` and (sum(increase(${routerSeries("traefik_router_requests_bytes_total", EDGE_ROUTERS.api, BODIES)}[5m])) > ${UPLOAD_SAMPLE_BYTES})`,
    description: "Request-body bytes the edge passed to the backend per second spent in those requests (server-side proxy for upload speed, SI MB/s)",
    source: {
      job: "traefik",
      measures: `Traefik's api router, POST/PUT/PATCH: request-body bytes over the time spent in those requests, only in 5-minute windows with at least ${UPLOAD_SAMPLE_BYTES / 1e6} MB of bodies`,
      proxy:
        "No real source: upstream MediaNest has no upload endpoint (no multipart parser in the backend, the frontend's MediaUploader is a placeholder). This counts any large request body to the backend, and the time includes the backend's handling after the body arrived.",
    },
  },
  {
    id: "SearchResponse",
    metric: "Search Response",
    unit: "ms",
    target: 50,
    acceptable: 100,
    actionRequired: 200,
    direction: "above-is-bad",
    expr: p95(routerSeries("traefik_router_request_duration_seconds_bucket", EDGE_ROUTERS.search), 1000),
    description: "95th percentile latency of search requests",
    source: { job: "traefik", measures: "Traefik's api-search router (the backend's GET /api/v1/media/search and /api/v1/plex/search), from request to last response byte" },
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
    expr: `100 * (1 - avg by (instance) (rate(${node("node_cpu_seconds_total", ',mode="idle"')}[5m])))`,
    description: "Share of CPU time not idle, per node",
    source: { job: "node-exporter", measures: "node-exporter's CPU time per mode, per node" },
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
    expr: `100 * (1 - ${node("node_memory_MemAvailable_bytes")} / ${node("node_memory_MemTotal_bytes")})`,
    description: "Share of memory not available to new work, per node",
    source: { job: "node-exporter", measures: "node-exporter's /proc/meminfo MemAvailable and MemTotal, per node" },
  },
  {
    id: "DiskIoWait",
    metric: "Disk I/O Wait",
    unit: "%",
    target: 10,
    acceptable: 20,
    actionRequired: 30,
    direction: "above-is-bad",
    expr: `100 * avg by (instance) (rate(${node("node_cpu_seconds_total", ',mode="iowait"')}[5m]))`,
    description: "Share of CPU time spent waiting for disk I/O, per node",
    source: { job: "node-exporter", measures: "node-exporter's CPU time in iowait, per node" },
  },
];

/** The comparison that means "worse than `threshold`" for a benchmark. */
export const worseThan = (benchmark: PerformanceBenchmark): ">" | "<" => (benchmark.direction === "above-is-bad" ? ">" : "<");

/** "< 100 ms" / "> 50 MB/s": how the spec phrases a bound. */
export const formatBound = (comparison: ">" | "<", value: number, unit: string): string =>
  `${comparison} ${value}${unit === "%" ? "%" : ` ${unit}`}`;

/** A latency bound in seconds, or undefined for rows that are not latencies. */
const boundSeconds = (unit: string, value: number): number | undefined => (unit === "ms" ? value / 1000 : unit === "s" ? value : undefined);

/** Finer steps between the bounds, so a quantile between them is not one wide interpolation. */
const EXTRA_BUCKETS = [0.025, 0.3, 1, 10] as const;

/**
 * Histogram buckets (seconds) for the edge's request durations: every latency bound of the
 * table is a bucket edge, so "p95 above the bound" is read exactly at the bound instead of
 * interpolated inside Traefik's default buckets (0.1, 0.3, 1.2, 5: pkg/types/metrics.go).
 */
export function latencyBucketsSeconds(benchmarks: readonly PerformanceBenchmark[] = PERFORMANCE_BENCHMARKS): number[] {
  const bounds = benchmarks.flatMap((b) => [b.target, b.acceptable, b.actionRequired].flatMap((v) => boundSeconds(b.unit, v) ?? []));
  return [...new Set([...bounds, ...EXTRA_BUCKETS])].sort((a, b) => a - b);
}
