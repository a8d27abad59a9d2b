// Every stack's generated monitoring files, checked by the real tools: promtool (Debian's
// `prometheus`) on prometheus.yml, the rule files, unit tests of every alert and the
// Grafana panels' PromQL; amtool (`prometheus-alertmanager`) on alertmanager.yml and its
// routes. The files are laid out as the containers see them (their mounts and secrets,
// dummy values) in a temporary directory. The tools run once per kind, every file of every
// stack in one call, before the tests read their reports.
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { StackConfig } from "../config/schema";
import { planStack } from "../topology/stack-plan";
import { secretPath, type ServiceFile, type ServiceSpec } from "../topology/services";
import { ALERT_FIXTURES } from "./support/alert-fixtures";
import {
  alertUnitTests,
  configFileArg,
  describeRun,
  containerFiles,
  monitoringTools,
  parseRenderedAlerts,
  readUnitTestSection,
  referencedPaths,
  requiredTemplateLabels,
  rootedConfig,
  ruleGroups,
  runTool,
  runToolStdout,
  sectionsByFile,
  versionAtLeast,
  unitTestFile,
  writePlannedFiles,
  type LoadedGroup,
  type PlannedFile,
  type RenderedAlert,
  type ToolRun,
  type UnitTestRun,
} from "./support/monitoring-tools";
import { STACKS } from "./support/mocked-run";
import { validatedStackConfig } from "./support/stack-config";

const tools = monitoringTools();
// CI installs the packages and sets this, so a missing tool fails there instead of skipping.
const required = process.env.REQUIRE_MONITORING_TOOLS === "1";
const active = tools.ok || required;
const skipped = tools.ok ? "" : `skipped, not installed: ${tools.missing.join(", ")}`;
if (!active) console.warn(`test/monitoring-tools.test.ts: ${skipped} (CI sets REQUIRE_MONITORING_TOOLS=1 and fails instead)`);

// ---- what is checked: every stack, and the configurations its file leaves out ----

interface Case {
  readonly name: string;
  readonly config: StackConfig;
}

const monitoringOn = (stack: (typeof STACKS)[number]): StackConfig => {
  const { monitoring } = validatedStackConfig(stack);
  return validatedStackConfig(stack, { monitoring: { ...monitoring, enabled: true } });
};

/** production with every optional alert path: e-mail and Slack receivers, an off-site copy. */
function everyReceiver(webhook: boolean): StackConfig {
  const { monitoring } = validatedStackConfig("production");
  return validatedStackConfig("production", {
    monitoring: { ...monitoring, alerting: { ...monitoring.alerting, webhook, slack: { channel: "#medianest-alerts" } } },
    backup: { offsite: { endpoint: "https://s3.backup.example.net", bucket: "medianest-offsite" } },
    offsiteAccessKey: "FAKEOFFSITEACCESS",
    offsiteSecretKey: "FAKEOFFSITESECRET",
    alertSlackWebhookUrl: "https://hooks.slack.com/services/FAKE",
    ...(webhook ? { alertWebhookUrl: "https://hooks.example.com/FAKE" } : {}),
  });
}

const CASES: readonly Case[] = [
  ...STACKS.map((stack) => ({ name: stack, config: validatedStackConfig(stack) })),
  // A stack that leaves monitoring off is still checked as it would be with it on.
  ...STACKS.filter((stack) => !validatedStackConfig(stack).monitoring.enabled).map((stack) => ({ name: `${stack} with monitoring on`, config: monitoringOn(stack) })),
  { name: "production with Slack and an off-site copy", config: everyReceiver(false) },
];
/** Alertmanager below 0.26 has no webhook url_file (config/notifiers.go WebhookConfig.URLFile arrived in v0.26.0). */
const WEBHOOK_CASE: Case = { name: "production with a webhook too", config: everyReceiver(true) };
const webhookCheckable = versionAtLeast(tools.versions.amtool, "0.26.0");

// ---- each case's files, as the containers see them ----

interface RuleFileUnderTest {
  /** Where Prometheus reads it. */
  readonly target: string;
  /** Its copy on this machine. */
  readonly local: string;
  readonly groups: readonly LoadedGroup[];
}

