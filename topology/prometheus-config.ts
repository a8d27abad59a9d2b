// prometheus.yml for a Prometheus task on the monitoring network. Targets are
// found by DNS: Swarm answers `tasks.<service>` with one A record per running
// task, so replicas, rescheduled tasks and global services (node-exporter,
// cAdvisor: one task per node) are all enumerated without a Docker socket.
import { stringify } from "yaml";

export interface ScrapeTarget {
  readonly job: string;
  /** e.g. tasks.medianest-backend */
  readonly dnsName: string;
  /** More services scraped as the same job (e.g. blue/green backends), all on `port`. */
  readonly extraDnsNames?: readonly string[];
  readonly port: number;
  readonly metricsPath?: string;
  readonly scheme?: "http" | "https";
  /** Path of a file (a Swarm secret) holding a bearer token; the token never enters the config. */
  readonly bearerTokenFile?: string;
  /** URL parameters of every scrape (an exporter's multi-target `/scrape?target=`). */
  readonly params?: Readonly<Record<string, readonly string[]>>;
  /** The metric names the target serves (domain/exported-metrics.ts, the app contract): rules and panels may query only these. */
  readonly exports: readonly string[];
  /**
   * Tasks that should answer, per Swarm service (the swarm_service label): the service's
   * replicas, or the eligible nodes of a global one. The availability rules compare them
   * with the tasks that do answer.
   */
  readonly expectedTasks: Readonly<Record<string, number>>;
}

export interface PrometheusConfigInput {
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
  readonly targets: readonly ScrapeTarget[];
  readonly alertmanager: { readonly dnsName: string; readonly port: number };
  readonly ruleFiles: readonly string[];
  readonly externalLabels?: Readonly<Record<string, string>>;
}

export interface DnsSdConfig {
  readonly names: readonly string[];
  readonly type: "A";
  readonly port: number;
}

export interface RelabelConfig {
  readonly source_labels: readonly string[];
  readonly target_label: string;
  readonly regex?: string;
  readonly replacement?: string;
}

export interface ScrapeConfig {
  readonly job_name: string;
  readonly metrics_path: string;
  readonly scheme: "http" | "https";
  readonly authorization?: { readonly type: "Bearer"; readonly credentials_file: string };
  readonly params?: Readonly<Record<string, readonly string[]>>;
  readonly dns_sd_configs: readonly DnsSdConfig[];
  readonly relabel_configs: readonly RelabelConfig[];
}

export interface PrometheusConfig {
  readonly global: {
    readonly scrape_interval: string;
    readonly evaluation_interval: string;
    readonly external_labels?: Readonly<Record<string, string>>;
  };
  readonly rule_files: readonly string[];
  readonly alerting: { readonly alertmanagers: readonly { readonly dns_sd_configs: readonly DnsSdConfig[] }[] };
  readonly scrape_configs: readonly ScrapeConfig[];
}

/** Prometheus' duration syntax ("15s", "1m30s"); a typo would otherwise surface only as a crash-looping task. */
const DURATION = /^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;

function checkDuration(name: string, value: string): void {
  if (value === "" || !DURATION.test(value)) throw new Error(`${name}: "${value}" is not a Prometheus duration`);
}

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name}: port ${port} is out of range`);
}

const dnsSd = (names: readonly string[], port: number): DnsSdConfig => ({ names: [...names], type: "A", port });

/**
 * `instance` is the task address (`<ip>:<port>`, what Prometheus does by default;
 * spelled out so nobody "fixes" it to the DNS name, which every task shares).
 * `swarm_service` names the service the DNS name belongs to. `job` stays job_name.
 */
const RELABEL: readonly RelabelConfig[] = [
  { source_labels: ["__address__"], target_label: "instance" },
  { source_labels: ["__meta_dns_name"], regex: "tasks\\.(.+)", target_label: "swarm_service", replacement: "$1" },
];

function scrapeConfig(target: ScrapeTarget): ScrapeConfig {
  checkPort(`target ${target.job}`, target.port);
  return {
    job_name: target.job,
    metrics_path: target.metricsPath ?? "/metrics",
    scheme: target.scheme ?? "http",
    // `authorization` replaces the deprecated bearer_token_file (Prometheus >= 2.26).
    ...(target.bearerTokenFile === undefined ? {} : { authorization: { type: "Bearer" as const, credentials_file: target.bearerTokenFile } }),
    ...(target.params === undefined ? {} : { params: target.params }),
    dns_sd_configs: [dnsSd([target.dnsName, ...(target.extraDnsNames ?? [])], target.port)],
    relabel_configs: RELABEL,
  };
}

export function prometheusConfig(input: PrometheusConfigInput): PrometheusConfig {
  checkDuration("scrapeInterval", input.scrapeInterval);
  checkDuration("evaluationInterval", input.evaluationInterval);
  checkPort("alertmanager", input.alertmanager.port);
  const jobs = new Set<string>();
  for (const { job } of input.targets) {
    // Prometheus refuses to start with duplicate job names.
    if (jobs.has(job)) throw new Error(`duplicate scrape job "${job}"`);
    jobs.add(job);
  }
  const externalLabels = input.externalLabels ?? {};
  return {
    global: {
      scrape_interval: input.scrapeInterval,
      evaluation_interval: input.evaluationInterval,
      ...(Object.keys(externalLabels).length > 0 ? { external_labels: { ...externalLabels } } : {}),
    },
    rule_files: [...input.ruleFiles],
    // Prometheus sends every alert to every Alertmanager task; more than one task
    // must be clustered (--cluster.peer) so notifications are not duplicated.
    alerting: { alertmanagers: [{ dns_sd_configs: [dnsSd([input.alertmanager.dnsName], input.alertmanager.port)] }] },
    scrape_configs: input.targets.map(scrapeConfig),
  };
}

export function prometheusConfigYaml(input: PrometheusConfigInput): string {
  // No YAML anchors for the shared relabel list: every job reads on its own.
  return `# Generated by topology/prometheus-config.ts; do not edit.\n${stringify(prometheusConfig(input), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
