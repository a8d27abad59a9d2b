// Backup-age alerts, on what the backup services write for node-exporter's textfile collector
// (scripts/backup/pg-dump.sh and upload.sh, --metrics-dir): the newest complete dump's time
// and, per target bucket, the time of the newest dump uploaded there. A backup pipeline that
// stops — dumps failing, the uploader down, a bucket refusing writes — shows as an age, not
// as silence. max by (...) over instances: a task that moved hosts leaves an older file on
// the old host, and the newest value is the one that counts.
import type { StackConfig } from "../config/schema";
import type { DataAlertRule } from "./data-alert-rules";

/** Seconds after the last dump (one interval plus half of one, at least an hour) before BackupTooOld fires. */
export function backupAgeLimitSeconds(config: StackConfig): number {
  const interval = config.backup.intervalHours * 3600;
  return interval + Math.max(3600, interval / 2);
}

/** Extra time an upload may take after its dump before OffsiteCopyTooOld fires. */
const UPLOAD_GRACE_SECONDS = 30 * 60;

/** Seconds after the newest uploaded dump before OffsiteCopyTooOld fires: the dump's limit plus the upload's grace. */
export function offsiteCopyAgeLimitSeconds(config: StackConfig): number {
  return backupAgeLimitSeconds(config) + UPLOAD_GRACE_SECONDS;
}

const minutes = (seconds: number): string => `${Math.round(seconds / 60)}m`;
const hours = (seconds: number): string => `${+(seconds / 3600).toFixed(1)} h`;

/** The upload targets, by the alias upload.sh labels them with (target="..."). */
export function backupTargets(config: StackConfig): { readonly target: string; readonly bucket: string }[] {
  const offsite = config.backup.offsite;
  return [{ target: "medianest", bucket: config.s3.buckets.backups }, ...(offsite ? [{ target: "offsite", bucket: offsite.bucket }] : [])];
}

export function backupAlertRules(config: StackConfig): DataAlertRule[] {
  const db = config.services.postgres.database;
  const limit = backupAgeLimitSeconds(config);
  const offsiteLimit = offsiteCopyAgeLimitSeconds(config);
  const dumped = `medianest_backup_last_success_timestamp_seconds{database="${db}"}`;
  const rules: DataAlertRule[] = [
    {
      alert: "BackupTooOld",
      expr: `time() - max by (database) (${dumped}) > ${limit}`,
      for: "10m",
      labels: { severity: "critical", component: "backup" },
      annotations: {
        summary: `The newest dump of ${db} is older than ${hours(limit)}`,
        description: `backup.intervalHours is ${config.backup.intervalHours}: postgres-backup has not completed a dump for {{ $value | humanizeDuration }}. Retention keeps the newest backup.keepLast (${config.backup.keepLast}) dumps meanwhile.`,
        runbook: "README, \"Backups and restore\": docker service logs postgres-backup; check the database it dumps from and the free space in storage.backupPath.",
      },
    },
    {
      alert: "BackupMetricsMissing",
      expr: `absent(${dumped})`,
      for: "1h",
      labels: { severity: "warning", component: "backup" },
      annotations: {
        summary: `No backup metrics for ${db}`,
        description: "postgres-backup writes its last dump's time at the end of every dump; none reached Prometheus, so BackupTooOld cannot fire.",
        runbook: "Check that postgres-backup runs and that node-exporter on its host reads the backup-metrics directory (--collector.textfile.directory).",
      },
    },
  ];
  // One rule per target, all of one name: the target label (also on the alert, from the
  // expression) tells them apart, for promtool's duplicate-rule lint and dataAlertRules.
  for (const { target, bucket } of backupTargets(config)) {
    const uploaded = `medianest_backup_offsite_newest_dump_timestamp_seconds{database="${db}",target="${target}"}`;
    rules.push(
      {
        alert: "OffsiteCopyTooOld",
        expr: `time() - max by (database, target) (${uploaded}) > ${offsiteLimit}`,
        for: "10m",
        labels: { severity: "critical", component: "backup", target },
        annotations: {
          summary: `The newest dump of ${db} in ${bucket} (${target}) is older than ${hours(offsiteLimit)}`,
          description: `backup-upload copies each dump within about a poll of it being written; the newest copy in ${bucket} is {{ $value | humanizeDuration }} old. A lost backup host would lose everything newer.`,
          runbook: "README, \"Backups and restore\": docker service logs backup-upload; check the endpoint, the bucket and its keys.",
        },
      },
      {
        alert: "OffsiteCopyMissing",
        expr: `absent(${uploaded})`,
        for: minutes(2 * 3600),
        labels: { severity: "warning", component: "backup", target },
        annotations: {
          summary: `No upload of ${db} to ${bucket} (${target}) is known`,
          description: "backup-upload writes the newest uploaded dump's time after every round; none reached Prometheus.",
          runbook: "Check that backup-upload runs (docker service ps backup-upload) and its logs.",
        },
      },
    );
  }
  return rules;
}