interface Prepared {
  readonly name: string;
  readonly config: StackConfig;
  readonly files: Readonly<Partial<Record<ServiceFile, string>>>;
  readonly monitoring?: {
    readonly prometheus: ServiceSpec;
    readonly alertmanager: ServiceSpec;
    readonly grafana: ServiceSpec;
    readonly prometheusConfig: string;
    readonly ruleFiles: readonly RuleFileUnderTest[];
    /** Unit test runs by rule group name. */
    readonly unitRuns: ReadonlyMap<string, readonly WrittenRun[]>;
    readonly alertmanagerConfig: string;
    readonly grafanaRules: string;
    readonly alertsWithoutFixture: readonly string[];
  };
}

/**
 * Where the files go. They are planned while the tests are collected and written just before
 * the tools run, so a run that selects none of these tests leaves nothing behind.
 */
const dir = path.join(os.tmpdir(), `medianest-monitoring-tools-${process.pid}-${randomBytes(6).toString("hex")}`);
const planned: PlannedFile[] = [];
const slug = (name: string): string => name.replace(/[^a-z0-9]+/gi, "-");
const write = (file: string, content: string): string => {
  planned.push({ file, content });
  return file;
};

interface GrafanaTarget {
  readonly refId: string;
  readonly expr: string;
  readonly datasource?: unknown;
}
interface GrafanaPanel {
  readonly id: number;
  readonly title: string;
  readonly datasource?: unknown;
  readonly targets?: readonly GrafanaTarget[];
}

function prepare(testCase: Case): Prepared {
  const plan = planStack(testCase.config);
  const files = plan.configFiles.files;
  const mon = plan.services.monitoring;
  if (mon === undefined) return { name: testCase.name, config: testCase.config, files };
  const base = path.join(dir, slug(testCase.name));
  const promRoot = path.join(base, "prometheus");
  planned.push(...containerFiles(promRoot, mon.prometheus, files));
  // The config file itself, with its paths moved below the container's root.
  const configTarget = configFileArg(mon.prometheus);
  const configFile = path.join(promRoot, configTarget);
  const configEntry = (mon.prometheus.files ?? []).find((f) => f.target === configTarget);
  if (configEntry === undefined) throw new Error(`prometheus does not mount its --config.file ${configTarget}`);
  write(configFile, rootedConfig(files[configEntry.file] as string, promRoot));

  const ruleFiles = (mon.prometheus.files ?? [])
    .filter((f) => f.target !== configTarget)
    .map((f) => ({ target: f.target, local: path.join(promRoot, f.target), groups: ruleGroups(files[f.file] as string) }));
  const missing = new Set<string>();
  const unitRuns = new Map<string, readonly WrittenRun[]>();
  for (const ruleFile of ruleFiles) {
    for (const group of ruleFile.groups) {
      const fixture = (alert: string) => {
        const make = ALERT_FIXTURES[alert];
        if (make === undefined) missing.add(alert);
        return make?.(testCase.config);
      };
      unitRuns.set(group.name, alertUnitTests({ group, fixture, name: group.name }).map(sharedRun));
    }
  }

  const amRoot = path.join(base, "alertmanager");
  planned.push(...containerFiles(amRoot, mon.alertmanager, files));
  const amTarget = configFileArg(mon.alertmanager);
  const amEntry = (mon.alertmanager.files ?? []).find((f) => f.target === amTarget);
  if (amEntry === undefined) throw new Error(`alertmanager does not mount its --config.file ${amTarget}`);
  const alertmanagerConfig = write(path.join(amRoot, amTarget), rootedConfig(files[amEntry.file] as string, amRoot));

  // Every panel query as a recording rule, for promtool's PromQL parser.
  const panels = grafanaDashboards(mon.grafana, files).flatMap((d) => d.dashboard.panels);
  const grafanaRules = write(
    path.join(base, "grafana-panels.rules.yml"),
    stringify({
      groups: [{ name: "grafana-panels", rules: panels.flatMap((p) => (p.targets ?? []).map((t) => ({ record: `grafana_panel_${p.id}_${t.refId}`, expr: t.expr }))) }],
    }),
  );
  return {
    name: testCase.name,
    config: testCase.config,
    files,
    monitoring: {
      prometheus: mon.prometheus,
      alertmanager: mon.alertmanager,
      grafana: mon.grafana,
      prometheusConfig: configFile,
      ruleFiles,
      unitRuns,
      alertmanagerConfig,
      grafanaRules,
      alertsWithoutFixture: [...missing].sort(),
    },
  };
}

