// Monitoring config generators: the spec's Performance Benchmarks table becomes
// alert rules, Prometheus/Alertmanager config and a Grafana dashboard. The
// spec's numbers are written out again below, independently of
// domain/benchmarks.ts, so a typo in the data fails here.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { alertRules, alertRulesYaml } from "../topology/alert-rules";
import { dataAlertRulesYaml } from "../topology/data-alert-rules";
import { validatedStackConfig } from "./support/stack-config";
import { alertmanagerConfigYaml, type AlertingInput } from "../topology/alertmanager-config";
import { PERFORMANCE_BENCHMARKS, UPLOAD_SAMPLE_BYTES, type PerformanceBenchmark } from "../domain/benchmarks";
import { grafanaDashboardProvidersYaml, grafanaDatasourcesYaml, medianestDashboardJson } from "../topology/grafana-provisioning";
import { prometheusConfigYaml, type PrometheusConfigInput } from "../topology/prometheus-config";

type Direction = "above-is-bad" | "below-is-bad";
interface SpecRow {
  readonly metric: string;
  readonly unit: string;
  readonly target: number;
  readonly acceptable: number;
  readonly actionRequired: number;
  readonly direction: Direction;
}

/** deployment-topology.md, "Performance Benchmarks". */
const SPEC: readonly SpecRow[] = [
  { metric: "API Response Time", unit: "ms", target: 100, acceptable: 200, actionRequired: 500, direction: "above-is-bad" },
  { metric: "Page Load Time", unit: "s", target: 2, acceptable: 3, actionRequired: 5, direction: "above-is-bad" },
  { metric: "File Upload Speed", unit: "MB/s", target: 50, acceptable: 25, actionRequired: 10, direction: "below-is-bad" },
  { metric: "Search Response", unit: "ms", target: 50, acceptable: 100, actionRequired: 200, direction: "above-is-bad" },
  { metric: "CPU Utilization", unit: "%", target: 70, acceptable: 85, actionRequired: 90, direction: "above-is-bad" },
  { metric: "Memory Usage", unit: "%", target: 80, acceptable: 90, actionRequired: 95, direction: "above-is-bad" },
  { metric: "Disk I/O Wait", unit: "%", target: 10, acceptable: 20, actionRequired: 30, direction: "above-is-bad" },
];

/** The series each row must be computed from: the edge's per-router histograms and node-exporter (the app exports no request latency). */
const SOURCE_SERIES: Readonly<Record<string, readonly string[]>> = {
  "API Response Time": ['traefik_router_request_duration_seconds_bucket{job="traefik",router="api@swarm",protocol="http"}', "histogram_quantile(0.95", "* 1000"],
  "Page Load Time": ['traefik_router_request_duration_seconds_bucket{job="traefik",router="frontend@swarm",protocol="http",method="GET"}', "histogram_quantile(0.95"],
  "File Upload Speed": ['traefik_router_requests_bytes_total{job="traefik",router="api@swarm",protocol="http",method=~"POST|PUT|PATCH"}', "traefik_router_request_duration_seconds_sum", "> 0"],
  "Search Response": ['traefik_router_request_duration_seconds_bucket{job="traefik",router="api-search@swarm",protocol="http"}', "histogram_quantile(0.95", "* 1000"],
  "CPU Utilization": ['node_cpu_seconds_total{job="node-exporter",mode="idle"}', "100"],
  "Memory Usage": ['node_memory_MemAvailable_bytes{job="node-exporter"}', 'node_memory_MemTotal_bytes{job="node-exporter"}', "100"],
  "Disk I/O Wait": ['node_cpu_seconds_total{job="node-exporter",mode="iowait"}', "100"],
};
/** The rows nothing in the stack measures as the spec means them: their figure is a named proxy. */
const PROXY_ROWS = ["Page Load Time", "File Upload Speed"];

const GRAFANA_UNIT: Readonly<Record<string, string>> = { ms: "ms", s: "s", "MB/s": "MBs", "%": "percent" };

