// Postgres replication alerts, on postgres-exporter's pg_replication_slot collector
// (postgres_exporter v0.17.1 collector/pg_replication_slot.go: slot_is_active,
// safe_wal_size_bytes and wal_status per slot_name; physical slots have no
// confirmed_flush_lsn, so the WAL a slot still holds is read as what is left of the bound)
// and its pg_stat_replication map (cmd/postgres_exporter/postgres_exporter.go
// builtinMetricMaps; queries.go computes pg_wal_lsn_diff on the primary as
// pg_current_wal_lsn() - replay_lsn per connected standby, application_name as a label).
import type { StackConfig } from "../config/schema";
import type { DataAlertRule } from "./data-alert-rules";

const MB = 1024 * 1024;

export function postgresAlertRules(config: StackConfig): DataAlertRule[] {
  const pg = config.services.postgres;
  if (pg.replicas === 0) return [];
  const bound = pg.maxSlotWalKeepSizeMb * MB;
  const lagMb = config.monitoring.thresholds.replicationLagMb;
  const rules: DataAlertRule[] = [
    {
      alert: "PostgresReplicationLag",
      expr: `pg_stat_replication_pg_wal_lsn_diff{job="postgres-exporter"} > ${lagMb * MB}`,
      for: "5m",
      labels: { severity: "warning", component: "postgres" },
      annotations: {
        summary: "Replica {{ $labels.application_name }} replays {{ $value | humanize1024 }}B behind the primary",
        description: `More than monitoring.thresholds.replicationLagMb (${lagMb} MB) of WAL sent to {{ $labels.application_name }} ({{ $labels.client_addr }}) is not replayed yet: reads there are stale, and a failover to it would wait for the replay.`,
        runbook: "The replica's host: disk I/O wait and CPU (node-exporter); long queries on the replica that conflict with replay (pg_stat_activity).",
      },
    },
    {
      alert: "PostgresReplicationSlotLagging",
      // Less than half of max_slot_wal_keep_size left: the slot's replica is far behind or away.
      expr: `pg_replication_slot_safe_wal_size_bytes{slot_type="physical"} < ${bound / 2}`,
      for: "10m",
      labels: { severity: "warning", component: "postgres" },
      annotations: {
        summary: "Replication slot {{ $labels.slot_name }} holds more than half of the WAL bound",
        description: `Slot {{ $labels.slot_name }} has {{ $value | humanize1024 }}B left of services.postgres.maxSlotWalKeepSizeMb (${pg.maxSlotWalKeepSizeMb} MB) before the primary gives its WAL up and the replica has to be cloned again.`,
        runbook: "Check the replica's task (docker service ps) and its logs; a replica removed from config has its slot dropped at the primary's next start.",
      },
    },
    {
      alert: "PostgresReplicationSlotLost",
      expr: `pg_replication_slot_wal_status{slot_type="physical", wal_status=~"unreserved|lost"} == 1`,
      for: "1m",
      labels: { severity: "critical", component: "postgres" },
      annotations: {
        summary: "Replication slot {{ $labels.slot_name }} passed the WAL bound ({{ $labels.wal_status }})",
        description: "The primary no longer keeps the WAL this slot's replica needs; the replica cannot catch up by streaming.",
        runbook: "README, \"A replica that fell too far behind\": empty the replica's data directory so it clones the primary again.",
      },
    },
    {
      alert: "PostgresReplicaNotStreaming",
      expr: `pg_replication_slot_slot_is_active{slot_type="physical"} == 0`,
      for: "5m",
      labels: { severity: "warning", component: "postgres" },
      annotations: {
        summary: "No replica streams from slot {{ $labels.slot_name }}",
        description: "The replica of this slot is down or cannot reach the primary; the slot keeps WAL for it up to the bound.",
        runbook: "Check the replica's task and logs (a different cluster's data is refused there with a message saying how to recover).",
      },
    },
  ];
  if (pg.synchronousCommit) {
    rules.push({
      alert: "PostgresNoSynchronousStandby",
      // ANY 1 over the replicas: with none streaming, every commit waits.
      expr: `sum(pg_replication_slot_slot_is_active{slot_type="physical"}) < 1`,
      for: "1m",
      labels: { severity: "critical", component: "postgres" },
      annotations: {
        summary: "No replica streams: writes wait for a synchronous standby",
        description: "services.postgres.synchronousCommit is on and no replica is connected, so every commit waits until one is back.",
        runbook: "README, \"Synchronous commit\": bring a replica back, or set services.postgres.synchronousCommit to false and apply to accept writes without a standby.",
      },
    });
  }
  return rules;
}
