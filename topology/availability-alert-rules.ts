// Alerts on the stack being there at all: scrape targets that stop answering, services with
// fewer answering tasks than planned, nodes gone, the filesystems under the data filling
// up, the edge's certificates running out, Redis without its one master or its sentinels
// short of quorum, and the alerting pipeline itself failing. Thresholds come from
// monitoring.thresholds (config/shape.ts); the planned task counts from the scrape
// targets (topology/generated-files.ts scrapeTargets), so both live in one place.
import { stringify } from "yaml";
import type { StackConfig } from "../config/schema";
import { minioDataPathOf } from "../config/storage-paths";
import type { AlertRule } from "./alert-rules";
import type { ScrapeTarget } from "./prometheus-config";
import { SENTINEL_MASTER_NAME } from "./services";

export type AvailabilityAlertRule = AlertRule<{ readonly component: string }>;

export const AVAILABILITY_ALERT_GROUP = "medianest-availability";

/** A PromQL string literal (Go escapes, which JSON's are for these characters). */
const str = (value: string): string => JSON.stringify(value);
const escapeRegex = (value: string): string => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The host directories that hold data we cannot lose, with what holds it there. */
export function dataPaths(config: StackConfig): { readonly what: string; readonly path: string }[] {
  return [
    { what: "Postgres", path: `${config.storage.appDataPath}/postgres` },
    ...(config.s3.mode === "internal" ? [{ what: "MinIO", path: minioDataPathOf(config.storage) }] : []),
    { what: "backups", path: config.storage.backupPath },
  ];
}

/**
 * Every mount point a data path can live on: the path and each of its parents. Which one
 * holds it is the deepest that is mounted, which PromQL cannot pick; a full parent
 * filesystem (the root, say) is worth the same alert.
 */
export function dataMountPoints(config: StackConfig): string[] {
  const points = new Set<string>();
  for (const { path } of dataPaths(config)) {
    const parts = path.split("/").filter((p) => p !== "");
    points.add("/");
    for (let i = 1; i <= parts.length; i++) points.add(`/${parts.slice(0, i).join("/")}`);
  }
  return [...points].sort();
}

/** The planned answering tasks per (job, service): the expectation the tasks-missing rule compares with. */
export function plannedTasks(targets: readonly ScrapeTarget[], exclude: readonly string[] = []): { readonly job: string; readonly service: string; readonly tasks: number }[] {
  return targets
    .filter((t) => !exclude.includes(t.job))
    .flatMap((t) => Object.entries(t.expectedTasks).map(([service, tasks]) => ({ job: t.job, service, tasks })))
    .filter((p) => p.tasks > 0);
}

/** A constant vector with job and swarm_service labels: one planned count. */
const planned = ({ job, service, tasks }: { job: string; service: string; tasks: number }): string =>
  `label_replace(label_replace(vector(${tasks}), "job", ${str(job)}, "", ""), "swarm_service", ${str(service)}, "", "")`;

const minutes = (n: number): string => `${n}m`;

