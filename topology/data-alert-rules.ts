// Alerts on the data tier's safety nets: the things that, left alone, lose data or stop
// writes (replication slots holding WAL, no synchronous standby, stale backups). They are
// a rule group of their own, next to the benchmark-derived performance rules.
import { stringify } from "yaml";
import type { StackConfig } from "../config/schema";
import type { AlertRule } from "./alert-rules";
import { backupAlertRules } from "./backup-alert-rules";
import { postgresAlertRules } from "./postgres-alert-rules";

/** `target`: the upload target of the per-target backup rules (topology/backup-alert-rules.ts). */
export type DataAlertRule = AlertRule<{ readonly component: string; readonly target?: string }>;

export const DATA_ALERT_GROUP = "medianest-data";

/** Every data-tier rule of a stack; which ones exist follows the config (replicas, synchronous commit, backups). */
export function dataAlertRules(config: StackConfig): DataAlertRule[] {
  const rules = [
    ...postgresAlertRules(config),
    ...backupAlertRules(config),
  ];
  // Rules may share a name (one per backup target) but not name and labels: promtool's
  // duplicate-rule lint (cmd/promtool/main.go v2.42.0, checkDuplicates) compares exactly these,
  // and two such rules would write the same ALERTS series.
  const identities = new Set<string>();
  for (const { alert, labels } of rules) {
    const identity = JSON.stringify([alert, Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))]);
    if (identities.has(identity)) throw new Error(`duplicate data alert "${alert}" with labels ${JSON.stringify(labels)}`);
    identities.add(identity);
  }
  return rules;
}

export function dataAlertRulesYaml(config: StackConfig): string {
  const file = { groups: [{ name: DATA_ALERT_GROUP, rules: dataAlertRules(config) }] };
  return `# Generated from the stack config by topology/data-alert-rules.ts; do not edit.\n${stringify(file, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
