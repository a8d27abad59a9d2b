// Harness for checking the generated monitoring files with the real tools (Debian's
// `prometheus` package for promtool, `prometheus-alertmanager` for amtool): finds the
// tools, lays the files out as a container sees them, writes promtool's rule unit tests
// from test/support/alert-fixtures.ts and reads back what promtool reports.
import { execFile, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { secretPath, type ServiceFile, type ServiceSpec } from "../../topology/services";
import type { AlertCase, AlertFixture } from "./alert-fixtures";

// ---- the tools ----

export interface ToolStatus {
  /** Both tools answer `--version`. */
  readonly ok: boolean;
  readonly missing: readonly string[];
  /** "2.42.0" per tool found. */
  readonly versions: Readonly<Record<string, string>>;
}

const TOOLS = { promtool: "prometheus", amtool: "prometheus-alertmanager" } as const;

export function monitoringTools(): ToolStatus {
  const versions: Record<string, string> = {};
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(TOOLS)) {
    const result = spawnSync(tool, ["--version"], { encoding: "utf8", timeout: 10_000 });
    // Both print "<tool>, version 2.42.0+ds (branch: ...)", promtool on stdout, amtool on stderr.
    const version = /version (\d+\.\d+\.\d+)/.exec(`${result.stdout ?? ""}${result.stderr ?? ""}`)?.[1];
    if (result.status === 0 && version !== undefined) versions[tool] = version;
    else missing.push(`${tool} (apt-get install ${pkg})`);
  }
  return { ok: missing.length === 0, missing, versions };
}

/** a.b.c at least x.y.z. */
export function versionAtLeast(version: string | undefined, wanted: string): boolean {
  if (version === undefined) return false;
  const have = version.split(".").map(Number);
  const want = wanted.split(".").map(Number);
  for (let i = 0; i < want.length; i++) {
    const [h = 0, w = 0] = [have[i], want[i]];
    if (h !== w) return h > w;
  }
  return true;
}

export interface ToolRun {
  readonly command: string;
  readonly status: number | null;
  /** stdout and stderr interleaved as written (promtool reports successes on one, failures on the other). */
  readonly output: string;
}

/**
 * Runs a tool to completion with stdout and stderr going to one file, so its report keeps
 * its order. Never throws: a missing binary is status null with the error as output.
 */
export function runTool(command: string, args: readonly string[], outputFile: string, timeoutMs = 30_000): Promise<ToolRun> {
  const fd = openSync(outputFile, "w");
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ["ignore", fd, fd], timeout: timeoutMs });
    let failure = "";
    child.on("error", (error) => {
      failure = `${error.message}\n`;
    });
    child.on("close", (code) => {
      closeSync(fd);
      resolve({ command: [command, ...args].join(" "), status: code, output: failure + readFileSync(outputFile, "utf8") });
    });
  });
}

/** stdout alone (amtool's routing answer), stderr kept apart. */
export function runToolStdout(command: string, args: readonly string[], timeoutMs = 30_000): Promise<{ readonly status: number | null; readonly stdout: string; readonly stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, [...args], { encoding: "utf8", timeout: timeoutMs }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ status, stdout, stderr: error !== null && status === null ? `${error.message}\n${stderr}` : stderr });
    });
  });
}

export const describeRun = (run: ToolRun): string => `$ ${run.command}\nexit ${run.status}\n${run.output}`;

/**
 * A batched run's report cut into one section per file, keyed by the path after the
 * marker that starts each ("Checking <file>" for promtool check, "Unit Testing:  <file>").
 */
export function sectionsByFile(output: string, marker: RegExp): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  for (const line of output.split("\n")) {
    const start = marker.exec(line);
    if (start) {
      current = start[1] as string;
      sections.set(current, "");
    }
    if (current !== undefined) sections.set(current, `${sections.get(current)}${line}\n`);
  }
  return sections;
}

// ---- a container's view of the files ----

/** A file to create, content and all. */
export interface PlannedFile {
  readonly file: string;
  readonly content: string;
}

/**
 * A service's generated files where its container mounts them, and a dummy file for each
 * of its secrets at /run/secrets/<name>, all below `root`. Nothing else will exist there,
 * so a reference to anything the service does not mount points nowhere.
 */
export function containerFiles(root: string, spec: ServiceSpec, files: Readonly<Partial<Record<ServiceFile, string>>>): PlannedFile[] {
  const mounted = (spec.files ?? []).map(({ file, target }) => {
    const content = files[file];
    if (content === undefined) throw new Error(`${spec.name} mounts ${file}, which the stack does not generate`);
    return { file: path.join(root, target), content };
  });
  return [...mounted, ...spec.secrets.map((secret) => ({ file: path.join(root, secretPath(secret)), content: `dummy value of ${secret}\n` }))];
}

