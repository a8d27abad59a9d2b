// The lab, part 2: losing the Postgres primary's host. A bounded write loop commits numbered
// rows through the app's address (tasks.postgres-rw) while the primary's host dies (dockerd
// and every container process killed at once); the promotion is the config change
// services.postgres.primary: replica-1 applied in the engine's order, as the provider would
// (the member services are replaced: their writer alias is ForceNew). Measured: RTO (last
// acknowledged write before the loss -> first write accepted after it) and RPO (acknowledged
// rows missing afterwards); at no sample do two members run as primary. The old primary's
// host comes back: its member, now configured as a replica, rejoins. Then the identity guard:
// the primary's label moved to a host without its data starts no empty primary.
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect, it } from "vitest";
import { mockedRun, type MockedRun } from "../../support/mocked-run";
import { runOverSsh } from "../commands";
import { demuxLogs } from "../engine";
import { applyNewConfigs, flagValue, recordedSpec, type SwarmNode } from "../lab-swarm";
import { ProviderApplyError, createServiceLikeProvider, updateServiceLikeProvider } from "../provider-apply";
import { since, sleep, until } from "./probes";
import { BACKUP, POSTGRES, type DataLabSession, type TaskRef } from "./session";

// Everything in the host's PID namespace except its init and sshd: dockerd, containerd, the
// shims and every container process. The host (network, sshd) stays, as after a hard crash
// of the machine's services; dockerd stays down until the lab removes dockerd.hold.
const KILL_HOST = `set -u
kill -KILL "$(cat /run/docker.pid)" 2>/dev/null || true
own="$(readlink /proc/1/ns/pid)"
for p in /proc/[0-9]*; do
  ns="$(readlink "$p/ns/pid" 2>/dev/null)" || continue
  if [ "$ns" != "$own" ]; then kill -KILL "\${p#/proc/}" 2>/dev/null || true; fi
done
pkill -KILL -f containerd-shim || true
pkill -KILL -x containerd || true`;

// The write loop, inside a member that the promotion does not touch: one connection per
// row, as an app reconnecting would; every attempt bounded (timeout 5 s).
const WRITE_LOOP = `end=$((SECONDS + $1)); i=0
while [ "$SECONDS" -lt "$end" ] && [ "$i" -lt 5000 ]; do
  i=$((i + 1))
  if timeout 5 psql -X -q -v ON_ERROR_STOP=1 "host=tasks.postgres-rw port=$2 user=$3 dbname=$4 connect_timeout=2" -c "INSERT INTO lab_rpo (n) VALUES ($i)" >/dev/null 2>&1; then
    echo "ack $i $(date +%s%3N)"
  else
    echo "fail $i $(date +%s%3N)"
    sleep 0.2
  fi
done`;

