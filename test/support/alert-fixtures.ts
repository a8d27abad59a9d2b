// Synthetic series for every generated alert, for `promtool test rules`
// (test/monitoring-tools.test.ts): per alert name, a case where the alert fires and one
// where it stays silent just inside its threshold. Thresholds are read from the config
// and domain/benchmarks.ts exactly as the rule generators read them, never retyped, so a
// changed threshold moves the fixture with it. A generated alert without an entry here
// fails the test; so does an entry no stack generates.
//
// Series use promtool's expanding notation ("a+bxn": a, a+b, ... n+1 samples), one sample
// a minute (the harness sets `interval: 1m`); the test clock starts at 0, so `time()` is
// the seconds since the case's start and timestamps before it are negative. The harness
// (test/support/monitoring-tools.ts) requires the alert to fire at `firing.evalTime` (so
// that must be past its `for:`) and to be neither pending nor firing at `silent.evalTime`.
// A rate over a counter that starts with the case reads low for its first window: evaluate
// rate-based cases once the window is full. New alerts: add an entry to ALERT_FIXTURES.
import type { StackConfig } from "../../config/schema";
import { postgresMembers, writerMember } from "../../domain/postgres-members";
import { backupAgeLimitSeconds, backupTargets, offsiteCopyAgeLimitSeconds } from "../../topology/backup-alert-rules";
// The benchmark rules on the edge's and node-exporter's metrics, the availability group, replication lag and upload failures.
import { EDGE_AND_AVAILABILITY_FIXTURES } from "./edge-and-availability-alert-fixtures";

export interface AlertCase {
  readonly series: readonly { readonly series: string; readonly values: string }[];
  readonly evalTime: string;
}
export interface AlertFixture {
  readonly firing: AlertCase;
  readonly silent: AlertCase;
}
export type AlertFixtures = Readonly<Record<string, (config: StackConfig) => AlertFixture>>;

type Series = AlertCase["series"][number];

/** Samples per series: enough for the longest case below (evaluated at 125m). */
const SAMPLES = 130;
const constant = (value: number): string => `${value}+0x${SAMPLES}`;
const labels = (pairs: Readonly<Record<string, string>>): string =>
  Object.entries(pairs)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
const series = (metric: string, pairs: Readonly<Record<string, string>>, values: string): Series => ({ series: `${metric}{${labels(pairs)}}`, values });

const NODE = { job: "node-exporter", instance: "10.0.1.5:9100" } as const;
const POSTGRES_EXPORTER = { job: "postgres-exporter", instance: "10.0.3.4:9187" } as const;

// ---- data tier (topology/postgres-alert-rules.ts, topology/backup-alert-rules.ts) ----

/** The physical slots the writer holds: one per other member (domain/postgres-members.ts). */
function writerSlots(config: StackConfig): string[] {
  const pg = config.services.postgres;
  const writer = writerMember(pg.replicas, pg.primary);
  return postgresMembers(pg.replicas)
    .filter((m) => m.name !== writer?.name)
    .map((m) => m.slot);
}

/** postgres_exporter v0.17.1 collector/pg_replication_slot.go: labels slot_name, slot_type (+ wal_status, value 1). */
const slotSeries = (metric: string, slot: string, values: string, extra: Readonly<Record<string, string>> = {}): Series =>
  series(`pg_replication_slot_${metric}`, { ...POSTGRES_EXPORTER, slot_name: slot, slot_type: "physical", ...extra }, values);

const MB = 1024 * 1024;

/** 5% past a bound (the alert's side) or 5% inside it. */
const MARGIN = 0.05;

/** The textfile metrics of scripts/backup/pg-dump.sh and upload.sh, read by node-exporter on the backup host. */
const dumpSeries = (config: StackConfig, values: string): Series =>
  series("medianest_backup_last_success_timestamp_seconds", { ...NODE, database: config.services.postgres.database }, values);
const uploadSeries = (config: StackConfig, target: string, values: string): Series =>
  series("medianest_backup_offsite_newest_dump_timestamp_seconds", { ...NODE, database: config.services.postgres.database, target }, values);