interface WrittenRun {
  /** The unit test file. */
  readonly file: string;
  readonly run: UnitTestRun;
}

/**
 * Each unit test run written once: stacks whose run comes out the same (rules, series and
 * checks) share it, as each promtool test group costs a TSDB and an evaluation loop.
 */
const unitRunFiles = new Map<string, WrittenRun>();
function sharedRun(run: UnitTestRun): WrittenRun {
  const key = createHash("sha256").update(JSON.stringify(run)).digest("hex").slice(0, 16);
  const known = unitRunFiles.get(key);
  if (known) return known;
  const unitDir = path.join(dir, "unit", `${run.ruleGroup.name}-${key}`);
  const rules = write(path.join(unitDir, "rules.yml"), stringify({ groups: [run.ruleGroup] }, { lineWidth: 0 }));
  const made = { file: write(path.join(unitDir, "test.yml"), stringify(unitTestFile(run, rules), { lineWidth: 0 })), run };
  unitRunFiles.set(key, made);
  return made;
}

/** Grafana's mounted dashboards (JSON files below a file provider's path). */
function grafanaDashboards(grafana: ServiceSpec, files: Readonly<Partial<Record<ServiceFile, string>>>): { target: string; dashboard: { uid: string; panels: GrafanaPanel[] } }[] {
  return (grafana.files ?? []).filter((f) => f.target.endsWith(".json")).map((f) => ({ target: f.target, dashboard: JSON.parse(files[f.file] as string) as { uid: string; panels: GrafanaPanel[] } }));
}

// ---- the tool runs, once each ----

interface Reports {
  readonly checkConfig: ToolRun;
  readonly checkRules: ToolRun;
  readonly testRules: ToolRun;
  readonly amCheck: ToolRun;
  readonly amWebhookCheck?: ToolRun;
  /** amtool's routing answers per case name. */
  readonly routes: ReadonlyMap<string, readonly RouteAnswer[]>;
  readonly webhookRoutes?: readonly RouteAnswer[];
}

