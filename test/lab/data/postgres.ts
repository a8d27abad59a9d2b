// The lab, part 2: Postgres: streaming replication, read-only replicas, a killed replica catching up.
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { flagValue, recordedSpec } from "../lab-swarm";
import { since, until } from "./probes";
import type { DataLabSession, TaskRef } from "./session";

/** Postgres: streaming replication, read-only replicas, a killed replica catching up. */
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
}