/** Seconds of an eval time such as "15m". */
const minutes = (text: string): number => Number(/^(\d+)m$/.exec(text)?.[1] ?? Number.NaN) * 60;

/**
 * A timestamp that is `limit + 60` s old at the case's start (past the limit all along), or
 * one that is `limit - 60` s old at `evalTime` (never past it).
 */
const staleSince = (limit: number): number => -(limit + 60);
const freshAt = (limit: number, evalTime: string): number => minutes(evalTime) - limit + 60;

const DATA_FIXTURES: AlertFixtures = {
  PostgresReplicationSlotLagging: (config) => {
    const half = (config.services.postgres.maxSlotWalKeepSizeMb * MB) / 2;
    const [slot = "replica_1"] = writerSlots(config);
    return {
      firing: { series: [slotSeries("safe_wal_size_bytes", slot, constant(Math.round(half * (1 - MARGIN))))], evalTime: "15m" },
      silent: { series: [slotSeries("safe_wal_size_bytes", slot, constant(Math.round(half * (1 + MARGIN))))], evalTime: "15m" },
    };
  },
  PostgresReplicationSlotLost: (config) => {
    const [slot = "replica_1"] = writerSlots(config);
    return {
      firing: { series: [slotSeries("wal_status", slot, constant(1), { wal_status: "lost" })], evalTime: "5m" },
      // "extended": past wal_keep_size but still within max_slot_wal_keep_size, the last state before "unreserved".
      silent: { series: [slotSeries("wal_status", slot, constant(1), { wal_status: "extended" })], evalTime: "5m" },
    };
  },
  PostgresReplicaNotStreaming: (config) => {
    const [slot = "replica_1"] = writerSlots(config);
    return {
      firing: { series: [slotSeries("slot_is_active", slot, constant(0))], evalTime: "10m" },
      silent: { series: [slotSeries("slot_is_active", slot, constant(1))], evalTime: "10m" },
    };
  },
  PostgresNoSynchronousStandby: (config) => {
    const slots = writerSlots(config);
    return {
      firing: { series: slots.map((slot) => slotSeries("slot_is_active", slot, constant(0))), evalTime: "5m" },
      // ANY 1: one streaming replica is enough.
      silent: { series: slots.map((slot, i) => slotSeries("slot_is_active", slot, constant(i === 0 ? 1 : 0))), evalTime: "5m" },
    };
  },
  BackupTooOld: (config) => {
    const limit = backupAgeLimitSeconds(config);
    return {
      firing: { series: [dumpSeries(config, constant(staleSince(limit)))], evalTime: "15m" },
      silent: { series: [dumpSeries(config, constant(freshAt(limit, "15m")))], evalTime: "15m" },
    };
  },
  BackupMetricsMissing: (config) => ({
    // node-exporter answers, but no dump has ever written its metrics file.
    firing: { series: [series("up", NODE, constant(1))], evalTime: "65m" },
    silent: { series: [series("up", NODE, constant(1)), dumpSeries(config, constant(0))], evalTime: "65m" },
  }),
  OffsiteCopyTooOld: (config) => {
    const limit = offsiteCopyAgeLimitSeconds(config);
    const targets = backupTargets(config);
    return {
      firing: { series: targets.map(({ target }) => uploadSeries(config, target, constant(staleSince(limit)))), evalTime: "15m" },
      silent: { series: targets.map(({ target }) => uploadSeries(config, target, constant(freshAt(limit, "15m")))), evalTime: "15m" },
    };
  },
  OffsiteCopyMissing: (config) => ({
    // Dumps are made, nothing is uploaded anywhere.
    firing: { series: [dumpSeries(config, constant(0))], evalTime: "125m" },
    silent: { series: [dumpSeries(config, constant(0)), ...backupTargets(config).map(({ target }) => uploadSeries(config, target, constant(0)))], evalTime: "125m" },
  }),
};

export const ALERT_FIXTURES: AlertFixtures = {
  ...DATA_FIXTURES,
  ...EDGE_AND_AVAILABILITY_FIXTURES,
};