function benchmarkFor(row: SpecRow): PerformanceBenchmark {
  const found = PERFORMANCE_BENCHMARKS.find((b) => b.metric === row.metric);
  if (found === undefined) throw new Error(`no benchmark for "${row.metric}"`);
  return found;
}

// ---- parsed shapes (only what the tests read) ----

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface DnsSd {
  names: string[];
  type: string;
  port: number;
}
interface PromConfig {
  global: { scrape_interval: string; evaluation_interval: string; external_labels?: Record<string, string> };
  rule_files: string[];
  alerting: { alertmanagers: { dns_sd_configs: DnsSd[] }[] };
  scrape_configs: {
    job_name: string;
    metrics_path: string;
    scheme: string;
    authorization?: { type: string; credentials_file: string };
    dns_sd_configs: DnsSd[];
    relabel_configs: { source_labels: string[]; target_label: string }[];
  }[];
}
interface AmRoute {
  receiver?: string;
  matchers?: string[];
  group_by?: string[];
  repeat_interval?: string;
  continue?: boolean;
  routes?: AmRoute[];
}
interface AmConfig {
  route: AmRoute;
  receivers: ({ name: string } & Record<string, unknown>)[];
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { expr: string; datasource: { type: string; uid: string } }[];
  fieldConfig: { defaults: { unit: string; thresholds: { mode: string; steps: { color: string; value: number | null }[] } } };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  refresh: string;
  panels: Panel[];
}

const rulesFile = (): RuleFile => parse(alertRulesYaml()) as RuleFile;

function ruleNamed(file: RuleFile, name: string): Rule {
  const found = file.groups.flatMap((g) => g.rules).filter((r) => r.alert === name);
  expect(found, `rule ${name}`).toHaveLength(1);
  return found[0] as Rule;
}

describe("performance benchmark table", () => {
  it("is exactly the spec's seven rows, in order, with the spec's numbers and directions", () => {
    expect(
      PERFORMANCE_BENCHMARKS.map(({ metric, unit, target, acceptable, actionRequired, direction }) => ({
        metric,
        unit,
        target,
        acceptable,
        actionRequired,
        direction,
      })),
    ).toEqual(SPEC);
  });

  it("has unique PascalCase ids", () => {
    const ids = PERFORMANCE_BENCHMARKS.map((b) => b.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Z][A-Za-z0-9]*$/);
  });

  it("computes each row from the documented series", () => {
    for (const row of SPEC) {
      const { expr } = benchmarkFor(row);
      for (const part of SOURCE_SERIES[row.metric] ?? ["<missing expectation>"]) expect(expr, row.metric).toContain(part);
    }
  });

  it("puts no threshold into the measured expression (thresholds belong to the rules)", () => {
    // The upload row's minimum sample is a data-sufficiency filter, not a bound of the spec.
    for (const b of PERFORMANCE_BENCHMARKS) expect(b.expr.replace(`> ${UPLOAD_SAMPLE_BYTES})`, "")).not.toMatch(/[<>]\s*(?!0\))\d/);
  });

  it("names the rows without a real source as server-side proxies, and says why", () => {
    expect(PERFORMANCE_BENCHMARKS.filter((b) => b.source.proxy !== undefined).map((b) => b.metric)).toEqual(PROXY_ROWS);
    const file = rulesFile();
    for (const b of PERFORMANCE_BENCHMARKS) {
      for (const suffix of ["Warning", "Critical"]) {
        const { annotations } = ruleNamed(file, `${b.id}${suffix}`);
        expect(annotations.description).toContain(`Measured: ${b.source.measures}.`);
        if (PROXY_ROWS.includes(b.metric)) {
          expect(annotations.summary).toContain("(server-side proxy)");
          expect(annotations.description).toContain("No real source");
        } else expect(annotations.summary).not.toContain("proxy");
      }
    }
  });
});