describe("monitoring tools", () => {
  it.runIf(required)("are installed where REQUIRE_MONITORING_TOOLS=1 (promtool, amtool)", () => {
    expect(tools.missing, "install them with apt-get").toEqual([]);
  });

  it("the harness reads promtool's report of the alerts it got (two alerts, quoted values, the item separator)", () => {
    // The shape of cmd/promtool/unittest.go v2.42.0's error for an alert_rule_test mismatch.
    const report = [
      "Unit Testing:  /tmp/x/render-1m.test.yml",
      "  FAILED:",
      "    name: medianest-data 1m #1: OffsiteCopyTooOld firing,",
      "    alertname: OffsiteCopyTooOld, time: 15m, ",
      "        exp:[], ",
      "        got:[",
      "            0:",
      '              Labels:{alertname="OffsiteCopyTooOld", target="medianest"}',
      '              Annotations:{runbook="README, \\"Backups\\": a\\tb", summary="caf\\u00e9 36.5 h"},',
      "            1:",
      '              Labels:{alertname="OffsiteCopyTooOld", target="offsite"}',
      '              Annotations:{summary="x\\\\y"}',
      "            ]",
      "",
    ].join("\n");
    const got = parseRenderedAlerts(sectionsByFile(report, /^Unit Testing: +(.+)$/).get("/tmp/x/render-1m.test.yml") ?? "");
    expect([...got.keys()]).toEqual(["OffsiteCopyTooOld"]);
    expect(got.get("OffsiteCopyTooOld")).toEqual([
      { labels: { alertname: "OffsiteCopyTooOld", target: "medianest" }, annotations: { runbook: 'README, "Backups": a\tb', summary: "café 36.5 h" } },
      { labels: { alertname: "OffsiteCopyTooOld", target: "offsite" }, annotations: { summary: "x\\y" } },
    ]);
    expect(() => parseRenderedAlerts("    alertname: A, time: 1m, \n      Labels:{a=b}\n")).toThrow(/label set/);
    expect(requiredTemplateLabels("{{ $labels.slot_name }}{{ with $labels.instance }} on {{ . }}{{ end }}")).toEqual(["slot_name"]);
  });

  it("the harness accepts only the render cases' expected mismatches from promtool test rules (anything else, or no section, is a failure)", () => {
    const run: UnitTestRun = {
      evaluationInterval: "5m",
      ruleGroup: { name: "g", rules: [] },
      test: { name: "g 5m: A firing, B silent", interval: "1m", input_series: [] },
      renders: [{ alertname: "A", evalTime: "65m" }],
    };
    const render = [
      "    name: g 5m: A firing, B silent,",
      "    alertname: A, time: 1h5m, ",
      "        exp:[], ",
      "        got:[",
      "            0:",
      '              Labels:{alertname="A", severity="warning"}',
      '              Annotations:{summary="6.0 days"}',
      "            ]",
    ];
    // The shape of cmd/promtool/unittest.go v2.42.0's failed expression check.
    const exprFailure = ['    expr: "count(ALERTS{alertname=\\"B\\"}) or vector(0)", time: 10m,', "        exp: {} 0", "        got: {} 1"];
    const section = (status: string, ...blocks: string[][]) => ["Unit Testing:  /tmp/x/test.yml", status, ...blocks.flatMap((b) => [...b, ""]), ""].join("\n");
    const ok = readUnitTestSection(section("  FAILED:", render), run);
    expect(ok.unexpected).toEqual([]);
    expect(ok.rendered.get("A")).toEqual([{ labels: { alertname: "A", severity: "warning" }, annotations: { summary: "6.0 days" } }]);
    expect(readUnitTestSection(section("  SUCCESS"), run)).toEqual({ unexpected: [], rendered: new Map() });
    expect(readUnitTestSection(section("  FAILED:", render, exprFailure), run).unexpected).toEqual([exprFailure.join("\n")]);
    // The same render twice, another test's name, another time: not what this run expects.
    expect(readUnitTestSection(section("  FAILED:", render, render), run).unexpected).toHaveLength(1);
    expect(readUnitTestSection(section("  FAILED:", [render[0]?.replace("B silent", "B firing") ?? "", ...render.slice(1)]), run).unexpected).toHaveLength(1);
    expect(readUnitTestSection(section("  FAILED:", [render[0] ?? "", render[1]?.replace("1h5m", "1h") ?? "", ...render.slice(2)]), run).unexpected).toHaveLength(1);
    expect(readUnitTestSection(undefined, run).unexpected).toHaveLength(1);
    expect(readUnitTestSection(section("  FAILED:", ["yaml: unmarshal errors:"]), run).unexpected).toEqual(["yaml: unmarshal errors:"]);
  });
});

const versions = Object.entries(tools.versions)
  .map(([tool, version]) => `${tool} ${version}`)
  .join(", ");

