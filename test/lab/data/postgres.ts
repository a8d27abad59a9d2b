// The lab, part 2: Postgres: streaming replication, read-only replicas, a killed replica catching
// up, the WAL kept for a replica that is away staying within the configured bound.
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { runOverSsh } from "../commands";
import type { LabHost } from "../lab-hosts";
import { WAL_RETENTION_SQL, walRetentionMb } from "../../support/wal-retention";
import { flagValue, recordedSpec } from "../lab-swarm";
import { since, until } from "./probes";
import type { DataLabSession, TaskRef } from "./session";

/** Postgres: streaming replication, read-only replicas, a killed replica catching up, the WAL bound. */
export function postgresScenarios(s: DataLabSession): void {
  const pg = () => {
    const args = recordedSpec(s.run, "postgres-primary", s.objects.refs).args;
    return { port: flagValue(args, "--port"), db: flagValue(args, "--db"), user: flagValue(args, "--user") };
  };
  const PSQL = 'exec psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$2" -d "$3" -c "$4"';

  /** psql as the application user on the primary, the password read from its secret file. */
  async function onPrimary(sql: string): Promise<{ code: number; output: string }> {
    const t = await s.one("postgres-primary");
    const { port, user, db } = pg();
    return t.host.engine.exec(t.containerId, ["bash", "-c", `PGPASSWORD="$(cat /run/secrets/postgres-password)" ${PSQL}`, "psql", port, user, db, sql]);
  }

  /**
   * psql as the application user on a replica. A replica task only has the replication
   * password (by design), so the lab passes the application password (its copy of the
   * same Swarm secret) in the exec's environment.
   */
  async function onReplica(t: TaskRef, sql: string): Promise<{ code: number; output: string }> {
    const { port, user, db } = pg();
    return t.host.engine.exec(t.containerId, ["bash", "-c", PSQL, "psql", port, user, db, sql], 30_000, [`PGPASSWORD=${s.objects.secretValues.get("postgres-password")}`]);
  }

  async function sql(where: "primary" | TaskRef, statement: string): Promise<string> {
    const result = where === "primary" ? await onPrimary(statement) : await onReplica(where, statement);
    if (result.code !== 0) throw new Error(`psql (${where === "primary" ? "primary" : where.task.ID}) exited ${result.code}: ${result.output}`);
    return result.output.trim();
  }

  it("Postgres: streaming replication to both replicas, read-only replicas, active slots", async () => {
    const { run, objects, requireStep, check, one, done } = s;
    requireStep("deployed");
    await check("postgres: row on primary readable on each replica; replicas reject writes; slots active", async () => {
      const token = `row-${randomBytes(4).toString("hex")}`;
      await sql("primary", "CREATE TABLE IF NOT EXISTS lab_replication (id serial PRIMARY KEY, note text NOT NULL, at timestamptz NOT NULL DEFAULT now())");
      await sql("primary", `INSERT INTO lab_replication (note) VALUES ('${token}')`);
      const written = Date.now();
      const lags: string[] = [];
      for (const name of ["postgres-replica-1", "postgres-replica-2"]) {
        const replica = await one(name);
        await until(`${name} has the row`, 30_000, 250, async () => ((await sql(replica, `SELECT note FROM lab_replication WHERE note = '${token}'`)) === token ? true : undefined));
        lags.push(`${name} ${since(written).toFixed(1)} s`);
        expect(await sql(replica, "SELECT pg_is_in_recovery()")).toBe("t");
        const write = await onReplica(replica, `INSERT INTO lab_replication (note) VALUES ('${token}-on-replica')`);
        expect(write.code, `${name} accepted a write`).not.toBe(0);
        expect(write.output).toMatch(/read-only transaction/);
      }
      const slots = await sql("primary", "SELECT slot_name || ':' || active FROM pg_replication_slots ORDER BY slot_name");
      const wanted = flagValue(recordedSpec(run, "postgres-primary", objects.refs).args, "--slots").split(",");
      expect(slots.split("\n")).toEqual(wanted.map((s) => `${s}:true`));
      done.add("postgres");
      return `visible after: ${lags.join(", ")}; slots ${wanted.join(",")} active`;
    });
  }, 180_000);

  it("Postgres: a killed replica container is restarted by Swarm and catches up", async () => {
    const { requireStep, check, running, one } = s;
    requireStep("postgres");
    await check("postgres: replica-1 container killed -> restarted by Swarm, catches up", async () => {
      const victim = await one("postgres-replica-1");
      await victim.host.engine.post(`/containers/${victim.containerId}/kill?signal=SIGKILL`);
      const killed = Date.now();
      const token = `while-down-${randomBytes(4).toString("hex")}`;
      await sql("primary", `INSERT INTO lab_replication (note) VALUES ('${token}')`);
      const { value: restarted } = await until("postgres-replica-1 restarted", 180_000, 1_000, async () => {
        const all = await running("postgres-replica-1");
        return all.length === 1 && all[0].task.ID !== victim.task.ID ? all[0] : undefined;
      });
      const runningAfter = since(killed);
      await until("the restarted replica has the row written meanwhile", 60_000, 500, async () =>
        (await sql(restarted, `SELECT note FROM lab_replication WHERE note = '${token}'`)) === token ? true : undefined,
      );
      const caughtUp = since(killed);
      await until("slot replica_1 active again", 30_000, 500, async () => ((await sql("primary", "SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_1'")) === "t" ? true : undefined));
      expect(restarted.host.name).toBe(victim.host.name);
      return `new task running after ${runningAfter.toFixed(0)} s, row written meanwhile visible after ${caughtUp.toFixed(0)} s`;
    });
  }, 300_000);

  it("Postgres: with a replica away and writes going on, pg_wal stays within the bound; the README's re-clone brings the replica back", async () => {
    const { requireStep, check, running, one, converge } = s;
    requireStep("postgres");
    const ssh = async (host: LabHost, command: string, timeoutMs = 120_000) => {
      const out = await runOverSsh({ address: host.address, user: "root", port: 22, keyFile: s.lab.keyFile }, "bash -s", command, timeoutMs);
      if (out.code !== 0) throw new Error(`on ${host.name}: exited ${String(out.code)}: ${out.stderr.trim().slice(-400)}`);
      return out.stdout;
    };
    /** psql as the superuser on the primary (peer authentication on its socket, as the postgres user). */
    const superuser = async (statement: string): Promise<string> => {
      const t = await one("postgres-primary");
      const r = await t.host.engine.exec(t.containerId, ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", pg().port, "-d", "postgres", "-c", statement], 60_000);
      if (r.code !== 0) throw new Error(`superuser psql exited ${r.code}: ${r.output}`);
      return r.output.trim();
    };
    await check("postgres: replica-2 stopped, the primary writes 1.5× services.postgres.maxSlotWalKeepSizeMb -> its slot is lost, pg_wal keeps the bound; emptied and scaled back (README), it clones and streams", async () => {
      const boundMb = (s.config["medianest:services"] as { postgres?: { maxSlotWalKeepSizeMb?: number } }).postgres?.maxSlotWalKeepSizeMb;
      if (boundMb === undefined) throw new Error("the lab stack sets services.postgres.maxSlotWalKeepSizeMb (a bound the lab can write past)");
      expect(await superuser("SHOW max_slot_wal_keep_size")).toBe(`${boundMb}MB`);
      expect(await superuser("SHOW wal_keep_size")).toBe(`${boundMb}MB`);
      const [replica] = await running("postgres-replica-2");
      if (!replica) throw new Error("postgres-replica-2 is not running");
      const manager = s.lab.host(s.managerName);
      await ssh(manager, "docker service scale postgres-replica-2=0 >/dev/null");
      await until("postgres-replica-2 stopped and its slot inactive", 120_000, 1_000, async () =>
        (await running("postgres-replica-2")).length === 0 && (await superuser("SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_2'")) === "f" ? true : undefined,
      );
      // Application rows and segment switches: each switch moves the WAL position to the next 16 MB segment.
      await sql("primary", "CREATE TABLE IF NOT EXISTS lab_wal_fill (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())");
      const segments = Math.ceil((boundMb * 1.5) / 16);
      const writing = Date.now();
      for (let i = 0; i < segments; i++) {
        await sql("primary", "INSERT INTO lab_wal_fill DEFAULT VALUES");
        await superuser("SELECT pg_switch_wal()");
      }
      const writeSeconds = since(writing);
      await superuser("CHECKPOINT");
      const slot = await superuser("SELECT coalesce(wal_status, '-') FROM pg_replication_slots WHERE slot_name = 'replica_2'");
      const [keptMb, recycledMb] = walRetentionMb(await superuser(WAL_RETENTION_SQL));
      expect(slot, "replica_2's slot after writing past the bound").toBe("lost");
      expect(keptMb).toBeLessThanOrEqual(boundMb + 16);
      // The other replica still confirms commits (synchronous commit: ANY 1).
      expect(Number(await sql("primary", "SELECT count(*) FROM lab_wal_fill"))).toBeGreaterThanOrEqual(segments);

      // README, "A replica that fell too far behind": service at 0 (it is), empty its directory, back to 1.
      const appDataPath = (s.config["medianest:storage"] as { appDataPath?: string } | undefined)?.appDataPath ?? "/opt/medianest";
      await ssh(replica.host, `find ${appDataPath}/postgres/replica-2 -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +`);
      const scaled = Date.now();
      await ssh(manager, "docker service scale --detach postgres-replica-2=1 >/dev/null");
      await converge(["postgres-replica-2"], 300_000);
      const token = `after-reclone-${randomBytes(4).toString("hex")}`;
      await sql("primary", `INSERT INTO lab_replication (note) VALUES ('${token}')`);
      const again = await one("postgres-replica-2");
      await until("the re-cloned replica-2 has a row written after it", 180_000, 1_000, async () => ((await sql(again, `SELECT note FROM lab_replication WHERE note = '${token}'`).catch(() => "")) === token ? true : undefined));
      let slotNow = "";
      await until("slot replica_2 active and reserved again", 60_000, 1_000, async () => {
        // boolean || text reads "true"/"false".
        slotNow = await superuser("SELECT active || ' ' || coalesce(wal_status, '-') FROM pg_replication_slots WHERE slot_name = 'replica_2'");
        return slotNow === "true reserved" ? true : undefined;
      }).catch((error: Error) => {
        throw new Error(`${error.message}; slot replica_2: ${slotNow}`);
      });
      return `bound ${boundMb} MB: ${segments * 16} MB of WAL in ${writeSeconds.toFixed(0)} s with replica-2 at 0; slot ${slot}; pg_wal keeps ${keptMb.toFixed(0)} MB (+ ${recycledMb.toFixed(0)} MB recycled segments); emptied and scaled back: cloned and streaming ${since(scaled).toFixed(0)} s later`;
    });
  }, 600_000);
}