export function availabilityAlertRules(config: StackConfig, targets: readonly ScrapeTarget[]): AvailabilityAlertRule[] {
  const t = config.monitoring.thresholds;
  const down = minutes(t.targetDownMinutes);
  const rules: AvailabilityAlertRule[] = [
    {
      alert: "TargetDown",
      expr: "up == 0",
      for: down,
      labels: { severity: "warning", component: "monitoring" },
      annotations: {
        summary: "{{ $labels.swarm_service }} task {{ $labels.instance }} does not answer Prometheus ({{ $labels.job }})",
        description: `The task is in Swarm's DNS but its metrics endpoint has failed every scrape for ${down} (monitoring.thresholds.targetDownMinutes).`,
        runbook: "docker service ps <service> and docker service logs <service>; the target's page in Prometheus (Status > Targets) has the scrape error.",
      },
    },
  ];
  const nodeExporter = targets.find((target) => target.job === "node-exporter");
  const nodes = nodeExporter?.expectedTasks["node-exporter"] ?? 0;
  if (nodes > 0) {
    rules.push({
      alert: "NodeDown",
      // node-exporter is global: a node that is down has no task, and so no series at all.
      expr: `(count(up{job="node-exporter"} == 1) or vector(0)) < ${nodes}`,
      for: down,
      labels: { severity: "critical", component: "node" },
      annotations: {
        summary: `{{ $value }} of ${nodes} nodes report (node-exporter)`,
        description: `node-exporter runs one task per node that is not drained; fewer than ${nodes} have answered for ${down}. A node that is down, drained by hand or cut off from the overlay network counts here.`,
        runbook: "docker node ls on a manager: a node that is Down or Unknown; then the host itself (power, network, dockerd).",
      },
    });
  }
  const expected = plannedTasks(targets, ["node-exporter"]);
  if (expected.length > 0) {
    const table = expected.map(planned).join(" or ");
    const answering = "count by (job, swarm_service) (up == 1)";
    rules.push({
      alert: "ServiceTasksMissing",
      // No metric in the stack reports Swarm's desired and running replicas (cAdvisor has no
      // Docker socket, so no Swarm labels): a scraped service's running tasks are the ones
      // Swarm's DNS lists and that answer. Value: the tasks answering.
      expr: `${answering} < on (job, swarm_service) (${table}) or on (job, swarm_service) ((${table}) * 0 unless on (job, swarm_service) (up == 1))`,
      for: down,
      labels: { severity: "warning", component: "swarm" },
      annotations: {
        summary: "{{ $labels.swarm_service }}: {{ $value }} tasks answer, fewer than planned",
        description: `Planned answering tasks: ${expected.map((e) => `${e.service} ${e.tasks}`).join(", ")}. Fewer for ${down}: tasks failing to start, unplaceable (constraints, resources) or crash-looping.`,
        runbook: "docker service ps --no-trunc <service>: the task errors say why (no suitable node, image pull, health check).",
      },
    });
  }
  const mounts = dataMountPoints(config).map(escapeRegex).join("|");
  const fs = (name: string) => `${name}{job="node-exporter",mountpoint=~${str(mounts)},fstype!~"tmpfs|ramfs"}`;
  const free = `100 * ${fs("node_filesystem_avail_bytes")} / ${fs("node_filesystem_size_bytes")}`;
  const where = dataPaths(config)
    .map((d) => `${d.what} ${d.path}`)
    .join(", ");
  for (const [alert, percent, severity, key] of [
    ["DataDiskSpaceLow", t.diskFreeWarningPercent, "warning", "diskFreeWarningPercent"],
    ["DataDiskSpaceCritical", t.diskFreeCriticalPercent, "critical", "diskFreeCriticalPercent"],
  ] as const) {
    rules.push({
      alert,
      expr: `${free} < ${percent}`,
      for: severity === "warning" ? "10m" : "5m",
      labels: { severity, component: "storage" },
      annotations: {
        summary: `{{ $value | printf "%.1f" }}% free on {{ $labels.mountpoint }} ({{ $labels.instance }}), which holds data (below ${percent}%)`,
        description: `The filesystem at {{ $labels.mountpoint }} is a data path or one of its parents: ${where}. Below monitoring.thresholds.${key} (${percent}%) Postgres stops on a full disk, MinIO refuses writes and dumps fail.`,
        runbook: "df -h on the host; backups: storage.backupPath retention (backup.retentionDays, backup.keepLast); Postgres: pg_wal held by a replication slot (PostgresReplicationSlotLagging).",
      },
    });
  }
  if (config.edge.tls === "acme") {
    // One series per certificate Traefik ever served: a renewed certificate's old serial is
    // never deleted (traefik v3.5.3 pkg/metrics/prometheus.go Collect only drops routers,
    // services and entry points), so the newest per name counts.
    const daysLeft = '(max by (instance, cn, sans) (traefik_tls_certs_not_after{job="traefik"}) - time()) / 86400';
    for (const [alert, days, severity, key] of [
      ["EdgeCertificateExpiring", t.certExpiryWarningDays, "warning", "certExpiryWarningDays"],
      ["EdgeCertificateExpiryCritical", t.certExpiryCriticalDays, "critical", "certExpiryCriticalDays"],
    ] as const) {
      rules.push({
        alert,
        expr: `${daysLeft} < ${days}`,
        for: "1h",
        labels: { severity, component: "edge" },
        annotations: {
          summary: `The certificate for {{ $labels.cn }} on {{ $labels.instance }} expires in {{ $value | printf "%.1f" }} days`,
          description: `Traefik renews Let's Encrypt certificates 30 days before they expire (pkg/provider/acme/provider.go getCertificateRenewDurations); below monitoring.thresholds.${key} (${days} days) renewal has been failing for a while. Names: {{ $labels.sans }}.`,
          runbook: "docker service logs traefik | grep -i acme: the challenge error (DNS token, port 80 reachability for HTTP-01, rate limits).",
        },
      });
    }
  }
  const redis = config.services.redis;
  const withSentinel = redis.sentinels > 0;
  rules.push({
    alert: "RedisMasterUnreachable",
    expr: 'redis_up{job="redis-exporter"} == 0',
    for: "1m",
    labels: { severity: "critical", component: "redis" },
    annotations: {
      summary: withSentinel ? "The app's Redis address (redis-proxy) reaches no master" : "The Redis master does not answer",
      description: withSentinel
        ? "redis-exporter reads Redis through redis-proxy, as the app does; the proxy refuses connections unless exactly one data node reports role:master. So none does (failover not finished, all down) or two do (split brain): the app cannot write."
        : "redis-exporter cannot reach tasks.redis-master: the app's queue and cache are down.",
      runbook: withSentinel
        ? "redis-cli -p 26379 sentinel master medianest on a sentinel; INFO replication on each data node: which claim master."
        : "docker service ps redis-master; its logs.",
    },
  });
  if (redis.replicas > 0) {
    rules.push({
      alert: "RedisReplicasMissing",
      expr: `redis_connected_slaves{job="redis-exporter"} < ${redis.replicas}`,
      for: "5m",
      labels: { severity: "warning", component: "redis" },
      annotations: {
        summary: `The Redis master has {{ $value }} of ${redis.replicas} replicas connected`,
        description: "A replica is down or cannot sync from the master; a failover now has fewer candidates and may lose writes not yet replicated.",
        runbook: "docker service ps redis-replica; INFO replication on the replica (master_link_status).",
      },
    });
  }
  if (withSentinel) {
    const sentinel = (name: string) => `${name}{job="redis-sentinel",master_name=${str(SENTINEL_MASTER_NAME)}}`;
    rules.push(
      {
        alert: "RedisSentinelQuorumLost",
        // CKQUORUM: enough sentinels reachable for the quorum and for the majority that authorizes a failover.
        expr: `${sentinel("redis_sentinel_master_ckquorum_status")} == 0 or redis_up{job="redis-sentinel"} == 0`,
        for: "2m",
        labels: { severity: "critical", component: "redis" },
        annotations: {
          summary: "A sentinel cannot confirm the failover quorum for the Redis master",
          description: `SENTINEL CKQUORUM ${SENTINEL_MASTER_NAME} fails on a sentinel (or the sentinel does not answer): a failed master would not be replaced.`,
          runbook: "redis-cli -p 26379 sentinel ckquorum medianest on each sentinel; docker service ps redis-sentinel.",
        },
      },
      {
        alert: "RedisSentinelsDisagree",
        // ok_sentinels counts the asked sentinel and the peers it sees without s_down/o_down.
        expr: `${sentinel("redis_sentinel_master_ok_sentinels")} < ${redis.sentinels}`,
        for: "5m",
        labels: { severity: "warning", component: "redis" },
        annotations: {
          summary: `A sentinel sees {{ $value }} of ${redis.sentinels} sentinels healthy`,
          description:
            "The sentinels do not all see each other: a partition or a sentinel that lost its state. Sentinels that cannot see each other can each follow a different master. (Each scrape asks one sentinel through tasks.redis-sentinel; redis_exporter's password file is keyed by address, so the sentinels cannot be asked one by one.)",
          runbook: "redis-cli -p 26379 sentinel sentinels medianest on each sentinel: the flags of the peers it lists.",
        },
      },
    );
  }
  rules.push(
    {
      alert: "AlertmanagerNotificationsFailing",
      expr: 'sum by (integration) (rate(alertmanager_notifications_failed_total{job="alertmanager"}[10m])) > 0',
      for: "10m",
      labels: { severity: "warning", component: "monitoring" },
      annotations: {
        summary: "Alertmanager fails to deliver notifications through {{ $labels.integration }}",
        description: "Alerts still fire but some do not reach the receiver (this one may not either: check the other receivers and Alertmanager's page).",
        runbook: "docker service logs alertmanager: the receiver's error (URL, SMTP credentials, Slack webhook).",
      },
    },
    {
      alert: "PrometheusRuleEvaluationFailures",
      expr: 'sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[10m])) > 0',
      for: "5m",
      labels: { severity: "warning", component: "monitoring" },
      annotations: {
        summary: "Rules of group {{ $labels.rule_group }} fail to evaluate",
        description: "A rule that fails to evaluate never fires: its alert is blind.",
        runbook: "Prometheus' Rules page shows the evaluation error of each rule.",
      },
    },
  );
  const names = new Set<string>();
  for (const { alert } of rules) {
    if (names.has(alert)) throw new Error(`duplicate availability alert "${alert}"`);
    names.add(alert);
  }
  return rules;
}

export function availabilityAlertRulesYaml(config: StackConfig, targets: readonly ScrapeTarget[]): string {
  const file = { groups: [{ name: AVAILABILITY_ALERT_GROUP, rules: availabilityAlertRules(config, targets) }] };
  return `# Generated from the stack config by topology/availability-alert-rules.ts; do not edit.\n${stringify(file, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
