// The monitoring tier on monitor-net: Prometheus, Alertmanager, Grafana, node-exporter
// and cAdvisor on every node, and the Postgres and Redis exporters.
import type { StackConfig } from "../../config/schema";
import { grafanaRoutingLabels } from "../edge";
import { appRedisHost, postgresWriterHost } from "./data-tier";
import { backupMetricsPath } from "../host-setup";
import { PORTS, secretPath, service, tasksHost, type Base, type HealthcheckSpec, type SecretName, type ServiceSpec } from "./spec";

/** grafana/grafana 12: ENTRYPOINT ["/run.sh"], no CMD. */
export const GRAFANA_ENTRYPOINT = ["/run.sh"] as const;
/** quay.io/prometheuscommunity/postgres-exporter v0.17: ENTRYPOINT ["/bin/postgres_exporter"] (busybox base: /bin/sh exists). */
export const POSTGRES_EXPORTER_ENTRYPOINT = ["/bin/postgres_exporter"] as const;

const wgetHealth = (port: number, path: string): HealthcheckSpec => ({
  test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${path}`],
  interval: "15s",
  timeout: "5s",
  retries: 3,
  startPeriod: "30s",
});

/** A read-only agent on every node (node-exporter, cAdvisor): no placement, settings or secrets. */
const PER_NODE_AGENT = {
  replicas: 1,
  global: true,
  placement: { constraints: [], spread: [] },
  env: {},
  secrets: [],
  scripts: [],
} as const;

/**
 * The Redis server the exporter reads: the address the app uses, so with Sentinel the
 * redis-proxy, which forwards to the one current master (and refuses while there is not
 * exactly one); redis_up is then 0 exactly when the app has no master to write to.
 */
export const redisExporterDataUri = (config: StackConfig): string => `redis://${appRedisHost(config)}:${PORTS.redis}`;
/** The sentinels, as the exporter's multi-target endpoint is asked for them (one sentinel per scrape, by DNS). */
export const redisSentinelUri = (): string => `redis://${tasksHost("redis-sentinel")}:${PORTS.sentinel}`;

export const GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards";
const NODE_EXPORTER_TEXTFILE_DIR = "/host/backup-metrics";

export interface MonitoringTier {
  readonly prometheus: ServiceSpec;
  readonly alertmanager: ServiceSpec;
  readonly grafana: ServiceSpec;
  readonly nodeExporter: ServiceSpec;
  readonly cadvisor: ServiceSpec;
  readonly postgresExporter: ServiceSpec;
  readonly redisExporter: ServiceSpec;
}

/** Undefined when monitoring is off. */
export function monitoringTier(base: Base): MonitoringTier | undefined {
  const { config, plan } = base;
  if (!config.monitoring.enabled) return undefined;
  const app = config.storage.appDataPath;
  const placement = { constraints: plan.placement.monitoring, spread: [] };
  const alerting = config.monitoring.alerting;
  const alertSecrets: SecretName[] = [
    ...(alerting.webhook ? (["alert-webhook-url"] as const) : []),
    ...(alerting.email?.username !== undefined ? (["alert-smtp-password"] as const) : []),
    ...(alerting.slack ? (["alert-slack-webhook-url"] as const) : []),
  ];
  const grafanaUrl = config.app.hostname === "localhost" ? "http://localhost:3000" : `https://grafana.${config.app.hostname}`;
  const exporter = (
    role: "postgres-exporter" | "redis-exporter",
    image: string,
    run: { env: Record<string, string>; entrypoint?: readonly string[]; args?: readonly string[] },
    secret: SecretName,
    healthcheck: HealthcheckSpec | undefined,
  ) =>
    service(base, role, {
      name: role,
      image,
      replicas: 1,
      placement: { constraints: [], spread: [] },
      ...run,
      secrets: [secret],
      scripts: [],
      mounts: [],
      ...(healthcheck ? { healthcheck } : {}),
    });
  return {
    prometheus: service(base, "prometheus", {
      name: "prometheus",
      image: config.images.prometheus,
      replicas: 1,
      placement,
      env: {},
      // The backend's /metrics wants it as a bearer token (scrape config credentials_file).
      secrets: ["metrics_token"],
      scripts: [],
      files: [
        { file: "prometheus.yml", target: "/etc/prometheus/prometheus.yml" },
        { file: "prometheus-rules.yml", target: "/etc/prometheus/rules/medianest.yml" },
        { file: "prometheus-data-rules.yml", target: "/etc/prometheus/rules/medianest-data.yml" },
        { file: "prometheus-availability-rules.yml", target: "/etc/prometheus/rules/medianest-availability.yml" },
      ],
      mounts: [{ source: `${app}/prometheus`, target: "/prometheus", readOnly: false }],
      args: [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        `--storage.tsdb.retention.time=${config.monitoring.retentionDays}d`,
      ],
      healthcheck: wgetHealth(PORTS.prometheus, "/-/healthy"),
    }),
    alertmanager: service(base, "alertmanager", {
      name: "alertmanager",
      image: config.images.alertmanager,
      replicas: 1,
      placement,
      env: {},
      secrets: alertSecrets,
      scripts: [],
      files: [{ file: "alertmanager.yml", target: "/etc/alertmanager/alertmanager.yml" }],
      mounts: [{ source: `${app}/alertmanager`, target: "/alertmanager", readOnly: false }],
      args: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
      healthcheck: wgetHealth(PORTS.alertmanager, "/-/healthy"),
    }),
    grafana: service(base, "grafana", {
      name: "grafana",
      image: config.images.grafana,
      replicas: 1,
      placement,
      env: {
        GF_SECURITY_ADMIN_PASSWORD__FILE: secretPath("grafana-admin-password"),
        GF_SERVER_ROOT_URL: grafanaUrl,
        GF_USERS_ALLOW_SIGN_UP: "false",
        GF_ANALYTICS_REPORTING_ENABLED: "false",
      },
      entrypoint: GRAFANA_ENTRYPOINT,
      secrets: ["grafana-admin-password"],
      scripts: [],
      files: [
        { file: "grafana-datasources.yml", target: "/etc/grafana/provisioning/datasources/medianest.yml" },
        { file: "grafana-dashboards.yml", target: "/etc/grafana/provisioning/dashboards/medianest.yml" },
        { file: "grafana-medianest-dashboard.json", target: `${GRAFANA_DASHBOARDS_DIR}/medianest.json` },
      ],
      mounts: [{ source: `${app}/grafana`, target: "/var/lib/grafana", readOnly: false }],
      labels: grafanaRoutingLabels(config, PORTS.grafana),
      healthcheck: wgetHealth(PORTS.grafana, "/api/health"),
    }),
    nodeExporter: service(base, "node-exporter", {
      name: "node-exporter",
      image: config.images.nodeExporter,
      ...PER_NODE_AGENT,
      mounts: [
        { source: "/proc", target: "/host/proc", readOnly: true },
        { source: "/sys", target: "/host/sys", readOnly: true },
        { source: "/", target: "/rootfs", readOnly: true },
        { source: backupMetricsPath(config), target: NODE_EXPORTER_TEXTFILE_DIR, readOnly: true },
      ],
      // The textfile collector reads the backups' *.prom files (topology/backup-alert-rules.ts).
      args: ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/rootfs", `--collector.textfile.directory=${NODE_EXPORTER_TEXTFILE_DIR}`],
    }),
    cadvisor: service(base, "cadvisor", {
      name: "cadvisor",
      image: config.images.cadvisor,
      ...PER_NODE_AGENT,
      // No Docker socket (only the edge's proxy gets one): cgroup metrics per container still work.
      mounts: [
        { source: "/", target: "/rootfs", readOnly: true },
        { source: "/sys", target: "/sys", readOnly: true },
        { source: "/var/lib/docker", target: "/var/lib/docker", readOnly: true },
        { source: "/dev/disk", target: "/dev/disk", readOnly: true },
      ],
      args: ["--docker_only=false", "--housekeeping_interval=30s"],
    }),
    postgresExporter: exporter(
      "postgres-exporter",
      config.images.postgresExporter,
      {
        entrypoint: POSTGRES_EXPORTER_ENTRYPOINT,
        env: {
          DATA_SOURCE_URI: `${postgresWriterHost()}:${PORTS.postgres}/${config.services.postgres.database}?sslmode=disable`,
          DATA_SOURCE_USER: config.services.postgres.user,
          DATA_SOURCE_PASS_FILE: secretPath("postgres-password"),
        },
      },
      "postgres-password",
      // Its image is busybox-based (Dockerfile FROM quay.io/prometheus/busybox): wget is there.
      wgetHealth(PORTS.postgresExporter, "/"),
    ),
    redisExporter: exporter(
      "redis-exporter",
      config.images.redisExporter,
      // The image is FROM scratch (no shell for an env file): the address is a flag. Its
      // password file is JSON keyed by address (secret-sources.ts redisExporterPasswords).
      { env: { REDIS_PASSWORD_FILE: secretPath("redis-exporter-passwords") }, args: [`--redis.addr=${redisExporterDataUri(config)}`] },
      "redis-exporter-passwords",
      // No health check: the default image (redis_exporter v1.76.0 Dockerfile, target
      // scratch-release) holds only the binary and CA certificates, so a wget check would
      // fail every time and Swarm would kill the task as unhealthy. Prometheus's TargetDown
      // and ServiceTasksMissing watch it instead.
      undefined,
    ),
  };
}
