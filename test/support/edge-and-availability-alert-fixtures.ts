// Synthetic series for `promtool test rules` (merged into alert-fixtures.ts's ALERT_FIXTURES)
// for the benchmark rules on the edge's and node-exporter's metrics, the availability
// group, replication lag and upload failures: `firing` makes the alert fire at evalTime (past its `for:`),
// `silent` keeps it just inside its threshold. Series use promtool's input_series
// notation and assume the unit test's `interval: 1m` (test/support/monitoring-tools.ts). Thresholds come
// from the config and the benchmark table, as the rules' do, so the fixtures follow them.
import type { StackConfig } from "../../config/schema";
import { PERFORMANCE_BENCHMARKS, UPLOAD_SAMPLE_BYTES, latencyBucketsSeconds, swarmRouter, EDGE_ROUTERS, type PerformanceBenchmark } from "../../domain/benchmarks";
import { plannedTasks } from "../../topology/availability-alert-rules";
import { scrapeTargets } from "../../topology/generated-files";
import { servicesOf } from "../../topology/services";
import { planStack } from "../../topology/stack-plan";

import type { AlertCase, AlertFixture, AlertFixtures } from "./alert-fixtures";

const labels = (name: string, set: Readonly<Record<string, string>>): string =>
  `${name}{${Object.entries(set)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`;
const constant = (value: number, samples = 40): string => `${value}x${samples}`;
/** A counter rising by `perMinute` every sample. */
const rising = (perMinute: number, samples = 40): string => `0+${perMinute}x${samples}`;

// ---- benchmark rules (expressions changed: the edge's router histograms, job selectors) ----

const EDGE = { job: "traefik", instance: "10.0.1.5:8082", protocol: "http", code: "200" } as const;

/** Every observation in (lower, upper]: cumulative buckets 0 below `upper`, rising from it. */
function histogramIn(router: string, method: string, upper: number): AlertCase["series"] {
  const base = { ...EDGE, router: swarmRouter(router), service: `${router === EDGE_ROUTERS.frontend ? "frontend" : "api"}@swarm`, method };
  return [...latencyBucketsSeconds().map(String), "+Inf"].map((le) => ({
    series: labels("traefik_router_request_duration_seconds_bucket", { ...base, le }),
    values: le !== "+Inf" && Number(le) < upper ? constant(0) : rising(60),
  }));
}

const ROUTER_OF: Readonly<Record<string, { router: string; method: string }>> = {
  ApiResponseTime: { router: EDGE_ROUTERS.api, method: "GET" },
  PageLoadTime: { router: EDGE_ROUTERS.frontend, method: "GET" },
  SearchResponse: { router: EDGE_ROUTERS.search, method: "GET" },
};

/**
 * A latency row at threshold T (a bucket edge, latencyBucketsSeconds): firing puts every
 * request in the bucket just above T (p95 interpolates above T), silent in the one just
 * below (p95 = just under T).
 */
function latencyFixture(b: PerformanceBenchmark, threshold: number): AlertFixture {
  const { router, method } = ROUTER_OF[b.id] as { router: string; method: string };
  const seconds = b.unit === "ms" ? threshold / 1000 : threshold;
  const buckets = latencyBucketsSeconds();
  const index = buckets.findIndex((edge) => Math.abs(edge - seconds) < 1e-9);
  if (index < 0) throw new Error(`${b.id}: ${threshold} ${b.unit} is not a bucket edge`);
  const above = buckets[index + 1] ?? Number.POSITIVE_INFINITY;
  return {
    firing: { series: histogramIn(router, method, above), evalTime: "15m" },
    silent: { series: histogramIn(router, method, seconds), evalTime: "15m" },
  };
}

/** Upload: bytes +60 MB a minute (1 MB/s, well above the sample minimum); the time spent sets the MB/s. */
function uploadFixture(threshold: number): AlertFixture {
  const base = { ...EDGE, router: swarmRouter(EDGE_ROUTERS.api), service: "api@swarm", method: "POST" };
  const bytesPerMinute = 60e6;
  if (bytesPerMinute * 5 <= UPLOAD_SAMPLE_BYTES) throw new Error("the upload fixture is below the sample minimum");
  const at = (mbPerSecond: number): AlertCase => ({
    series: [
      { series: labels("traefik_router_requests_bytes_total", base), values: rising(bytesPerMinute) },
      // 1 MB/s of bodies at X MB/s of throughput: 1/X seconds in requests per second.
      { series: labels("traefik_router_request_duration_seconds_sum", base), values: rising(60 / mbPerSecond) },
    ],
    evalTime: "15m",
  });
  // Below-is-bad: firing well under the bound, silent 20% over it (20 and 30 MB/s at 25; 8 and 12 at 10).
  return { firing: at(threshold * 0.8), silent: at(threshold * 1.2) };
}

const NODE = { job: "node-exporter", instance: "10.0.2.7:9100" } as const;

