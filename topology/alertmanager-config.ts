// alertmanager.yml: where the benchmark alerts go. Every credential (webhook
// URL, SMTP password, Slack webhook) is referenced by file path only, so the
// generated config can be stored as a plain Swarm config or in Pulumi state
// without leaking anything; the files themselves are Swarm secrets.
// Pin Alertmanager 0.27 or later: older releases lack some `*_file` fields or
// keep a trailing newline read from a password file.
import { stringify } from "yaml";

export interface AlertingInput {
  /** Generic webhook; the file holds the URL (URLs often embed a token). */
  readonly webhook?: { readonly urlFile: string };
  readonly email?: {
    readonly to: string;
    readonly from: string;
    /** host:port */
    readonly smarthost: string;
    readonly username?: string;
    readonly passwordFile?: string;
    readonly requireTls: boolean;
  };
  /** The file holds the incoming-webhook URL, which is the credential. */
  readonly slack?: { readonly apiUrlFile: string; readonly channel: string };
  readonly groupWait?: string;
  /** How often an unresolved warning is re-sent (default 4h); critical alerts repeat four times as often. */
  readonly repeatInterval?: string;
}

export type ReceiverName = "webhook" | "email" | "slack" | "null";

export interface AlertmanagerReceiver {
  readonly name: ReceiverName;
  readonly webhook_configs?: readonly { readonly url_file: string; readonly send_resolved: boolean }[];
  readonly email_configs?: readonly {
    readonly to: string;
    readonly from: string;
    readonly smarthost: string;
    readonly require_tls: boolean;
    readonly auth_username?: string;
    readonly auth_password_file?: string;
    readonly send_resolved: boolean;
  }[];
  readonly slack_configs?: readonly {
    readonly api_url_file: string;
    readonly channel: string;
    readonly send_resolved: boolean;
    readonly title: string;
    readonly text: string;
  }[];
}

export interface AlertmanagerRoute {
  readonly receiver?: ReceiverName;
  readonly matchers?: readonly string[];
  readonly group_by?: readonly string[];
  readonly group_wait?: string;
  readonly group_interval?: string;
  readonly repeat_interval?: string;
  readonly continue?: boolean;
  readonly routes?: readonly AlertmanagerRoute[];
}

export interface AlertmanagerInhibitRule {
  readonly source_matchers: readonly string[];
  readonly target_matchers: readonly string[];
  readonly equal: readonly string[];
}

export interface AlertmanagerConfig {
  readonly route: AlertmanagerRoute;
  readonly receivers: readonly AlertmanagerReceiver[];
  readonly inhibit_rules: readonly AlertmanagerInhibitRule[];
}

const DEFAULT_GROUP_WAIT = "30s";
const DEFAULT_REPEAT_INTERVAL = "4h";
const GROUP_INTERVAL = "5m";

const DURATION_UNITS: readonly (readonly [string, number])[] = [
  ["y", 365 * 24 * 3600_000],
  ["w", 7 * 24 * 3600_000],
  ["d", 24 * 3600_000],
  ["h", 3600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** Prometheus/Alertmanager duration ("4h", "1h30m") in milliseconds. */
function parseDuration(name: string, value: string): number {
  const match = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(value);
  const ms = match === null ? 0 : DURATION_UNITS.reduce((sum, [, size], i) => sum + Number(match[i + 1] ?? 0) * size, 0);
  if (ms <= 0) throw new Error(`${name}: "${value}" is not a positive duration`);
  return ms;
}

/** Milliseconds back to a duration string, largest units first (no "y"/"w"/"d": hours read better here). */
function formatDuration(ms: number): string {
  let rest = Math.max(1, Math.round(ms));
  let text = "";
  for (const [unit, size] of DURATION_UNITS.slice(3)) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}

/** Catches the classic mistake of pasting the secret itself where its file path belongs. */
function secretFile(name: string, path: string): string {
  if (!path.startsWith("/") || /\s/.test(path) || path.includes("://")) {
    throw new Error(`${name} must be the absolute path of a file holding the secret (e.g. /run/secrets/...), not the secret itself`);
  }
  return path;
}

function receivers(input: AlertingInput): AlertmanagerReceiver[] {
  const result: AlertmanagerReceiver[] = [];
  if (input.webhook) {
    result.push({ name: "webhook", webhook_configs: [{ url_file: secretFile("webhook.urlFile", input.webhook.urlFile), send_resolved: true }] });
  }
  if (input.email) {
    const { to, from, smarthost, username, passwordFile, requireTls } = input.email;
    // A password without a user never authenticates; fail here, not at the first alert.
    if (passwordFile !== undefined && username === undefined) throw new Error("email.passwordFile needs email.username");
    result.push({
      name: "email",
      email_configs: [
        {
          to,
          from,
          smarthost,
          require_tls: requireTls,
          ...(username === undefined ? {} : { auth_username: username }),
          ...(passwordFile === undefined ? {} : { auth_password_file: secretFile("email.passwordFile", passwordFile) }),
          send_resolved: true,
        },
      ],
    });
  }
  if (input.slack) {
    result.push({
      name: "slack",
      slack_configs: [
        {
          api_url_file: secretFile("slack.apiUrlFile", input.slack.apiUrlFile),
          channel: input.slack.channel,
          send_resolved: true,
          title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}',
          text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.runbook }}\n{{ end }}",
        },
      ],
    });
  }
  // Nothing configured: alerts still fire and show in Prometheus and Grafana,
  // they are just not sent anywhere. Alertmanager needs some receiver.
  if (result.length === 0) result.push({ name: "null" });
  return result;
}

/** One severity's route: its repeat interval, fanned out to every receiver. */
function severityRoute(severity: "critical" | "warning", repeatInterval: string, names: readonly ReceiverName[]): AlertmanagerRoute {
  return {
    matchers: [`severity="${severity}"`],
    receiver: names[0],
    repeat_interval: repeatInterval,
    // A route delivers to one receiver; sibling routes with `continue` reach the others.
    ...(names.length > 1 ? { routes: names.map((receiver) => ({ receiver, continue: true })) } : {}),
  };
}

export function alertmanagerConfig(input: AlertingInput): AlertmanagerConfig {
  const groupWait = input.groupWait ?? DEFAULT_GROUP_WAIT;
  parseDuration("groupWait", groupWait);
  const warningRepeat = input.repeatInterval ?? DEFAULT_REPEAT_INTERVAL;
  const criticalRepeat = formatDuration(parseDuration("repeatInterval", warningRepeat) / 4);
  const configured = receivers(input);
  const names = configured.map((r) => r.name);
  return {
    route: {
      receiver: names[0],
      group_by: ["alertname", "severity"],
      group_wait: groupWait,
      group_interval: GROUP_INTERVAL,
      repeat_interval: warningRepeat,
      routes: [severityRoute("critical", criticalRepeat, names), severityRoute("warning", warningRepeat, names)],
    },
    receivers: configured,
    inhibit_rules: [
      {
        // A firing critical makes the same benchmark's warning noise. `benchmark=~".+"`
        // keeps unrelated criticals (no benchmark label) from muting every label-less
        // warning; `instance` keeps one node's critical from hiding another node's warning.
        source_matchers: ['severity="critical"', 'benchmark=~".+"'],
        target_matchers: ['severity="warning"'],
        equal: ["benchmark", "instance"],
      },
    ],
  };
}

export function alertmanagerConfigYaml(input: AlertingInput): string {
  return `# Generated by topology/alertmanager-config.ts; do not edit.\n${stringify(alertmanagerConfig(input), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