describe("alert rules", () => {
  it("has one group with exactly two rules per spec row", () => {
    const file = rulesFile();
    expect(file.groups.map((g) => g.name)).toEqual(["medianest-performance"]);
    expect(file.groups[0]?.rules).toHaveLength(SPEC.length * 2);
    expect(file.groups[0]?.rules).toHaveLength(14);
  });

  it("warns past the spec's Acceptable and goes critical past Action Required, in the right direction", () => {
    const file = rulesFile();
    for (const row of SPEC) {
      const b = benchmarkFor(row);
      const worse = row.direction === "above-is-bad" ? ">" : "<";
      const warning = ruleNamed(file, `${b.id}Warning`);
      const critical = ruleNamed(file, `${b.id}Critical`);
      expect(warning.expr).toBe(`(${b.expr}) ${worse} ${row.acceptable}`);
      expect(critical.expr).toBe(`(${b.expr}) ${worse} ${row.actionRequired}`);
      expect(warning.labels).toEqual({ severity: "warning", benchmark: b.id });
      expect(critical.labels).toEqual({ severity: "critical", benchmark: b.id });
      expect(warning.for).toBe("5m");
      expect(["5m", "2m"]).toContain(critical.for);
    }
  });

  it("alerts on File Upload Speed when it drops below the bounds, not above", () => {
    const file = rulesFile();
    const id = benchmarkFor(SPEC[2] as SpecRow).id;
    expect(ruleNamed(file, `${id}Warning`).expr).toMatch(/\) < 25$/);
    expect(ruleNamed(file, `${id}Critical`).expr).toMatch(/\) < 10$/);
  });

  it("annotations state the measured value, the threshold, the spec target and a runbook hint", () => {
    const file = rulesFile();
    for (const row of SPEC) {
      const b = benchmarkFor(row);
      for (const [suffix, threshold] of [["Warning", row.acceptable], ["Critical", row.actionRequired]] as const) {
        const { annotations } = ruleNamed(file, `${b.id}${suffix}`);
        expect(Object.keys(annotations).sort()).toEqual(["description", "runbook", "summary"]);
        expect(annotations.summary).toContain("{{ $value");
        expect(annotations.summary).toContain(String(threshold));
        expect(annotations.description).toContain("{{ $value");
        expect(annotations.description).toMatch(new RegExp(`target [<>] ${row.target}\\b`));
        expect(annotations.runbook?.length ?? 0).toBeGreaterThan(10);
      }
    }
  });

  it("follows the benchmarks it is given and refuses duplicate ids", () => {
    const one = benchmarkFor(SPEC[0] as SpecRow);
    const custom = { ...one, id: "Custom", acceptable: 7, actionRequired: 9 };
    const rules = alertRules([custom]).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => [r.alert, r.expr.slice(-5)])).toEqual([
      ["CustomWarning", ") > 7"],
      ["CustomCritical", ") > 9"],
    ]);
    expect(() => alertRules([one, one])).toThrow(/duplicate/);
  });
});