/** Creates the files (and their directories). */
export function writePlannedFiles(planned: readonly PlannedFile[]): void {
  for (const { file, content } of planned) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** The value of the service's `--config.file=` argument: the file its process reads. */
export function configFileArg(spec: ServiceSpec): string {
  const arg = (spec.args ?? []).find((a) => a.startsWith("--config.file="));
  if (arg === undefined) throw new Error(`${spec.name} has no --config.file argument`);
  return arg.slice("--config.file=".length);
}

/** Keys whose values are file paths in Prometheus/Alertmanager configs: rule_files, file_sd `files`, and every `*_file`. */
const isPathKey = (key: string): boolean => key === "rule_files" || key === "files" || key.endsWith("_file");

function mapPaths(value: unknown, map: (p: string) => string, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => (isPathKey(key) && typeof v === "string" ? map(v) : mapPaths(v, map)));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isPathKey(k) && typeof v === "string" ? map(v) : mapPaths(v, map, k)]));
  }
  return value;
}

/** Every file path a config refers to (rule_files, `*_file`, file_sd files), as written. */
export function referencedPaths(yamlText: string): string[] {
  const found: string[] = [];
  mapPaths(parse(yamlText), (p) => {
    found.push(p);
    return p;
  });
  return found;
}

/**
 * The config with every absolute file path moved below `root`, so the tool run on this
 * machine resolves the paths the container would (relative ones already resolve against
 * the config file's directory, as in the container).
 */
export function rootedConfig(yamlText: string, root: string): string {
  return stringify(
    mapPaths(parse(yamlText), (p) => (path.isAbsolute(p) ? path.join(root, p) : p)),
    { lineWidth: 0 },
  );
}

// ---- rule files and their unit tests ----

export interface LoadedRule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}
export interface LoadedGroup {
  readonly name: string;
  readonly rules: readonly LoadedRule[];
}

export const ruleGroups = (yamlText: string): LoadedGroup[] => (parse(yamlText) as { groups: LoadedGroup[] }).groups;

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration ("1h30m", "15s") in milliseconds (model.ParseDuration's units). */
export function durationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (text === "" || parts.map((p) => p[0]).join("") !== text) throw new Error(`"${text}" is not a Prometheus duration`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (DURATION_UNITS[unit as string] as number), 0);
}