describe.runIf(active)(`generated monitoring files, checked by ${versions || "promtool and amtool"}${skipped ? ` (${skipped})` : ""}`, () => {
  // vitest collects a skipped block too: say why, and write nothing.
  if (!active) {
    it(`all checks (${skipped})`, () => undefined);
    return;
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const prepared = CASES.map(prepare);
  const webhook = prepare(WEBHOOK_CASE);
  const monitored = prepared.filter((p) => p.monitoring !== undefined);
  const mon = (p: Prepared) => p.monitoring as NonNullable<Prepared["monitoring"]>;
  let reports: Reports;
  const out = (name: string) => path.join(dir, `${name}.out`);

  beforeAll(async () => {
    // Later entries win: the rooted prometheus.yml replaces the copy laid out with the mounts.
    writePlannedFiles(planned);
    const lint = ["--lint=all", "--lint-fatal"];
    const [checkConfig, checkRules, testRules, amCheck, amWebhookCheck, routes, webhookRoutes] = await Promise.all([
      runTool("promtool", ["check", "config", ...lint, ...monitored.map((p) => mon(p).prometheusConfig)], out("check-config")),
      runTool("promtool", ["check", "rules", ...lint, ...monitored.flatMap((p) => [...mon(p).ruleFiles.map((r) => r.local), mon(p).grafanaRules])], out("check-rules")),
      runTool("promtool", ["test", "rules", ...[...unitRunFiles.values()].map((u) => u.file)], out("test-rules")),
      runTool("amtool", ["check-config", ...monitored.map((p) => mon(p).alertmanagerConfig)], out("am-check")),
      webhookCheckable ? runTool("amtool", ["check-config", mon(webhook).alertmanagerConfig], out("am-webhook")) : Promise.resolve(undefined),
      Promise.all(monitored.map(async (p) => [p.name, await askRoutes(p)] as const)),
      webhookCheckable ? askRoutes(webhook) : Promise.resolve(undefined),
    ]);
    reports = {
      checkConfig,
      checkRules,
      testRules,
      amCheck,
      routes: new Map(routes),
      ...(amWebhookCheck ? { amWebhookCheck } : {}),
      ...(webhookRoutes ? { webhookRoutes } : {}),
    };
  }, 60_000);

  it("every batched check exits 0", () => {
    for (const run of [reports.checkConfig, reports.checkRules, reports.amCheck]) expect(run.status, describeRun(run)).toBe(0);
  });

  it("promtool test rules reports on every unit test file and fails only on the render cases' expected mismatches", () => {
    const sections = sectionsByFile(reports.testRules.output, /^Unit Testing: +(.+)$/);
    const judged = [...unitRunFiles.values()].map(({ file, run }) => ({ file, ...readUnitTestSection(sections.get(file), run) }));
    expect(judged.filter((j) => j.unexpected.length > 0).map((j) => `${j.file}:\n${j.unexpected.join("\n\n")}`), describeRun(reports.testRules)).toEqual([]);
    // RulesUnitTest (v2.42.0) exits 1 when any file failed, here the renders (they expect nothing and get the firing alerts).
    const renders = judged.some((j) => j.rendered.size > 0);
    expect(reports.testRules.status, describeRun(reports.testRules)).toBe(renders ? 1 : 0);
  });

  it("every alert fixture belongs to an alert some configuration generates", () => {
    const generated = new Set(monitored.flatMap((p) => mon(p).ruleFiles.flatMap((r) => r.groups.flatMap((g) => g.rules.flatMap((rule) => (rule.alert ? [rule.alert] : []))))));
    expect(Object.keys(ALERT_FIXTURES).filter((name) => !generated.has(name))).toEqual([]);
  });

  describe.each(prepared.map((p) => [p.name, p] as const))("%s", (_name, p) => {
    if (p.monitoring === undefined) {
      it("has monitoring off: no monitoring service mounts a generated file", () => {
        expect(p.config.monitoring.enabled).toBe(false);
        expect(Object.keys(p.files).filter((f) => /^(prometheus|alertmanager|grafana)/.test(f))).toEqual([]);
      });
      return;
    }
    const m = p.monitoring;

    it("has a fixture for every alert it generates (test/support/alert-fixtures.ts)", () => {
      expect(m.alertsWithoutFixture).toEqual([]);
    });

    it("prometheus.yml passes promtool check config, loading exactly the rule files Prometheus mounts", () => {
      const sections = sectionsByFile(reports.checkConfig.output, /^Checking (.+)$/);
      const own = sections.get(m.prometheusConfig);
      expect(own, describeRun(reports.checkConfig)).toContain(`SUCCESS: ${m.prometheusConfig} is valid prometheus config file syntax`);
      // A rule file the glob misses would be silently ignored: it must be one promtool checked from this config.
      const checked = [...sections.keys()].filter((f) => f !== m.prometheusConfig && f.startsWith(path.dirname(path.dirname(m.prometheusConfig))));
      expect(checked.sort()).toEqual(m.ruleFiles.map((r) => r.local).sort());
      for (const rule of m.ruleFiles) expect(sections.get(rule.local), describeRun(reports.checkConfig)).toMatch(/SUCCESS: \d+ rules found/);
    });

    it("every file prometheus.yml refers to is one the Prometheus container mounts", () => {
      const text = p.files["prometheus.yml"] as string;
      const mounted = new Set([...(m.prometheus.files ?? []).map((f) => f.target), ...m.prometheus.secrets.map(secretPath)]);
      for (const ref of referencedPaths(text)) {
        if (ref.includes("*")) expect(m.ruleFiles.some((r) => globMatches(ref, r.target)), ref).toBe(true);
        else expect(mounted.has(ref), `${ref} is not mounted`).toBe(true);
      }
    });

    it("its rule files pass promtool check rules (duplicate rules fatal)", () => {
      const sections = sectionsByFile(reports.checkRules.output, /^Checking (.+)$/);
      for (const rule of m.ruleFiles) {
        const count = rule.groups.reduce((n, g) => n + g.rules.length, 0);
        expect(sections.get(rule.local), describeRun(reports.checkRules)).toContain(`SUCCESS: ${count} rules found`);
      }
    });

    for (const ruleFile of m.ruleFiles) {
      for (const group of ruleFile.groups) {
        it(`rule group ${group.name}: every alert fires on its fixture once its for: has passed, and is not active just inside its threshold (promtool test rules)`, () => {
          const sections = sectionsByFile(reports.testRules.output, /^Unit Testing: +(.+)$/);
          const runs = m.unitRuns.get(group.name) ?? [];
          expect(runs.length).toBeGreaterThan(0);
          for (const { file, run } of runs) expect(readUnitTestSection(sections.get(file), run).unexpected, `${file}\n${describeRun(reports.testRules)}`).toEqual([]);
        });

        it(`rule group ${group.name}: the firing alerts carry their rules' labels and annotations render (templates run by promtool)`, () => {
          const sections = sectionsByFile(reports.testRules.output, /^Unit Testing: +(.+)$/);
          const rendered = new Map<string, RenderedAlert[]>();
          for (const { file, run } of m.unitRuns.get(group.name) ?? []) {
            for (const [alert, got] of readUnitTestSection(sections.get(file), run).rendered) rendered.set(alert, [...(rendered.get(alert) ?? []), ...got]);
          }
          const alerts = new Map<string, LoadedGroup["rules"][number][]>();
          for (const rule of group.rules) if (rule.alert && ALERT_FIXTURES[rule.alert]) alerts.set(rule.alert, [...(alerts.get(rule.alert) ?? []), rule]);
          for (const [alert, rules] of alerts) {
            const got: RenderedAlert[] = rendered.get(alert) ?? [];
            expect(got.length, `${alert}: promtool rendered no firing alert\n${describeRun(reports.testRules)}`).toBeGreaterThan(0);
            for (const rule of rules) {
              // Each rule of that name fired at least once with its own labels.
              const own = got.filter((a) => Object.entries({ alertname: alert, ...rule.labels }).every(([k, v]) => a.labels[k] === v));
              expect(own.length, `${alert} with ${JSON.stringify(rule.labels)}: ${JSON.stringify(got)}`).toBeGreaterThan(0);
              for (const { labels, annotations } of own) {
                expect(Object.keys(annotations).sort()).toEqual(Object.keys(rule.annotations ?? {}).sort());
                for (const [key, template] of Object.entries(rule.annotations ?? {})) {
                  const text = annotations[key] as string;
                  // rules/alerting.go (v2.42.0) puts this in place of a template that fails to run.
                  expect(text, `${alert} ${key}`).not.toContain("<error expanding template");
                  expect(text, `${alert} ${key}`).not.toMatch(/\{\{|<no value>/);
                  // A missing label renders as "" (template.go: missingkey=zero): the alert must carry each one used.
                  for (const label of requiredTemplateLabels(template)) expect(labels[label], `${alert} ${key} uses $labels.${label}`).toBeTruthy();
                }
              }
            }
          }
        });
      }
    }

    it("alertmanager.yml passes amtool check-config, and every file it names is a secret Alertmanager mounts", () => {
      const section = sectionsByFile(reports.amCheck.output, /^Checking '(.+)'/).get(m.alertmanagerConfig);
      expect(section, describeRun(reports.amCheck)).toMatch(/SUCCESS/);
      const mounted = new Set(m.alertmanager.secrets.map(secretPath));
      for (const ref of referencedPaths(p.files["alertmanager.yml"] as string)) expect(mounted.has(ref), `${ref} is not mounted`).toBe(true);
    });

    it("alerts of every severity the rules use reach each configured receiver, once (amtool config routes test)", () => {
      expectRoutesToReceivers(p, reports.routes.get(p.name) ?? []);
    });

    it("Grafana: provisioning files where Grafana reads them, dashboards on the datasource by uid, every panel query valid PromQL (promtool)", () => {
      expectGrafanaProvisioning(p);
      const section = sectionsByFile(reports.checkRules.output, /^Checking (.+)$/).get(m.grafanaRules);
      const queries = grafanaDashboards(m.grafana, p.files).flatMap((d) => d.dashboard.panels.flatMap((panel) => panel.targets ?? [])).length;
      expect(queries).toBeGreaterThan(0);
      expect(section, describeRun(reports.checkRules)).toContain(`SUCCESS: ${queries} rules found`);
    });
  });

  describe(WEBHOOK_CASE.name, () => {
    it.runIf(webhookCheckable)(
      webhookCheckable
        ? "alertmanager.yml passes amtool check-config and routes to every receiver"
        : `alertmanager.yml: skipped, amtool ${tools.versions.amtool ?? "(missing)"} has no webhook url_file (Alertmanager 0.26 or later; the pinned image is newer, Debian bookworm ships 0.25)`,
      () => {
        const run = reports.amWebhookCheck as ToolRun;
        expect(run.status, describeRun(run)).toBe(0);
        expectRoutesToReceivers(webhook, reports.webhookRoutes ?? []);
      },
    );
  });
});

/** filepath.Match for the one wildcard the configs use: `*`, any run of characters but "/". */
const globMatches = (glob: string, file: string): boolean =>
  new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")}$`).test(file);

// ---- Alertmanager routing ----

type ReceiverKind = "webhook" | "email" | "slack";
interface AmReceiver {
  readonly name: string;
  readonly webhook_configs?: readonly { readonly url_file?: string }[];
  readonly email_configs?: readonly { readonly to: string }[];
  readonly slack_configs?: readonly { readonly channel: string; readonly api_url_file?: string }[];
}

/** The receivers the stack's config asks for (monitoring.alerting), in the order the routes list them. */
function configuredKinds(config: StackConfig): ReceiverKind[] {
  const alerting = config.monitoring.alerting;
  return [...(alerting.webhook ? (["webhook"] as const) : []), ...(alerting.email ? (["email"] as const) : []), ...(alerting.slack ? (["slack"] as const) : [])];
}

function kindOf(receiver: AmReceiver): ReceiverKind | "none" {
  const kinds = (["webhook", "email", "slack"] as const).filter((k) => (receiver[`${k}_configs`]?.length ?? 0) > 0);
  if (kinds.length > 1) throw new Error(`receiver ${receiver.name} mixes ${kinds.join(" and ")}`);
  return kinds[0] ?? "none";
}

interface RouteQuery {
  readonly labels: readonly string[];
}
interface RouteAnswer extends RouteQuery {
  readonly run: Awaited<ReturnType<typeof runToolStdout>>;
}

/** One real alert per severity the rules use: its name and its rule's labels, as amtool takes them. */
function routeQueries(p: Prepared): RouteQuery[] {
  const m = p.monitoring as NonNullable<Prepared["monitoring"]>;
  const rules = m.ruleFiles.flatMap((r) => r.groups.flatMap((g) => g.rules)).filter((r) => r.alert !== undefined);
  const bySeverity = new Map(rules.map((r) => [r.labels?.severity ?? "", r] as const));
  return [...bySeverity.values()].map((rule) => ({ labels: Object.entries({ alertname: rule.alert as string, ...rule.labels }).map(([k, v]) => `${k}=${v}`) }));
}

const askRoutes = (p: Prepared): Promise<RouteAnswer[]> =>
  Promise.all(
    routeQueries(p).map(async (q) => ({
      ...q,
      run: await runToolStdout("amtool", ["config", "routes", "test", `--config.file=${(p.monitoring as NonNullable<Prepared["monitoring"]>).alertmanagerConfig}`, ...q.labels]),
    })),
  );

function expectRoutesToReceivers(p: Prepared, answers: readonly RouteAnswer[]): void {
  const am = parse(p.files["alertmanager.yml"] as string) as { receivers: AmReceiver[] };
  expect(answers.map((a) => a.labels.find((l) => l.startsWith("severity="))).sort()).toEqual(["severity=critical", "severity=warning"]);
  const expected = configuredKinds(p.config);
  for (const { labels, run } of answers) {
    expect(run.status, `${labels.join(" ")}: ${run.stdout}${run.stderr}`).toBe(0);
    // cli/test_routing.go (v0.25.0): the receivers, comma-separated in routing-tree order, on one line.
    const names = run.stdout.trim().split(",");
    const receivers = names.map((name) => am.receivers.find((r) => r.name === name));
    expect(receivers.every((r) => r !== undefined), `${labels.join(" ")} -> ${names.join(",")}`).toBe(true);
    const kinds = (receivers as AmReceiver[]).map(kindOf);
    if (expected.length === 0) expect(kinds, labels.join(" ")).toEqual(["none"]);
    else expect(kinds, labels.join(" ")).toEqual(expected);
    for (const receiver of receivers as AmReceiver[]) {
      const alerting = p.config.monitoring.alerting;
      if (kindOf(receiver) === "email") expect(receiver.email_configs?.map((c) => c.to)).toEqual([alerting.email?.to]);
      if (kindOf(receiver) === "slack") expect(receiver.slack_configs?.map((c) => c.channel)).toEqual([alerting.slack?.channel]);
    }
  }
}

// ---- Grafana ----

/** grafana/grafana's Dockerfile: ENV GF_PATHS_PROVISIONING="/etc/grafana/provisioning"; the service may move it. */
const GRAFANA_PROVISIONING = "/etc/grafana/provisioning";

interface Datasource {
  readonly name: string;
  readonly type: string;
  readonly uid?: string;
  readonly url?: string;
}
interface Provider {
  readonly type: string;
  readonly options?: { readonly path?: string };
}

function expectGrafanaProvisioning(p: Prepared): void {
  const m = p.monitoring as NonNullable<Prepared["monitoring"]>;
  const provisioning = m.grafana.env.GF_PATHS_PROVISIONING ?? GRAFANA_PROVISIONING;
  const mounted = (m.grafana.files ?? []).map((f) => ({ target: f.target, text: p.files[f.file] as string }));
  const yamlFiles = mounted.filter((f) => /\.ya?ml$/.test(f.target)).map((f) => ({ ...f, doc: parse(f.text) as { datasources?: Datasource[]; providers?: Provider[] } }));
  // Grafana reads datasources from <provisioning>/datasources/*.yaml and dashboard providers from <provisioning>/dashboards/*.yaml.
  const datasourceFiles = yamlFiles.filter((f) => f.doc.datasources !== undefined);
  const providerFiles = yamlFiles.filter((f) => f.doc.providers !== undefined);
  expect(datasourceFiles.length).toBeGreaterThan(0);
  expect(providerFiles.length).toBeGreaterThan(0);
  for (const f of datasourceFiles) expect(path.dirname(f.target)).toBe(`${provisioning}/datasources`);
  for (const f of providerFiles) expect(path.dirname(f.target)).toBe(`${provisioning}/dashboards`);
  const datasources = datasourceFiles.flatMap((f) => f.doc.datasources as Datasource[]);
  for (const ds of datasources) expect(ds.uid, `datasource ${ds.name} has a fixed uid`).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  // Prometheus listens on --web.listen-address, 0.0.0.0:9090 unless set (cmd/prometheus/main.go); Grafana reaches its tasks by name.
  const listen = (m.prometheus.args ?? []).find((a) => a.startsWith("--web.listen-address="))?.split(":").pop() ?? "9090";
  expect(datasources.filter((ds) => ds.type === "prometheus").map((ds) => ds.url)).toEqual([`http://tasks.${m.prometheus.name}:${listen}`]);
  const providers = providerFiles.flatMap((f) => f.doc.providers as Provider[]);
  const dashboards = grafanaDashboards(m.grafana, p.files);
  expect(dashboards.length).toBeGreaterThan(0);
  for (const { target, dashboard } of dashboards) {
    // The file provider loads *.json below its path.
    expect(providers.some((pr) => pr.type === "file" && pr.options?.path !== undefined && target.startsWith(`${pr.options.path}/`)), `${target} is below a file provider's path`).toBe(true);
    const refs = dashboard.panels.flatMap((panel) => [{ where: `panel ${panel.id}`, ref: panel.datasource }, ...(panel.targets ?? []).map((t) => ({ where: `panel ${panel.id} ${t.refId}`, ref: t.datasource }))]);
    for (const { where, ref } of refs) {
      // By uid (an object {type, uid}), not by name or a ${DS_...} import variable.
      expect(typeof ref === "object" && ref !== null, `${dashboard.uid} ${where}: datasource ${JSON.stringify(ref)}`).toBe(true);
      const { type, uid } = ref as { type?: string; uid?: string };
      expect(datasources.some((ds) => ds.uid === uid && ds.type === type), `${dashboard.uid} ${where}: no provisioned datasource ${type}/${uid}`).toBe(true);
    }
  }
}