describe("Prometheus config", () => {
  const input: PrometheusConfigInput = {
    scrapeInterval: "15s",
    evaluationInterval: "30s",
    targets: [
      {
        job: "medianest-backend",
        dnsName: "tasks.medianest-backend-blue",
        extraDnsNames: ["tasks.medianest-backend-green"],
        port: 3001,
        metricsPath: "/api/metrics",
        bearerTokenFile: "/run/secrets/metrics-token",
        exports: [],
        expectedTasks: {},
      },
      { job: "node-exporter", dnsName: "tasks.node-exporter", port: 9100, exports: [], expectedTasks: {} },
      { job: "cadvisor", dnsName: "tasks.cadvisor", port: 8080, scheme: "https", exports: [], expectedTasks: {} },
    ],
    alertmanager: { dnsName: "tasks.alertmanager", port: 9093 },
    ruleFiles: ["/etc/prometheus/rules/medianest.yml"],
    externalLabels: { cluster: "production" },
  };
  const text = prometheusConfigYaml(input);
  const config = parse(text) as PromConfig;

  it("has one job per target, discovered through the target's tasks.<service> DNS name", () => {
    expect(config.scrape_configs.map((s) => s.job_name)).toEqual(["medianest-backend", "node-exporter", "cadvisor"]);
    for (const target of input.targets) {
      const job = config.scrape_configs.find((s) => s.job_name === target.job);
      expect(job?.dns_sd_configs).toEqual([{ names: [target.dnsName, ...(target.extraDnsNames ?? [])], type: "A", port: target.port }]);
      expect(job?.metrics_path).toBe(target.metricsPath ?? "/metrics");
      expect(job?.scheme).toBe(target.scheme ?? "http");
      expect(job?.relabel_configs).toContainEqual({ source_labels: ["__address__"], target_label: "instance" });
      expect(job?.relabel_configs.some((r) => r.target_label === "job")).toBe(false);
    }
  });

  it("scrapes extra DNS names (blue/green backends) as the same job", () => {
    expect(config.scrape_configs[0]?.dns_sd_configs[0]?.names).toEqual(["tasks.medianest-backend-blue", "tasks.medianest-backend-green"]);
  });

  it("passes a bearer token by file only", () => {
    expect(config.scrape_configs[0]?.authorization).toEqual({ type: "Bearer", credentials_file: "/run/secrets/metrics-token" });
    expect(config.scrape_configs[1]?.authorization).toBeUndefined();
  });

  it("finds Alertmanager by DNS and loads the rule files", () => {
    expect(config.alerting.alertmanagers).toEqual([{ dns_sd_configs: [{ names: ["tasks.alertmanager"], type: "A", port: 9093 }] }]);
    expect(config.rule_files).toEqual(["/etc/prometheus/rules/medianest.yml"]);
    expect(config.global).toEqual({ scrape_interval: "15s", evaluation_interval: "30s", external_labels: { cluster: "production" } });
  });

  it("refuses duplicate jobs and malformed intervals", () => {
    expect(() => prometheusConfigYaml({ ...input, targets: [...input.targets, { job: "cadvisor", dnsName: "tasks.x", port: 1, exports: [], expectedTasks: {} }] })).toThrow(/duplicate/);
    expect(() => prometheusConfigYaml({ ...input, scrapeInterval: "15 seconds" })).toThrow(/duration/);
  });
});

/** Every `key: value` pair in a parsed document, at any depth. */
function entries(value: unknown): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap(entries);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [[k, v] as [string, unknown], ...entries(v)]);
  }
  return [];
}