const promDuration = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** A PromQL selector of ALERTS (the series Prometheus writes per active alert: alertname, alertstate and the alert's labels). */
function alertsSelector(alert: string, matchers: Readonly<Record<string, string>>): string {
  const all = { alertname: alert, ...matchers };
  return `ALERTS{${Object.entries(all)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`;
}

interface ExprTest {
  readonly expr: string;
  readonly eval_time: string;
  readonly exp_samples: readonly { readonly labels: string; readonly value: number }[];
}
interface UnitTestGroup {
  readonly name: string;
  readonly interval: string;
  readonly input_series: readonly { readonly series: string; readonly values: string }[];
  readonly promql_expr_test?: readonly ExprTest[];
  readonly alert_rule_test?: readonly { readonly eval_time: string; readonly alertname: string; readonly exp_alerts: readonly never[] }[];
}
export interface UnitTestFile {
  readonly rule_files: readonly string[];
  readonly evaluation_interval: string;
  readonly tests: readonly UnitTestGroup[];
}

/** The samples of one series (AlertCase values) are a minute apart. */
export const FIXTURE_INTERVAL = "1m";
/**
 * How often the unit tests evaluate the rules: evaluation steps are what a promtool test
 * costs. The stacks evaluate every 15 s; a minute gives the same firing and silence (the
 * fixtures change once a minute), and alerts that wait an hour or more are tested in
 * runs of their own evaluated every 5 minutes (their `for:` and eval times are multiples).
 */
const evaluationIntervalFor = (holdMs: number, evalTimes: readonly string[]): string =>
  holdMs >= 3_600_000 && [holdMs, ...evalTimes.map(durationMs)].every((ms) => ms % 300_000 === 0) ? "5m" : "1m";

/**
 * One promtool test group and the rules it evaluates, written as a rule file and a unit
 * test file of its own (so stacks whose runs come out the same share one). It proves, and
 * must pass: each of its alerts fires on its firing case (with its rule's labels, not
 * before its `for:`) and is not active at the eval time of its silent one. It also holds,
 * per firing case, an alert_rule_test that expects no alert at the case's eval time, so
 * promtool prints the alerts it got, labels and annotations rendered by Prometheus' own
 * template code (see readUnitTestSection): those mismatches, and only those, are expected.
 * Rendering there costs no evaluation of its own: same series, same evaluation loop.
 */
export interface UnitTestRun {
  readonly evaluationInterval: string;
  /** The rule group as the test loads it: its rules verbatim, only those of the test's alerts when no rule reads another's output. */
  readonly ruleGroup: LoadedGroup;
  readonly test: UnitTestGroup;
  /** The alert_rule_tests that expect nothing (alert name, eval time). */
  readonly renders: readonly { readonly alertname: string; readonly evalTime: string }[];
}

/** The unit test file of a run, loading the rule file at `ruleFile`. */
export const unitTestFile = (run: UnitTestRun, ruleFile: string): UnitTestFile => ({ rule_files: [ruleFile], evaluation_interval: run.evaluationInterval, tests: [run.test] });

interface UnitCase {
  readonly alert: string;
  readonly kind: "firing" | "silent";
  readonly at: AlertCase;
  readonly rules: readonly LoadedRule[];
  readonly evaluationInterval: string;
  /** Metric names of the case's series. */
  readonly writes: ReadonlySet<string>;
  /** Metric names the alert's rules read, of those any case writes; undefined: unknown (a __name__ matcher), never shares a test group. */
  readonly reads?: ReadonlySet<string>;
}

const metricOf = (series: string): string => series.replace(/\{.*$/, "").trim();
const mentions = (expr: string, metric: string): boolean => new RegExp(`(^|[^a-zA-Z0-9_:])${metric.replace(/:/g, "\\:")}($|[^a-zA-Z0-9_:])`).test(expr);

/**
 * Cases of different alerts share a test group (one TSDB and one evaluation loop in
 * promtool, its main cost) when neither case's series are a metric the other's alert reads
 * or the other case writes, so no case sees another's series.
 */
function compatible(a: UnitCase, b: UnitCase): boolean {
  if (a.alert === b.alert || a.reads === undefined || b.reads === undefined) return false;
  const touches = (c: UnitCase, metric: string) => c.writes.has(metric) || (c.reads as ReadonlySet<string>).has(metric);
  return ![...a.writes].some((m) => touches(b, m)) && ![...b.writes].some((m) => touches(a, m));
}

function pack(cases: readonly UnitCase[]): UnitCase[][] {
  const groups: UnitCase[][] = [];
  // Longest first: a group runs until its latest eval time, so like lengths go together.
  for (const c of [...cases].sort((x, y) => durationMs(y.at.evalTime) - durationMs(x.at.evalTime))) {
    const home = groups.find((g) => g.every((other) => compatible(c, other)));
    if (home) home.push(c);
    else groups.push([c]);
  }
  return groups;
}

/**
 * promtool unit tests for one rule group, one run per test group. Firing is asserted on
 * ALERTS rather than with `alert_rule_test`, which compares exp_labels and exp_annotations
 * exactly (cmd/promtool/unittest.go v2.42.0, testGroup.test: reflect.DeepEqual over labels
 * and annotations): annotations are templates of the measured value, which a fixture
 * should not have to predict to the digit. The rendered annotations are read from the
 * runs' expected render mismatches instead.
 */
export function alertUnitTests(input: {
  readonly group: LoadedGroup;
  /** undefined: no fixture, no tests for that alert (the caller reports it). */
  readonly fixture: (alert: string) => AlertFixture | undefined;
  readonly name: string;
}): UnitTestRun[] {
  const { group, name } = input;
  const byName = new Map<string, LoadedRule[]>();
  for (const rule of group.rules) if (rule.alert !== undefined) byName.set(rule.alert, [...(byName.get(rule.alert) ?? []), rule]);
  const raw: Omit<UnitCase, "writes" | "reads">[] = [];
  for (const [alert, rules] of byName) {
    const fixture = input.fixture(alert);
    if (fixture === undefined) continue;
    const evaluationInterval = evaluationIntervalFor(durationMs(rules[0]?.for ?? "0s"), [fixture.firing.evalTime, fixture.silent.evalTime]);
    raw.push({ alert, kind: "firing", at: fixture.firing, rules, evaluationInterval }, { alert, kind: "silent", at: fixture.silent, rules, evaluationInterval });
  }
  const written = new Set(raw.flatMap((c) => c.at.series.map((s) => metricOf(s.series))));
  const cases: UnitCase[] = raw.map((c) => {
    const exprs = c.rules.map((r) => r.expr);
    return {
      ...c,
      writes: new Set(c.at.series.map((s) => metricOf(s.series))),
      ...(exprs.some((e) => e.includes("__name__")) ? {} : { reads: new Set([...written].filter((m) => exprs.some((e) => mentions(e, m)))) }),
    };
  });
  const zero = [{ labels: "{}", value: 0 }];
  const checks = (c: UnitCase): ExprTest[] => {
    const [first] = c.rules as [LoadedRule];
    if (c.kind === "silent") {
      // Not even pending at the eval time: the condition is false just inside the threshold. (Earlier
      // it may have been pending: a rate over a counter younger than its window reads low.)
      return [{ expr: `count(${alertsSelector(c.alert, {})}) or vector(0)`, eval_time: c.at.evalTime, exp_samples: zero }];
    }
    // Same-named rules (one per backup target) are matched on the labels they all carry;
    // each rule's own labels are checked on the rendered alerts.
    const shared = Object.fromEntries(Object.entries(first.labels ?? {}).filter(([k, v]) => c.rules.every((r) => r.labels?.[k] === v)));
    const beforeHold = durationMs(first.for ?? "0s") - durationMs(c.evaluationInterval);
    return [
      // At least one firing alert per rule of that name, with the rules' labels.
      { expr: `count(${alertsSelector(c.alert, { alertstate: "firing", ...shared })}) >= bool ${c.rules.length}`, eval_time: c.at.evalTime, exp_samples: [{ labels: "{}", value: 1 }] },
      // At the last evaluation before `for:` has passed it is pending at most.
      ...(beforeHold >= 0 ? [{ expr: `count(${alertsSelector(c.alert, { alertstate: "firing" })}) or vector(0)`, eval_time: promDuration(beforeHold), exp_samples: zero }] : []),
    ];
  };
  // promtool evaluates every rule of the loaded group at every step (cmd/promtool/unittest.go
  // v2.42.0, testGroup.test: g.Eval per step), its main cost. An alerting rule writes only
  // ALERTS/ALERTS_FOR_STATE; when no rule reads those or is a recording rule, a rule's
  // alerts are the same with or without its neighbours, so a test loads its own alerts' rules.
  const independent = group.rules.every((r) => r.alert !== undefined && !mentions(r.expr, "ALERTS") && !mentions(r.expr, "ALERTS_FOR_STATE"));
  const run = (members: readonly UnitCase[], interval: string): UnitTestRun => {
    const firing = members.filter((c) => c.kind === "firing");
    return {
      evaluationInterval: interval,
      ruleGroup: { ...group, rules: independent ? group.rules.filter((r) => members.some((c) => c.alert === r.alert)) : group.rules },
      test: {
        name: `${name} ${interval}: ${members.map((c) => `${c.alert} ${c.kind}`).join(", ")}`,
        interval: FIXTURE_INTERVAL,
        input_series: members.flatMap((c) => c.at.series),
        promql_expr_test: members.flatMap(checks),
        ...(firing.length > 0 ? { alert_rule_test: firing.map((c) => ({ eval_time: c.at.evalTime, alertname: c.alert, exp_alerts: [] })) } : {}),
      },
      renders: firing.map((c) => ({ alertname: c.alert, evalTime: c.at.evalTime })),
    };
  };
  const intervals = [...new Set(cases.map((c) => c.evaluationInterval))].sort();
  return intervals.flatMap((interval) => pack(cases.filter((c) => c.evaluationInterval === interval)).map((members) => run(members, interval)));
}

// ---- what promtool printed ----

export interface RenderedAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Go's strconv.Quote undone (labels.Labels.String quotes every value with it). */
function goUnquote(body: string): string {
  const simple: Readonly<Record<string, string>> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'" };
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_match, esc: string) => {
    if (esc.length === 1) {
      const char = simple[esc];
      if (char === undefined) throw new Error(`unknown escape \\${esc} in promtool output`);
      return char;
    }
    if (/^[0-7]{3}$/.test(esc)) return String.fromCodePoint(parseInt(esc, 8));
    return String.fromCodePoint(parseInt(esc.slice(1), 16));
  });
}

