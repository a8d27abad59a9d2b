// The generated config files of a stack (Traefik's dynamic file, Prometheus,
// its alert rules, Alertmanager, Grafana provisioning), rendered from config
// and plan. Only files some service mounts are rendered.
import type { StackConfig } from "../config/schema";
import { MEDIANEST_CONTRACT } from "../domain/app-contract";
import { alertRulesYaml } from "./alert-rules";
import { dataAlertRulesYaml } from "./data-alert-rules";
import { alertmanagerConfigYaml, type AlertingInput } from "./alertmanager-config";
import { TRAEFIK_PORTS, traefikDynamicConfig } from "./edge";
import { grafanaDashboardProvidersYaml, grafanaDatasourcesYaml, medianestDashboardJson } from "./grafana-provisioning";
import type { TopologyPlan } from "./plan";
import { prometheusConfigYaml, type ScrapeTarget } from "./prometheus-config";
import { GRAFANA_DASHBOARDS_DIR, PORTS, backendServiceNames, secretPath, tasksHost, type EnvFile, type GeneratedFile, type ServiceFile, type ServiceSpec } from "./services";

export function scrapeTargets(config: StackConfig, specs: readonly ServiceSpec[]): ScrapeTarget[] {
  const has = (name: string) => specs.some((s) => s.name === name);
  const [firstBackend, ...otherBackends] = backendServiceNames(config);
  const targets: ScrapeTarget[] = [
    // One job for every backend color, so rules and dashboards see one "medianest-backend".
    {
      job: "medianest-backend",
      dnsName: tasksHost(firstBackend),
      extraDnsNames: otherBackends.map(tasksHost),
      port: MEDIANEST_CONTRACT.backend.port,
      metricsPath: MEDIANEST_CONTRACT.backend.metricsPath,
      bearerTokenFile: secretPath("metrics_token"),
    },
    { job: "traefik", dnsName: tasksHost("traefik"), port: TRAEFIK_PORTS.metrics },
    { job: "node-exporter", dnsName: tasksHost("node-exporter"), port: PORTS.nodeExporter },
    { job: "cadvisor", dnsName: tasksHost("cadvisor"), port: PORTS.cadvisor },
    { job: "postgres-exporter", dnsName: tasksHost("postgres-exporter"), port: PORTS.postgresExporter },
    { job: "redis-exporter", dnsName: tasksHost("redis-exporter"), port: PORTS.redisExporter },
    { job: "prometheus", dnsName: tasksHost("prometheus"), port: PORTS.prometheus },
  ];
  if (has("minio")) targets.push({ job: "minio", dnsName: tasksHost("minio"), port: PORTS.minio, metricsPath: "/minio/v2/metrics/cluster" });
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
        targets: scrapeTargets(config, specs),
        alertmanager: { dnsName: tasksHost("alertmanager"), port: PORTS.alertmanager },
        ruleFiles: ["/etc/prometheus/rules/*.yml"],
        externalLabels: { environment: config.environment },
      }),
    "prometheus-rules.yml": () => alertRulesYaml(),
    "prometheus-data-rules.yml": () => dataAlertRulesYaml(config),
    "alertmanager.yml": () => alertmanagerConfigYaml(alertingInput(config)),
    "grafana-datasources.yml": () => grafanaDatasourcesYaml(`http://${tasksHost("prometheus")}:${PORTS.prometheus}`),
    "grafana-dashboards.yml": () => grafanaDashboardProvidersYaml(GRAFANA_DASHBOARDS_DIR),
    "grafana-medianest-dashboard.json": () => medianestDashboardJson(),
  };
  const used = new Set(specs.flatMap((s) => (s.files ?? []).map((f) => f.file)));
  const envFiles = specs.flatMap((s): [EnvFile, string][] => (s.envFile ? [[s.envFile.name, s.envFile.content]] : []));
  return { ...Object.fromEntries([...used].sort().map((file) => [file, all[file]()])), ...Object.fromEntries(envFiles) };
}