function nodeFixture(b: PerformanceBenchmark, threshold: number): AlertFixture {
  const at = (percent: number): AlertCase => {
    switch (b.id) {
      case "CpuUtilization":
        // One CPU: idle seconds per minute = 60 * (1 - busy).
        return { series: [{ series: labels("node_cpu_seconds_total", { ...NODE, cpu: "0", mode: "idle" }), values: rising(0.6 * (100 - percent)) }], evalTime: "15m" };
      case "DiskIoWait":
        return { series: [{ series: labels("node_cpu_seconds_total", { ...NODE, cpu: "0", mode: "iowait" }), values: rising(0.6 * percent) }], evalTime: "15m" };
      case "MemoryUsage":
        return {
          series: [
            { series: labels("node_memory_MemTotal_bytes", NODE), values: constant(1000) },
            { series: labels("node_memory_MemAvailable_bytes", NODE), values: constant(10 * (100 - percent)) },
          ],
          evalTime: "15m",
        };
      default:
        throw new Error(`no fixture for ${b.id}`);
    }
  };
  return { firing: at(threshold + 2), silent: at(threshold - 1) };
}

function benchmarkFixture(b: PerformanceBenchmark, threshold: number): AlertFixture {
  if (b.id in ROUTER_OF) return latencyFixture(b, threshold);
  if (b.id === "FileUploadSpeed") return uploadFixture(threshold);
  return nodeFixture(b, threshold);
}

const BENCHMARK_FIXTURES: AlertFixtures = Object.fromEntries(
  PERFORMANCE_BENCHMARKS.flatMap((b) => [
    [`${b.id}Warning`, () => benchmarkFixture(b, b.acceptable)],
    [`${b.id}Critical`, () => benchmarkFixture(b, b.actionRequired)],
  ]),
);

// ---- availability rules ----

const minutesOf = (config: StackConfig): number => config.monitoring.thresholds.targetDownMinutes;

function targetsOf(config: StackConfig) {
  const plan = planStack(config);
  return scrapeTargets(config, plan.topology, servicesOf(plan.services));
}

/** `count` answering tasks of a service, as Prometheus labels them. */
function upSeries(job: string, service: string, count: number, failing = 0): AlertCase["series"] {
  return Array.from({ length: count }, (_, i) => ({
    series: labels("up", { job, instance: `10.0.3.${i + 1}:9000`, swarm_service: service }),
    values: constant(i < failing ? 0 : 1),
  }));
}

const AVAILABILITY_FIXTURES: AlertFixtures = {
  TargetDown: (config) => {
    const f = minutesOf(config);
    const series = (values: string) => [{ series: labels("up", { job: "prometheus", instance: "10.0.3.9:9090", swarm_service: "prometheus" }), values }];
    // Down for f+2 samples (f+1 minutes held), evaluated at the last one; silent: the target
    // answers throughout (a shorter outage is pending, which the harness counts as active;
    // it checks the firing case is not firing before its for: instead).
    return { firing: { series: series(`1x10 0x${f + 1}`), evalTime: `${11 + f + 1}m` }, silent: { series: series(`1x${11 + f}`), evalTime: `${11 + f - 1}m` } };
  },
  NodeDown: (config) => {
    const nodes = targetsOf(config).find((t) => t.job === "node-exporter")?.expectedTasks["node-exporter"] ?? 0;
    const evalTime = `${minutesOf(config) + 5}m`;
    return { firing: { series: upSeries("node-exporter", "node-exporter", nodes, 1), evalTime }, silent: { series: upSeries("node-exporter", "node-exporter", nodes), evalTime } };
  },
  ServiceTasksMissing: (config) => {
    const planned = plannedTasks(targetsOf(config), ["node-exporter"]);
    const all = (failingFirst: number) => planned.flatMap((p, i) => upSeries(p.job, p.service, p.tasks, i === 0 ? failingFirst : 0));
    const evalTime = `${minutesOf(config) + 5}m`;
    // Every planned task answering is exactly the bound; one of the first service's not answering fires.
    return { firing: { series: all(1), evalTime }, silent: { series: all(0), evalTime } };
  },
  DataDiskSpaceLow: (config) => diskFixture(config.monitoring.thresholds.diskFreeWarningPercent),
  DataDiskSpaceCritical: (config) => diskFixture(config.monitoring.thresholds.diskFreeCriticalPercent),
  EdgeCertificateExpiring: (config) => certFixture(config.monitoring.thresholds.certExpiryWarningDays),
  EdgeCertificateExpiryCritical: (config) => certFixture(config.monitoring.thresholds.certExpiryCriticalDays),
  RedisMasterUnreachable: () => {
    const up = (value: number) => [{ series: labels("redis_up", { job: "redis-exporter", instance: "10.0.4.2:9121" }), values: constant(value) }];
    return { firing: { series: up(0), evalTime: "5m" }, silent: { series: up(1), evalTime: "5m" } };
  },
  RedisReplicasMissing: (config) => {
    const n = config.services.redis.replicas;
    const slaves = (value: number) => [{ series: labels("redis_connected_slaves", { job: "redis-exporter", instance: "10.0.4.2:9121" }), values: constant(value) }];
    return { firing: { series: slaves(n - 1), evalTime: "10m" }, silent: { series: slaves(n), evalTime: "10m" } };
  },
  RedisSentinelQuorumLost: () => {
    const at = (ok: number): AlertCase => ({
      series: [
        { series: labels("redis_up", { job: "redis-sentinel", instance: "10.0.4.2:9121" }), values: constant(1) },
        { series: labels("redis_sentinel_master_ckquorum_status", { job: "redis-sentinel", instance: "10.0.4.2:9121", master_name: "medianest", message: ok ? "OK 3 usable Sentinels" : "NOQUORUM 1 usable Sentinels" }), values: constant(ok) },
      ],
      evalTime: "10m",
    });
    return { firing: at(0), silent: at(1) };
  },
  RedisSentinelsDisagree: (config) => {
    const n = config.services.redis.sentinels;
    const seen = (value: number) => [
      { series: labels("redis_sentinel_master_ok_sentinels", { job: "redis-sentinel", instance: "10.0.4.2:9121", master_name: "medianest", master_address: "10.0.5.3:6379" }), values: constant(value) },
    ];
    return { firing: { series: seen(n - 1), evalTime: "10m" }, silent: { series: seen(n), evalTime: "10m" } };
  },
  AlertmanagerNotificationsFailing: () => {
    const failed = (perMinute: number) => [{ series: labels("alertmanager_notifications_failed_total", { job: "alertmanager", instance: "10.0.3.8:9093", integration: "webhook" }), values: rising(perMinute) }];
    return { firing: { series: failed(1), evalTime: "30m" }, silent: { series: failed(0), evalTime: "30m" } };
  },
  PrometheusRuleEvaluationFailures: () => {
    const failed = (perMinute: number) => [
      { series: labels("prometheus_rule_evaluation_failures_total", { job: "prometheus", instance: "10.0.3.9:9090", rule_group: "/etc/prometheus/rules/medianest.yml;medianest-performance" }), values: rising(perMinute) },
    ];
    return { firing: { series: failed(1), evalTime: "30m" }, silent: { series: failed(0), evalTime: "30m" } };
  },
};

