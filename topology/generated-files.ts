// The generated config files of a stack (Traefik's dynamic file, Prometheus,
// its alert rules, Alertmanager, Grafana provisioning), rendered from config
// and plan. Only files some service mounts are rendered.
import type { StackConfig } from "../config/schema";
import { MEDIANEST_CONTRACT } from "../domain/app-contract";
import { alertRulesYaml } from "./alert-rules";
import { availabilityAlertRulesYaml } from "./availability-alert-rules";
import { dataAlertRulesYaml } from "./data-alert-rules";
import { alertmanagerConfigYaml, type AlertingInput } from "./alertmanager-config";
import { TRAEFIK_PORTS, traefikDynamicConfig } from "./edge";
import { grafanaDashboardProvidersYaml, grafanaDatasourcesYaml, medianestDashboardJson } from "./grafana-provisioning";
import type { TopologyPlan } from "./plan";
import { prometheusConfigYaml, type ScrapeTarget } from "./prometheus-config";
import { satisfiesConstraint } from "../domain/scheduling";
import {
  ALERTMANAGER_METRICS,
  BACKUP_TEXTFILE_METRICS,
  CADVISOR_METRICS,
  MINIO_METRICS,
  NODE_EXPORTER_METRICS,
  POSTGRES_EXPORTER_METRICS,
  PROMETHEUS_METRICS,
  REDIS_EXPORTER_METRICS,
  REDIS_SENTINEL_METRICS,
  TRAEFIK_METRICS,
} from "../domain/exported-metrics";
import { GRAFANA_DASHBOARDS_DIR, PORTS, backendServiceNames, redisSentinelUri, secretPath, tasksHost, type EnvFile, type GeneratedFile, type ServiceFile, type ServiceSpec } from "./services";

/** Tasks Swarm runs for a service: its replicas, or one per eligible node for a global service (drained nodes run none). */
export function expectedTasks(spec: ServiceSpec, plan: TopologyPlan): number {
  if (!spec.global) return spec.replicas;
  return plan.nodes.filter(
    (node) => node.availability !== "drain" && spec.placement.constraints.every((c) => satisfiesConstraint({ role: node.role, hostname: node.name, id: node.name, labels: node.labels }, c)),
  ).length;
}

/**
 * What Prometheus scrapes, each target with the metric names it serves (the data the
 * metric-existence test and the availability rules read). Only services the stack runs.
 */
export function scrapeTargets(config: StackConfig, plan: TopologyPlan, specs: readonly ServiceSpec[]): ScrapeTarget[] {
  const spec = (name: string) => specs.find((s) => s.name === name);
  const tasks = (...names: string[]): Record<string, number> =>
    Object.fromEntries(names.flatMap((name) => {
      const found = spec(name);
      const count = found ? expectedTasks(found, plan) : 0;
      return count > 0 ? [[name, count]] : [];
    }));
  const backends = backendServiceNames(config);
  const [firstBackend, ...otherBackends] = backends;
  const contract = MEDIANEST_CONTRACT.backend;
  const targets: ScrapeTarget[] = [
    // One job for every backend color, so rules and dashboards see one "medianest-backend".
    {
      job: "medianest-backend",
      dnsName: tasksHost(firstBackend),
      extraDnsNames: otherBackends.map(tasksHost),
      port: contract.port,
      metricsPath: contract.metricsPath,
      bearerTokenFile: secretPath("metrics_token"),
      exports: contract.metrics.exported,
      expectedTasks: tasks(...backends),
    },
    { job: "traefik", dnsName: tasksHost("traefik"), port: TRAEFIK_PORTS.metrics, exports: TRAEFIK_METRICS, expectedTasks: tasks("traefik") },
    {
      job: "node-exporter",
      dnsName: tasksHost("node-exporter"),
      port: PORTS.nodeExporter,
      exports: [...NODE_EXPORTER_METRICS, ...BACKUP_TEXTFILE_METRICS],
      expectedTasks: tasks("node-exporter"),
    },
    { job: "cadvisor", dnsName: tasksHost("cadvisor"), port: PORTS.cadvisor, exports: CADVISOR_METRICS, expectedTasks: tasks("cadvisor") },
    { job: "postgres-exporter", dnsName: tasksHost("postgres-exporter"), port: PORTS.postgresExporter, exports: POSTGRES_EXPORTER_METRICS, expectedTasks: tasks("postgres-exporter") },
    { job: "redis-exporter", dnsName: tasksHost("redis-exporter"), port: PORTS.redisExporter, exports: REDIS_EXPORTER_METRICS, expectedTasks: tasks("redis-exporter") },
    { job: "prometheus", dnsName: tasksHost("prometheus"), port: PORTS.prometheus, exports: PROMETHEUS_METRICS, expectedTasks: tasks("prometheus") },
    { job: "alertmanager", dnsName: tasksHost("alertmanager"), port: PORTS.alertmanager, exports: ALERTMANAGER_METRICS, expectedTasks: tasks("alertmanager") },
  ];
  if (spec("redis-sentinel")) {
    // The exporter's multi-target endpoint, pointed at the sentinels' DNS name: each scrape
    // asks one sentinel (redis_exporter v1.76.0 exporter/http.go scrapeHandler; the password
    // comes from its password file, keyed by this exact URI: exporter/redis.go).
    targets.push({
      job: "redis-sentinel",
      dnsName: tasksHost("redis-exporter"),
      port: PORTS.redisExporter,
      metricsPath: "/scrape",
      params: { target: [redisSentinelUri()] },
      exports: REDIS_SENTINEL_METRICS,
      expectedTasks: tasks("redis-exporter"),
    });
  }
  if (spec("minio")) targets.push({ job: "minio", dnsName: tasksHost("minio"), port: PORTS.minio, metricsPath: "/minio/v2/metrics/cluster", exports: MINIO_METRICS, expectedTasks: tasks("minio") });
  return targets;
}