/** `{a="x", b="y"}` (model/labels Labels.String) as a record. */
export function parseLabelSet(text: string): Record<string, string> {
  if (!/^\{.*\}$/.test(text)) throw new Error(`not a label set: ${text}`);
  const inner = text.slice(1, -1);
  const out: Record<string, string> = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:, |$)/y;
  let at = 0;
  while (at < inner.length) {
    pair.lastIndex = at;
    const match = pair.exec(inner);
    if (match === null) throw new Error(`cannot read the label set ${text} at offset ${at}`);
    out[match[1] as string] = goUnquote(match[2] as string);
    at = pair.lastIndex;
  }
  return out;
}

/**
 * The alerts promtool says it got, per alert name, from the render mismatches of a
 * `test rules` run (see readUnitTestSection). Their error text (cmd/promtool/unittest.go v2.42.0:
 * "alertname: <name>, time: <t>," then "got:" and one "Labels:{...}" / "Annotations:{...}"
 * line pair per alert, values quoted by strconv.Quote, so one line each).
 */
export function parseRenderedAlerts(output: string): Map<string, RenderedAlert[]> {
  const result = new Map<string, RenderedAlert[]>();
  let current: string | undefined;
  let labels: Record<string, string> | undefined;
  for (const line of output.split("\n")) {
    const name = /^ {4}alertname: (\S+), time: /.exec(line);
    if (name) {
      current = name[1] as string;
      result.set(current, result.get(current) ?? []);
      continue;
    }
    // Every item but the last ends in "," (labelsAndAnnotations.String joins them with ",\n").
    const item = /^\s+(Labels|Annotations):(.*?),?$/.exec(line);
    if (item === null) continue;
    const set = parseLabelSet(item[2] as string);
    if (item[1] === "Labels") {
      labels = set;
      continue;
    }
    if (current === undefined || labels === undefined) throw new Error(`promtool output: annotations without an alert name or labels: ${line}`);
    (result.get(current) as RenderedAlert[]).push({ labels, annotations: set });
    labels = undefined;
  }
  return result;
}

