// Every alert rule and every dashboard panel of every stack queries only metrics that a
// target of that stack exports (the lists next to the scrape targets: domain/exported-
// metrics.ts, the app contract). A query on a name nobody exports returns nothing, and a
// rule on it never fires: this is the check that keeps rules on real metrics.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MEDIANEST_CONTRACT } from "../domain/app-contract";
import { BACKUP_TEXTFILE_METRICS, SCRAPE_SERIES } from "../domain/exported-metrics";
import { SCRIPTS_DIR } from "../scripts/loader";
import { scrapeTargets } from "../topology/generated-files";
import type { ScrapeTarget } from "../topology/prometheus-config";
import { servicesOf } from "../topology/services";
import { planStack } from "../topology/stack-plan";
import { STACKS } from "../tools/mocked-program";
import { matches, selectors } from "./support/promql";
import { validatedStackConfig } from "./support/stack-config";

interface Query {
  readonly where: string;
  readonly expr: string;
}

/** Series Prometheus' rule manager writes itself (rules/alerting.go). */
const RULE_SERIES = ["ALERTS", "ALERTS_FOR_STATE"];

/** Each selector whose metric no target it can come from exports, as "where: name (job)". */
function unknownMetrics(queries: readonly Query[], targets: readonly ScrapeTarget[]): string[] {
  const unknown: string[] = [];
  for (const { where, expr } of queries) {
    for (const selector of selectors(expr)) {
      if (RULE_SERIES.includes(selector.name)) continue;
      const job = selector.matchers.find((m) => m.label === "job");
      const from = targets.filter((t) => job === undefined || matches(job, t.job));
      const exported = new Set([...(from.length > 0 ? SCRAPE_SERIES : []), ...from.flatMap((t) => t.exports)]);
      if (!exported.has(selector.name)) unknown.push(`${where}: ${selector.name}${job ? ` (job ${job.op}"${job.value}")` : ""}`);
    }
  }
  return unknown;
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
}

function stackQueries(stack: (typeof STACKS)[number]): { queries: Query[]; targets: ScrapeTarget[]; ruleFiles: string[] } {
  const plan = planStack(validatedStackConfig(stack));
  const files = plan.configFiles.files;
  const targets = scrapeTargets(plan.config, plan.topology, servicesOf(plan.services));
  const ruleFiles = Object.keys(files).filter((f) => /^prometheus-.*rules\.yml$/.test(f));
  const queries: Query[] = [];
  for (const file of ruleFiles) {
    for (const group of (parse(files[file as keyof typeof files] ?? "") as RuleFile).groups) {
      for (const rule of group.rules) queries.push({ where: `${file} ${rule.alert ?? rule.record ?? "?"}`, expr: rule.expr });
    }
  }
  const dashboard = files["grafana-medianest-dashboard.json"];
  if (dashboard !== undefined) {
    for (const panel of (JSON.parse(dashboard) as Dashboard).panels) {
      for (const target of panel.targets ?? []) queries.push({ where: `panel "${panel.title}"`, expr: target.expr });
    }
  }
  return { queries, targets, ruleFiles };
}

describe("the PromQL reader finds every selector", () => {
  it("in functions, aggregations, binary operations, subqueries, offsets and {__name__=...}", () => {
    const expr =
      'histogram_quantile(0.95, sum by (le) (rate(a_bucket{job="x",code=~"5.."}[5m]))) > 0.2 and on() absent(b{job="y"}) ' +
      'or max_over_time(c[1h:1m]) offset 5m unless {__name__="d_total", job!="z"} + label_replace(e, "dst", "$1", "src", "(f_not_a_metric)")';
    expect(selectors(expr).map((s) => s.name)).toEqual(["a_bucket", "b", "c", "d_total", "e"]);
    expect(selectors(expr)[0]?.matchers).toEqual([
      { label: "job", op: "=", value: "x" },
      { label: "code", op: "=~", value: "5.." },
    ]);
  });

  it("refuses what it cannot check: a syntax error, a selector with no metric name", () => {
    expect(() => selectors("rate(a[5m]")).toThrow(/does not parse/);
    expect(() => selectors('{job="x"}')).toThrow(/without a metric name/);
  });

  it("reports a metric no target exports, and one asked of the wrong job", () => {
    const targets: ScrapeTarget[] = [{ job: "node-exporter", dnsName: "tasks.n", port: 1, exports: ["node_load1"], expectedTasks: {} }];
    expect(unknownMetrics([{ where: "r", expr: 'node_load1{job="node-exporter"} > 1 and up == 0' }], targets)).toEqual([]);
    expect(unknownMetrics([{ where: "r", expr: "medianest_page_load_seconds_bucket > 1" }], targets)).toEqual(["r: medianest_page_load_seconds_bucket"]);
    expect(unknownMetrics([{ where: "r", expr: 'node_load1{job="traefik"}' }], targets)).toEqual(['r: node_load1 (job ="traefik")']);
  });
});

describe.each(STACKS)("stack %s: rules and panels query metrics its targets export", (stack) => {
  it("every selector of every rule file and dashboard panel names an exported metric of a target it can come from", () => {
    const { queries, targets, ruleFiles } = stackQueries(stack);
    const config = validatedStackConfig(stack);
    if (config.monitoring.enabled) {
      expect(ruleFiles.length).toBeGreaterThan(0);
      expect(queries.length).toBeGreaterThan(20);
    } else expect(queries).toEqual([]);
    expect(unknownMetrics(queries, targets)).toEqual([]);
  });
});

describe("the app's /metrics in the contract", () => {
  it("lists what upstream serves with samples apart from what it declares and never fills", () => {
    const { exported, withoutSamples } = MEDIANEST_CONTRACT.backend.metrics;
    expect(exported.filter((m) => withoutSamples.some((w) => m.startsWith(w)))).toEqual([]);
    // The request histogram is declared upstream but never observed by server.ts: no rule may use it.
    expect(withoutSamples).toContain("http_request_duration_seconds");
    expect(exported).toEqual(expect.arrayContaining(["app_info", "process_cpu_seconds_total", "nodejs_eventloop_lag_seconds"]));
  });
});

describe("the backup textfile metrics", () => {
  it("are exactly the families the backup scripts write", () => {
    const written = new Set<string>();
    for (const script of ["backup/pg-dump.sh", "backup/upload.sh"]) {
      for (const match of readFileSync(path.join(SCRIPTS_DIR, script), "utf8").matchAll(/# TYPE (medianest_[a-z_]+) gauge/g)) written.add(match[1] as string);
    }
    expect([...written].sort()).toEqual([...BACKUP_TEXTFILE_METRICS].sort());
  });
});