export function alertingInput(config: StackConfig): AlertingInput {
  const alerting = config.monitoring.alerting;
  return {
    ...(alerting.webhook ? { webhook: { urlFile: secretPath("alert-webhook-url") } } : {}),
    ...(alerting.email
      ? {
          email: {
            to: alerting.email.to,
            from: alerting.email.from,
            smarthost: alerting.email.smarthost,
            requireTls: alerting.email.requireTls,
            ...(alerting.email.username !== undefined ? { username: alerting.email.username, passwordFile: secretPath("alert-smtp-password") } : {}),
          },
        }
      : {}),
    ...(alerting.slack ? { slack: { apiUrlFile: secretPath("alert-slack-webhook-url"), channel: alerting.slack.channel } } : {}),
  };
}

export function generatedFiles(config: StackConfig, plan: TopologyPlan, specs: readonly ServiceSpec[]): Partial<Record<ServiceFile, string>> {
  const all: Record<GeneratedFile, () => string> = {
    "traefik-dynamic.yml": () => traefikDynamicConfig(config, plan),
    "prometheus.yml": () =>
      prometheusConfigYaml({
        scrapeInterval: "15s",
        evaluationInterval: "15s",
        targets: scrapeTargets(config, plan, specs),
        alertmanager: { dnsName: tasksHost("alertmanager"), port: PORTS.alertmanager },
        ruleFiles: ["/etc/prometheus/rules/*.yml"],
        externalLabels: { environment: config.environment },
      }),
    "prometheus-rules.yml": () => alertRulesYaml(),
    "prometheus-data-rules.yml": () => dataAlertRulesYaml(config),
    "prometheus-availability-rules.yml": () => availabilityAlertRulesYaml(config, scrapeTargets(config, plan, specs)),
    "alertmanager.yml": () => alertmanagerConfigYaml(alertingInput(config)),
    "grafana-datasources.yml": () => grafanaDatasourcesYaml(`http://${tasksHost("prometheus")}:${PORTS.prometheus}`),
    "grafana-dashboards.yml": () => grafanaDashboardProvidersYaml(GRAFANA_DASHBOARDS_DIR),
    "grafana-medianest-dashboard.json": () => medianestDashboardJson(),
  };
  const used = new Set(specs.flatMap((s) => (s.files ?? []).map((f) => f.file)));
  const envFiles = specs.flatMap((s): [EnvFile, string][] => (s.envFile ? [[s.envFile.name, s.envFile.content]] : []));
  return { ...Object.fromEntries([...used].sort().map((file) => [file, all[file]()])), ...Object.fromEntries(envFiles) };
}
