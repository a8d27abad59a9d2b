// Each alert this branch added or changed fires on its fixture's `firing` series and stays
// silent on its `silent` ones (test/support/new-alert-fixtures.ts), judged by the real
// Prometheus rule engine: `promtool test rules` on the stack's generated rule files. One
// promtool run per stack (production by default). Skips where promtool is missing (Debian: apt-get install
// prometheus), unless REQUIRE_PROMTOOL=1.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { planStack } from "../topology/stack-plan";
import { STACKS } from "../tools/mocked-program";
import { FIXTURE_INTERVAL, NEW_ALERT_FIXTURES, type AlertCase } from "./support/new-alert-fixtures";
import { matches, selectors } from "./support/promql";
import { validatedStackConfig } from "./support/stack-config";

const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));
const required = process.env.REQUIRE_PROMTOOL === "1";
if (PROMTOOL === undefined && !required) console.warn("alert-fixtures-promtool.test.ts skipped: promtool missing (apt-get install prometheus)");

/** Alerts older than this branch whose expressions it did not change (their fixtures live elsewhere). */
const UNCHANGED = new Set([
  "PostgresReplicationSlotLagging",
  "PostgresReplicationSlotLost",
  "PostgresReplicaNotStreaming",
  "PostgresNoSynchronousStandby",
  "BackupTooOld",
  "BackupMetricsMissing",
  "OffsiteCopyTooOld",
  "OffsiteCopyMissing",
]);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** 1 while the alert fires at evalTime, else 0. */
const firingNow = (alert: string) => `clamp_max(count(ALERTS{alertname=${JSON.stringify(alert)},alertstate="firing"}), 1) or vector(0)`;

interface Case {
  readonly alert: string;
  readonly expr: string;
  readonly fires: boolean;
  readonly case: AlertCase;
}

/** A series of promtool's notation as name and labels (the fixtures write `name{k="v",...}`). */
function seriesLabels(series: string): { name: string; labels: Record<string, string> } {
  const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?$/.exec(series);
  if (!match) throw new Error(`unreadable series ${series}`);
  const labels: Record<string, string> = {};
  for (const pair of (match[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*")/g)) labels[pair[1] as string] = JSON.parse(pair[2] as string) as string;
  return { name: match[1] as string, labels };
}

/** Would the alert's expression read this series (some selector matches its name and labels)? */
function reads(expr: string, series: string): boolean {
  const { name, labels } = seriesLabels(series);
  return selectors(expr).some((s) => s.name === name && s.matchers.every((m) => matches(m, labels[m.label] ?? "")));
}

const conflict = (a: Case, b: Case): boolean =>
  a.alert === b.alert ||
  a.case.series.some((x) => b.case.series.some((y) => x.series === y.series)) ||
  b.case.series.some((x) => reads(a.expr, x.series)) ||
  a.case.series.some((x) => reads(b.expr, x.series));

/**
 * Cases packed into as few promtool test groups as can share one: no two cases of a group
 * where one alert's expression would read the other's series (checked with the PromQL
 * reader), so each alert sees only its own case. Far fewer groups to evaluate.
 */
function groups(cases: readonly Case[]) {
  const packed: Case[][] = [];
  for (const c of cases) {
    const group = packed.find((g) => g.every((other) => !conflict(c, other)));
    if (group) group.push(c);
    else packed.push([c]);
  }
  return packed.map((g, i) => ({
    name: `group ${i + 1}: ${g.map((c) => `${c.alert} ${c.fires ? "fires" : "silent"}`).join(", ")}`,
    interval: FIXTURE_INTERVAL,
    input_series: g.flatMap((c) => c.case.series.map((s) => ({ series: s.series, values: s.values }))),
    promql_expr_test: g.map((c) => ({ expr: firingNow(c.alert), eval_time: c.case.evalTime, exp_samples: [{ labels: "{}", value: c.fires ? 1 : 0 }] })),
  }));
}

/**
 * production has every rule kind (Sentinel, ACME, replicas, an off-site target); a promtool
 * run costs seconds of CPU, so the other stacks (other counts, same rules) run with
 * PROMTOOL_ALL_STACKS=1.
 */
const stacks = process.env.PROMTOOL_ALL_STACKS === "1" ? STACKS.filter((s) => validatedStackConfig(s).monitoring.enabled) : (["production"] as const);

describe.skipIf(PROMTOOL === undefined && !required).each(stacks)("stack %s", (stack) => {
  it("every added or changed alert fires on its firing series and not on its silent ones (promtool test rules)", () => {
    const config = validatedStackConfig(stack);
    const files = planStack(config).configFiles.files;
    const dir = mkdtempSync(path.join(os.tmpdir(), "mn-alert-fixtures-"));
    dirs.push(dir);
    const ruleFiles: string[] = [];
    const alerts: string[] = [];
    const exprs = new Map<string, string>();
    for (const [name, text] of Object.entries(files)) {
      if (!/^prometheus-.*rules\.yml$/.test(name) || text === undefined) continue;
      writeFileSync(path.join(dir, name), text);
      ruleFiles.push(path.join(dir, name));
      for (const group of (parse(text) as { groups: { rules: { alert?: string; expr: string }[] }[] }).groups) {
        for (const rule of group.rules) {
          if (rule.alert === undefined) continue;
          alerts.push(rule.alert);
          exprs.set(rule.alert, rule.expr);
        }
      }
    }
    const checked = [...new Set(alerts)].filter((a) => !UNCHANGED.has(a));
    expect(checked.filter((a) => NEW_ALERT_FIXTURES[a] === undefined), "alerts without a fixture").toEqual([]);
    const tests = groups(
      checked.flatMap((alert) => {
        const fixture = (NEW_ALERT_FIXTURES[alert] as NonNullable<(typeof NEW_ALERT_FIXTURES)[string]>)(config);
        const expr = exprs.get(alert) ?? "";
        return [
          { alert, expr, fires: true, case: fixture.firing },
          { alert, expr, fires: false, case: fixture.silent },
        ];
      }),
    );
    const unit = path.join(dir, "unit.yml");
    writeFileSync(unit, stringify({ rule_files: ruleFiles, evaluation_interval: FIXTURE_INTERVAL, tests }, { lineWidth: 0 }));
    const result = spawnSync(PROMTOOL ?? "promtool", ["test", "rules", unit], { encoding: "utf8", timeout: 60_000 });
    expect(result.error).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`.slice(-4000)).toMatch(/SUCCESS/);
    // Packing must not hide a case: as many expression checks as cases.
    expect(tests.flatMap((t) => t.promql_expr_test)).toHaveLength(checked.length * 2);
    expect(tests.length).toBeLessThan(checked.length);
    expect(result.status).toBe(0);
  }, 90_000);
});