/** Minutes in an Alertmanager duration made of h/m/s parts. */
function minutes(duration: string | undefined): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration ?? "");
  if (match === null || duration === "") throw new Error(`unexpected duration ${duration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0) + Number(match[3] ?? 0) / 60;
}

describe("Alertmanager config", () => {
  const full: AlertingInput = {
    webhook: { urlFile: "/run/secrets/alert-webhook-url" },
    email: { to: "ops@example.org", from: "alerts@example.org", smarthost: "smtp.example.org:587", username: "alerts", passwordFile: "/run/secrets/smtp-password", requireTls: true },
    slack: { apiUrlFile: "/run/secrets/slack-webhook-url", channel: "#medianest" },
  };
  const config = parse(alertmanagerConfigYaml(full)) as AmConfig;

  it("has a receiver per configured channel", () => {
    expect(config.receivers.map((r) => r.name)).toEqual(["webhook", "email", "slack"]);
    expect(config.receivers[1]?.email_configs).toEqual([expect.objectContaining({ to: "ops@example.org", smarthost: "smtp.example.org:587", require_tls: true, auth_username: "alerts" })]);
    expect(config.receivers[2]?.slack_configs).toEqual([expect.objectContaining({ channel: "#medianest" })]);
  });

  it("references every credential by file, and holds no secret value", () => {
    const secretish = entries(config).filter(([key]) => /password|secret|token|url|api_key/i.test(key));
    expect(secretish.map(([key]) => key).sort()).toEqual(["api_url_file", "auth_password_file", "url_file"]);
    expect(Object.fromEntries(secretish)).toEqual({
      url_file: "/run/secrets/alert-webhook-url",
      auth_password_file: "/run/secrets/smtp-password",
      api_url_file: "/run/secrets/slack-webhook-url",
    });
  });

  it("refuses a secret pasted where its file path belongs", () => {
    expect(() => alertmanagerConfigYaml({ webhook: { urlFile: "https://hooks.example.org/T0K3N" } })).toThrow(/path/);
    expect(() => alertmanagerConfigYaml({ slack: { apiUrlFile: "https://hooks.slack.com/services/X", channel: "#a" } })).toThrow(/path/);
  });

  it("groups by alert and severity, repeats criticals more often than warnings, and reaches every receiver", () => {
    const { route } = config;
    expect(route.group_by).toEqual(["alertname", "severity"]);
    const critical = route.routes?.find((r) => r.matchers?.includes('severity="critical"'));
    const warning = route.routes?.find((r) => r.matchers?.includes('severity="warning"'));
    expect(critical).toBeDefined();
    expect(warning).toBeDefined();
    expect(minutes(critical?.repeat_interval)).toBeLessThan(minutes(warning?.repeat_interval ?? route.repeat_interval));
    for (const severityRoute of [critical, warning]) {
      const reached = (severityRoute?.routes ?? [severityRoute]).map((r) => r?.receiver ?? severityRoute?.receiver);
      expect(new Set(reached)).toEqual(new Set(["webhook", "email", "slack"]));
      for (const child of severityRoute?.routes ?? []) expect(child.continue).toBe(true);
    }
  });

  it("scales the critical repeat interval from the configured one", () => {
    const custom = parse(alertmanagerConfigYaml({ ...full, repeatInterval: "8h", groupWait: "10s" })) as AmConfig & { route: { group_wait: string } };
    expect(custom.route.group_wait).toBe("10s");
    const byMatcher = Object.fromEntries((custom.route.routes ?? []).map((r) => [r.matchers?.[0], minutes(r.repeat_interval)]));
    expect(byMatcher).toEqual({ 'severity="critical"': 120, 'severity="warning"': 480 });
  });

  it("falls back to a single null receiver when nothing is configured", () => {
    const empty = parse(alertmanagerConfigYaml({})) as AmConfig;
    expect(empty.receivers).toEqual([{ name: "null" }]);
    expect(empty.route.receiver).toBe("null");
    for (const r of empty.route.routes ?? []) expect(r.receiver ?? "null").toBe("null");
  });

  it("routes straight to the only receiver when one is configured", () => {
    const single = parse(alertmanagerConfigYaml({ webhook: full.webhook })) as AmConfig;
    expect(single.receivers.map((r) => r.name)).toEqual(["webhook"]);
    expect(single.route.receiver).toBe("webhook");
    for (const r of single.route.routes ?? []) expect([r.receiver, r.routes]).toEqual(["webhook", undefined]);
  });

  it("inhibits a benchmark's warning while its critical fires", () => {
    expect(config.inhibit_rules).toHaveLength(1);
    const [inhibit] = config.inhibit_rules;
    expect(inhibit?.source_matchers).toContain('severity="critical"');
    expect(inhibit?.target_matchers).toEqual(['severity="warning"']);
    expect(inhibit?.equal).toContain("benchmark");
    // The label the inhibition matches on is actually set by every rule.
    for (const rule of rulesFile().groups.flatMap((g) => g.rules)) expect(rule.labels.benchmark).toBeTruthy();
  });
});

type Rect = { x: number; y: number; w: number; h: number };
const overlaps = (a: Rect, b: Rect): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe("Grafana provisioning", () => {
  it("provisions one default, read-only Prometheus datasource", () => {
    const doc = parse(grafanaDatasourcesYaml("http://tasks.prometheus:9090")) as { apiVersion: number; datasources: Record<string, unknown>[] };
    expect(doc.apiVersion).toBe(1);
    expect(doc.datasources).toEqual([
      expect.objectContaining({ type: "prometheus", uid: "prometheus", url: "http://tasks.prometheus:9090", isDefault: true, editable: false }),
    ]);
  });

  it("provisions a file dashboard provider in the MediaNest folder, locked against UI edits", () => {
    const doc = parse(grafanaDashboardProvidersYaml("/etc/grafana/dashboards")) as { apiVersion: number; providers: Record<string, unknown>[] };
    expect(doc.apiVersion).toBe(1);
    expect(doc.providers).toEqual([
      expect.objectContaining({ type: "file", folder: "MediaNest", allowUiUpdates: false, options: expect.objectContaining({ path: "/etc/grafana/dashboards" }) }),
    ]);
  });

  const dashboard = JSON.parse(medianestDashboardJson()) as Dashboard;

  it("is the MediaNest overview dashboard", () => {
    expect([dashboard.uid, dashboard.title, dashboard.schemaVersion, dashboard.refresh]).toEqual(["medianest-overview", "MediaNest", 39, "30s"]);
  });

  it("has one panel per spec row plus a Services up panel, with unique ids", () => {
    expect(dashboard.panels).toHaveLength(SPEC.length + 1);
    const title = (metric: string) => (PROXY_ROWS.includes(metric) ? `${metric} (server-side proxy)` : metric);
    expect(dashboard.panels.map((p) => p.title).sort()).toEqual([...SPEC.map((r) => title(r.metric)), "Services up"].sort());
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const up = dashboard.panels.find((p) => p.title === "Services up");
    expect([up?.type, up?.targets[0]?.expr]).toEqual(["stat", "sum by (job) (up)"]);
  });

  it("lays panels out on the 24-column grid without overlaps", () => {
    // The check itself must be able to fail.
    expect(overlaps({ x: 0, y: 0, w: 12, h: 8 }, { x: 11, y: 7, w: 12, h: 8 })).toBe(true);
    expect(overlaps({ x: 0, y: 0, w: 12, h: 8 }, { x: 12, y: 0, w: 12, h: 8 })).toBe(false);
    const rects = dashboard.panels.map((p) => p.gridPos);
    for (const r of rects) {
      expect(r.x + r.w).toBeLessThanOrEqual(24);
      expect(Math.min(r.x, r.y, r.w, r.h - 1)).toBeGreaterThanOrEqual(0);
    }
    rects.forEach((a, i) => rects.slice(i + 1).forEach((b) => expect(overlaps(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(false)));
  });

  it("queries Prometheus with each benchmark's expression, in its unit, with the spec's thresholds", () => {
    for (const row of SPEC) {
      const panel = dashboard.panels.find((p) => p.title.replace(" (server-side proxy)", "") === row.metric);
      expect(panel?.type).toBe("timeseries");
      expect(panel?.datasource).toEqual({ type: "prometheus", uid: "prometheus" });
      expect(panel?.targets.map((t) => [t.expr, t.datasource.uid])).toEqual([[benchmarkFor(row).expr, "prometheus"]]);
      expect(panel?.fieldConfig.defaults.unit).toBe(GRAFANA_UNIT[row.unit]);
      const steps = panel?.fieldConfig.defaults.thresholds.steps;
      expect(steps).toEqual(
        row.direction === "above-is-bad"
          ? [{ color: "green", value: null }, { color: "yellow", value: row.acceptable }, { color: "red", value: row.actionRequired }]
          : [{ color: "red", value: null }, { color: "yellow", value: row.actionRequired }, { color: "green", value: row.acceptable }],
      );
    }
  });
});

describe("data alert rules", () => {
  it("production alerts on slot lag, a lost slot, an idle slot and no synchronous standby; a stack without replicas has none of them", () => {
    const rules = (stack: "production" | "homelab") => (parse(dataAlertRulesYaml(validatedStackConfig(stack))) as RuleFile).groups.flatMap((g) => g.rules);
    const production = rules("production");
    expect(production.map((r) => r.alert)).toEqual(expect.arrayContaining(["PostgresReplicationSlotLagging", "PostgresReplicationSlotLost", "PostgresReplicaNotStreaming", "PostgresNoSynchronousStandby"]));
    // Half of the configured bound (8192 MB) left is the warning.
    expect(production.find((r) => r.alert === "PostgresReplicationSlotLagging")?.expr).toBe(`pg_replication_slot_safe_wal_size_bytes{slot_type="physical"} < ${4096 * 1024 * 1024}`);
    expect(rules("homelab").filter((r) => r.alert.startsWith("Postgres"))).toEqual([]);
  });
});