export function failoverScenario(s: DataLabSession): void {
  const pg = () => {
    const args = recordedSpec(s.run, "postgres-primary", s.objects.refs).args;
    return { port: flagValue(args, "--port"), db: flagValue(args, "--db"), user: flagValue(args, "--user") };
  };
  const appEnv = () => [`PGPASSWORD=${s.objects.secretValues.get("postgres-password")}`];
  const PSQL = 'exec psql -X -At -v ON_ERROR_STOP=1 "host=$1 port=$2 user=$3 dbname=$4 connect_timeout=3" -c "$5"';

  async function sqlIn(t: TaskRef, host: string, statement: string): Promise<string> {
    const { port, user, db } = pg();
    const r = await t.host.engine.exec(t.containerId, ["bash", "-c", PSQL, "psql", host, port, user, db, statement], 30_000, appEnv());
    if (r.code !== 0) throw new Error(`psql in ${t.task.ID} exited ${r.code}: ${r.output}`);
    return r.output.trim();
  }

  /** pg_is_in_recovery() of every running member, by service ("f" = it serves writes). */
  async function roles(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of POSTGRES) {
      for (const t of await s.running(name).catch(() => [])) {
        out[name] = await sqlIn(t, "127.0.0.1", "SELECT pg_is_in_recovery()").catch(() => "?");
      }
    }
    return out;
  }

  const withPrimary = (config: Record<string, unknown>, primary: string) => {
    const services = config["medianest:services"] as Record<string, Record<string, unknown> | undefined>;
    return { ...config, "medianest:services": { ...services, postgres: { ...(services.postgres ?? {}), primary } } };
  };

  /** resourceDockerServiceDelete, then the create of the replacement (deleteBeforeReplace). */
  async function replace(run: MockedRun, name: string, maxWaitMs: number): Promise<number> {
    const started = Date.now();
    await s.mgr().request("DELETE", `/services/${name}`);
    await until(`${name}'s old tasks are gone`, 60_000, 500, async () => ((await s.tasks(name).catch(() => [])).length === 0 ? true : undefined));
    await createServiceLikeProvider(s.mgr(), recordedSpec(run, name, s.objects.refs), maxWaitMs);
    return since(started);
  }

  async function serviceLogs(name: string): Promise<string> {
    const res = await s.mgr().request("GET", `/services/${name}/logs?stdout=1&stderr=1&tail=200`);
    return demuxLogs(res.body);
  }

  it("Postgres primary host lost: promotion by config under a write loop (RPO, RTO), no split brain; the old primary fenced, rejoins; the identity guard", async () => {
    const { lab, check, requireStep, one, done } = s;
    requireStep("postgres");
    const victimTask = await one("postgres-primary");
    const victim = victimTask.host;
    const loopTask = await one("postgres-replica-2");
    expect(loopTask.host.name).not.toBe(victim.name);
    const hold = path.join(victim.dir, "dockerd.hold");
    const held = path.join(victim.dir, "dockerd.held");
    const splitBrain: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 600; i++) {
        const r = await roles();
        const primaries = Object.entries(r).filter(([, v]) => v === "f").map(([k]) => k);
        if (primaries.length > 1) splitBrain.push(primaries.join("+"));
        await sleep(2_000);
      }
    })();
    let promoted: MockedRun | undefined;
    try {
      await check(`postgres: ${victim.name} (primary) lost under a write loop -> services.postgres.primary: replica-1 applied: RPO 0 rows, RTO within 60 s, one primary at every sample`, async () => {
        await sqlIn(loopTask, "tasks.postgres-rw", "CREATE TABLE IF NOT EXISTS lab_rpo (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())");
        const { port, user, db } = pg();
        const loop = loopTask.host.engine.exec(loopTask.containerId, ["bash", "-c", WRITE_LOOP, "loop", "150", port, user, db], 240_000, appEnv());
        await sleep(10_000);
        writeFileSync(hold, "");
        const kill = await runOverSsh({ address: victim.address, user: "root", port: 22, keyFile: lab.keyFile }, "bash -s", KILL_HOST, 30_000);
        expect(kill.code, kill.stderr).toBe(0);
        const killedAt = Date.now();
        await until(`${victim.name}'s dockerd is down`, 20_000, 250, async () => (existsSync(held) && !(await victim.engine.ping()) ? true : undefined));

        // The operator's change, applied in the engine's order: the writer member first.
        s.config = withPrimary(s.config, "replica-1");
        promoted = await mockedRun("lab", { config: s.config });
        await applyNewConfigs(s.mgr(), promoted, s.objects);
        const writerSeconds = await replace(promoted, "postgres-replica-1", 240_000);
        const writerReadyAt = Date.now();
        // The old member's replacement cannot start while its host is down: the provider
        // gives up after convergeConfig's timeout and deletes it (capped here at 20 s).
        const oldMember = await replace(promoted, "postgres-primary", 20_000).then(
          () => "created",
          (error: Error) => (error instanceof ProviderApplyError ? "not converged (host down), deleted as the provider does" : Promise.reject(error)),
        );
        await updateServiceLikeProvider(s.mgr(), BACKUP, recordedSpec(promoted, BACKUP, s.objects.refs));
        const lines = (await loop).output.split("\n").filter((l) => /^(ack|fail) /.test(l)).map((l) => l.split(" ")).map(([kind, n, t]) => ({ kind, n: Number(n), t: Number(t) }));
        const acked = lines.filter((l) => l.kind === "ack");
        const lastBefore = acked.filter((l) => l.t < killedAt).at(-1);
        const firstAfter = acked.find((l) => l.t > killedAt + 1_000 && lines.some((f) => f.kind === "fail" && f.t > killedAt && f.t < l.t));
        expect(lastBefore, "acknowledged writes before the loss").toBeDefined();
        if (!firstAfter) {
          const tail = (await serviceLogs("postgres-replica-1")).split("\n").slice(-25).join("\n");
          throw new Error(`no write accepted after the loss (${lines.length} attempts, last ${JSON.stringify(lines.at(-1))}, killed at ${killedAt}, writer ready ${writerReadyAt}); roles ${JSON.stringify(await roles())}\n${tail}`);
        }
        const rto = ((firstAfter?.t ?? 0) - (lastBefore?.t ?? 0)) / 1000;
        const stored = new Set((await sqlIn(loopTask, "tasks.postgres-rw", "SELECT n FROM lab_rpo")).split("\n").filter(Boolean).map(Number));
        const missing = acked.filter((l) => !stored.has(l.n)).map((l) => l.n);
        expect(missing, "acknowledged rows missing on the new primary").toEqual([]);
        expect(rto).toBeLessThanOrEqual(60);
        const r = await roles();
        expect(r["postgres-replica-1"]).toBe("f");
        expect(r["postgres-replica-2"]).toBe("t");
        expect(splitBrain).toEqual([]);
        return `RPO ${missing.length} rows (${acked.length} acknowledged, ${lines.length - acked.length} failed attempts); RTO ${rto.toFixed(1)} s; writer replaced in ${writerSeconds.toFixed(0)} s; old member: ${oldMember}`;
      });

      await check(`postgres: ${victim.name} back -> its member, now a replica, is fenced and rejoins (pg_rewind or a fresh clone); one primary`, async () => {
        unlinkSync(hold);
        const back = Date.now();
        await until(`${victim.name}'s dockerd answers again`, 60_000, 500, async () => ((await victim.engine.ping()) ? true : undefined));
        await until(`${victim.name} Ready in the swarm`, 120_000, 1_000, async () => {
          const n = (await s.mgr().get<SwarmNode[]>("/nodes")).find((x) => x.Description.Hostname === victim.name);
          return n?.Status.State === "ready" ? true : undefined;
        });
        // The re-run of `pulumi up` creates the member the first run could not.
        if ((await s.tasks("postgres-primary").catch(() => [])).length === 0) {
          await createServiceLikeProvider(s.mgr(), recordedSpec(promoted as MockedRun, "postgres-primary", s.objects.refs), 240_000).catch(async (error: Error) => {
            if (!/already exists|name conflicts/.test(error.message)) throw error;
          });
        }
        const rejoined = await one("postgres-primary");
        expect(rejoined.host.name).toBe(victim.name);
        const newest = await sqlIn(loopTask, "tasks.postgres-rw", "SELECT max(n) FROM lab_rpo");
        await until("the old primary streams as a standby with every row", 120_000, 1_000, async () =>
          (await sqlIn(rejoined, "127.0.0.1", "SELECT pg_is_in_recovery()::text || ':' || (SELECT max(n) FROM lab_rpo)").catch(() => "")) === `true:${newest}` ? true : undefined,
        );
        const logs = await serviceLogs("postgres-primary");
        const how = /rewound .* onto the primary's timeline/.test(logs) ? "pg_rewind" : /kept the old data as/.test(logs) ? "fresh clone, old data kept aside" : "as a standby";
        expect(logs).toMatch(/was a primary; rejoining as a standby/);
        expect(splitBrain).toEqual([]);
        return `rejoined by ${how}, streaming ${since(back).toFixed(0)} s after ${victim.name} came back`;
      });

      await check("postgres: the primary's label moved to a host without its data -> no empty primary serves; the error is in the service's logs; moved back, it serves", async () => {
        const nodes = await s.mgr().get<SwarmNode[]>("/nodes");
        const home = nodes.find((n) => n.Spec.Labels?.postgres === "replica-1") as SwarmNode;
        const stranger = nodes.find((n) => !n.Spec.Labels?.postgres && n.Spec.Role === "manager") as SwarmNode;
        const relabel = async (node: SwarmNode, labels: Record<string, string>) => {
          const current = await s.mgr().get<SwarmNode & { Version: { Index: number } }>(`/nodes/${node.ID}`);
          await s.mgr().post(`/nodes/${node.ID}/update?version=${current.Version.Index}`, { ...current.Spec, Labels: labels });
        };
        const { postgres: _moved, ...homeLabels } = home.Spec.Labels ?? {};
        await relabel(home, homeLabels);
        await relabel(stranger, { ...(stranger.Spec.Labels ?? {}), postgres: "replica-1" });
        const { seconds } = await until("the refusal in postgres-replica-1's logs", 120_000, 2_000, async () =>
          /refusing to start an empty primary/.test(await serviceLogs("postgres-replica-1")) ? true : undefined,
        );
        const r = await roles();
        expect(Object.values(r).filter((v) => v === "f"), `members serving writes: ${JSON.stringify(r)}`).toEqual([]);
        // Back where its data is: it serves again.
        await relabel(await s.mgr().get<SwarmNode>(`/nodes/${stranger.ID}`), stranger.Spec.Labels ?? {});
        await relabel(await s.mgr().get<SwarmNode>(`/nodes/${home.ID}`), home.Spec.Labels ?? {});
        const { seconds: back } = await until("writes accepted again", 180_000, 2_000, async () =>
          (await sqlIn(loopTask, "tasks.postgres-rw", "INSERT INTO lab_rpo (n) VALUES (100000) ON CONFLICT DO NOTHING RETURNING 1").catch(() => "")) !== "" ||
          (await sqlIn(loopTask, "tasks.postgres-rw", "SELECT count(*) FROM lab_rpo WHERE n = 100000").catch(() => "")) === "1" ? true : undefined,
        );
        done.add("failover");
        return `refused on ${stranger.Description.Hostname} within ${seconds.toFixed(0)} s ("refusing to start an empty primary"); back on ${home.Description.Hostname}, writes again after ${back.toFixed(0)} s`;
      });
    } finally {
      sampling = false;
      await sampler;
      if (existsSync(hold)) unlinkSync(hold);
    }
  }, 900_000);
}