function diskFixture(percent: number): AlertFixture {
  const fs = { job: "node-exporter", instance: "10.0.2.7:9100", device: "/dev/sda1", fstype: "ext4", mountpoint: "/" };
  const at = (free: number): AlertCase => ({
    series: [
      { series: labels("node_filesystem_size_bytes", fs), values: constant(1000) },
      { series: labels("node_filesystem_avail_bytes", fs), values: constant(10 * free) },
    ],
    evalTime: "20m",
  });
  return { firing: at(percent - 1), silent: at(percent + 1) };
}

/** promtool's time() at evalTime is the seconds since its start: the certificate ends `days` after that. */
function certFixture(days: number): AlertFixture {
  // Past the rule's `for: 1h`.
  const evalSeconds = 65 * 60;
  const at = (left: number): AlertCase => ({
    series: [
      {
        series: labels("traefik_tls_certs_not_after", { job: "traefik", instance: "10.0.1.5:8082", cn: "medianest.example.com", serial: "123", sans: "medianest.example.com" }),
        values: constant(evalSeconds + left * 86400, 70),
      },
    ],
    evalTime: "65m",
  });
  return { firing: at(days - 1), silent: at(days + 1) };
}

// ---- data rules ----

const MB = 1024 * 1024;

const DATA_FIXTURES: AlertFixtures = {
  PostgresReplicationLag: (config) => {
    const bound = config.monitoring.thresholds.replicationLagMb * MB;
    const lag = (bytes: number) => [
      {
        series: labels("pg_stat_replication_pg_wal_lsn_diff", { job: "postgres-exporter", instance: "10.0.6.2:9187", application_name: "replica_1", client_addr: "10.0.6.7", slot_name: "replica_1", state: "streaming" }),
        values: constant(bytes),
      },
    ];
    // Exactly the bound is inside it (the rule is "more than").
    return { firing: { series: lag(bound + MB), evalTime: "10m" }, silent: { series: lag(bound), evalTime: "10m" } };
  },
  BackupUploadFailing: (config) => {
    const db = config.services.postgres.database;
    const at = (failure: number, success: number): AlertCase => ({
      series: [
        { series: labels("medianest_backup_upload_last_failure_timestamp_seconds", { job: "node-exporter", instance: "10.0.2.7:9100", database: db, target: "medianest" }), values: constant(failure) },
        { series: labels("medianest_backup_upload_last_success_timestamp_seconds", { job: "node-exporter", instance: "10.0.2.7:9100", database: db, target: "medianest" }), values: constant(success) },
      ],
      evalTime: "20m",
    });
    // A failure after the last success fires; a success after the last failure is silent.
    return { firing: at(1000, 999), silent: at(1000, 1001) };
  },
};

export const EDGE_AND_AVAILABILITY_FIXTURES: AlertFixtures = { ...BENCHMARK_FIXTURES, ...AVAILABILITY_FIXTURES, ...DATA_FIXTURES };