/** `$labels.x` a template needs; `{{ with $labels.x }}` marks x optional. */
export function requiredTemplateLabels(template: string): string[] {
  const optional = new Set([...template.matchAll(/\{\{-?\s*with\s+\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1] as string));
  return [...new Set([...template.matchAll(/\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1] as string))].filter((l) => !optional.has(l));
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * One run's section of a `promtool test rules` report, judged: the failures promtool
 * reports (RulesUnitTest v2.42.0 prints "  FAILED:" and then each error followed by an
 * empty line, or "  SUCCESS") are all expected renders, each at most once, or they are
 * `unexpected`. An expected render is the error testGroup.test writes for an
 * alert_rule_test mismatch: the test's name, "alertname: <a>, time: <t>,", "exp:[]" and a
 * non-empty "got:". Anything else (a failed expression check, a rule evaluation error, a
 * file promtool could not load, no section) is unexpected.
 */
export function readUnitTestSection(section: string | undefined, run: UnitTestRun): { readonly unexpected: readonly string[]; readonly rendered: Map<string, RenderedAlert[]> } {
  if (section === undefined) return { unexpected: ["promtool printed no section for this file"], rendered: new Map() };
  const [header = "", status = "", ...rest] = section.split("\n");
  if (!header.startsWith("Unit Testing: ")) return { unexpected: [`not a unit test section: ${header}`], rendered: new Map() };
  if (status === "  SUCCESS") {
    const extra = rest.filter((l) => l.trim() !== "");
    return { unexpected: extra.length > 0 ? [extra.join("\n")] : [], rendered: new Map() };
  }
  if (status !== "  FAILED:") return { unexpected: [`neither SUCCESS nor FAILED: ${status}`], rendered: new Map() };
  const blocks = rest.join("\n").split(/\n\s*\n/).map((b) => b.replace(/^\n+|\n+$/g, "")).filter((b) => b.trim() !== "");
  const pending = [...run.renders];
  const unexpected: string[] = [];
  const expected: string[] = [];
  const shape = new RegExp(`^ {4}name: ${escapeRegExp(run.test.name)},\n {4}alertname: (\\S+), time: (\\S+), \n {8}exp:\\[\\], \n {8}got:\\[\n[\\s\\S]*\n {12}\\]$`);
  for (const block of blocks) {
    const match = shape.exec(block);
    const at = match ? pending.findIndex((r) => r.alertname === match[1] && durationMs(r.evalTime) === durationMs(match[2] as string)) : -1;
    if (at < 0) {
      unexpected.push(block);
      continue;
    }
    pending.splice(at, 1);
    expected.push(block);
  }
  return { unexpected, rendered: parseRenderedAlerts(expected.join("\n")) };
}
