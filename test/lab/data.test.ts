// The test lab, part 2: the data tier and the deployment strategies on the real hosts,
// with faults. A fresh four-host lab (lab-hosts.ts) is formed into a swarm by the
// program's own recorded commands; the program's own Postgres, Redis/Sentinel and backend
// services (a mocked run of the `lab` stack, through the strict translator, with their
// secrets and script configs) run on a data image debootstrapped from Debian's packages
// (data-image.ts) and the busybox stand-in. Then: streaming replication and a killed
// replica; Sentinel failover; a rolling update under load; an automatic rollback; a
// blue-green flip; the loss and return of a manager. Prints a summary table at the end.
// Needs root (skipped otherwise, unless REQUIRE_LAB=1); cleans up like lab.test.ts.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { satisfiesConstraint } from "../../domain/scheduling";
import { mockedRun, testConfig, type MockedRun } from "../support/mocked-run";
import { runOverSsh } from "./commands";
import { buildDataImageTar, importDataImage, DATA_IMAGE } from "./data-image";
import { EngineError, demuxLogs, type Engine } from "./engine";
import { Lab, labLeftovers, labUnavailableReason, type LabHost } from "./lab-hosts";
import {
  applyNewConfigs,
  applyObjects,
  diffPaths,
  flagValue,
  formSwarm,
  labStackConfig,
  nodeSubject,
  recordedSpec,
  taskFilter,
  type AppliedObjects,
  type EngineService,
  type FormedSwarm,
  type SwarmNode,
  type SwarmTask,
} from "./lab-swarm";
import { replayInEngineOrder } from "./engine-order";
import { createServiceLikeProvider, updateServiceLikeProvider } from "./provider-apply";
import { RequestLoop, type LoopResult } from "./request-loop";
import type { EngineServiceSpec, ServiceTranslation } from "./service-spec";
import { STANDIN_IMAGE, STANDIN_NO_HEALTH, STANDIN_V2, buildStandinTar, importStandin } from "./standin-image";

const unavailable = labUnavailableReason();
const required = process.env.REQUIRE_LAB === "1";
if (unavailable && !required) console.log(`test:lab (data) skipped: ${unavailable} (set REQUIRE_LAB=1 to make this an error)`);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const since = (t: number) => (Date.now() - t) / 1000;

interface HostConfigEntry {
  name: string;
  address: string;
  role: "manager" | "worker";
  labels?: Record<string, string | string[]>;
}

/** The services of the lab stack this suite runs (the edge's images and mc are not available here). */
const POSTGRES = ["postgres-primary", "postgres-replica-1", "postgres-replica-2"];
const REDIS = ["redis-master", "redis-replica", "redis-sentinel"];
const BACKEND = "medianest-backend";
const DEPLOYED = [...POSTGRES, ...REDIS, BACKEND];
/** The backend's health URL as its health check uses it, by service name. */
const healthUrl = (service: string) => `http://tasks.${service}:3001/api/health`;

interface Row {
  check: string;
  result: "pass" | "FAIL";
  seconds: number;
  detail: string;
}

/** Polls `probe` every `intervalMs` until it returns a value, at most `timeoutMs` (and a bounded number of tries). */
async function until<T>(what: string, timeoutMs: number, intervalMs: number, probe: () => Promise<T | undefined>): Promise<{ value: T; seconds: number }> {
  const started = Date.now();
  const tries = Math.ceil(timeoutMs / intervalMs) + 1;
  let last: unknown;
  for (let i = 0; i < tries && Date.now() - started <= timeoutMs; i++) {
    try {
      const value = await probe();
      if (value !== undefined) return { value, seconds: since(started) };
      last = undefined;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

/** Does a node satisfy a constraint of the forms the program writes (==, !=)? */

interface TaskRef {
  task: SwarmTask;
  host: LabHost;
  containerId: string;
}

describe.runIf(!unavailable || required)("test lab, part 2: the data tier and the deployment strategies on real hosts, with faults", () => {
  let lab: Lab;
  const stackConfig = testConfig("lab");
  const hostEntries = stackConfig["medianest:hosts"] as HostConfigEntry[];
  let config: Record<string, unknown> = {};
  let run: MockedRun;
  let swarm: FormedSwarm;
  let objects: AppliedObjects;
  const rows: Row[] = [];
  const done = new Set<string>();
  const suiteStarted = Date.now();
  /** The manager the runner talks to (changes while the first one is down). */
  let managerName = hostEntries.find((h) => h.role === "manager")?.name ?? "lab-1";
  const mgr = (): Engine => lab.host(managerName).engine;
  const hostOfNode = (nodeId: string | undefined): LabHost => {
    const name = [...swarm.nodeIdOf.entries()].find(([, id]) => id === nodeId)?.[0];
    if (!name) throw new Error(`task on unknown node ${String(nodeId)}`);
    return lab.host(name);
  };
  const requireStep = (step: string) => {
    if (!done.has(step)) throw new Error(`skipped: the "${step}" step did not complete`);
  };

  /** Runs one check of the summary table: its result and seconds are recorded either way. */
  async function check(name: string, body: () => Promise<string>): Promise<void> {
    const started = Date.now();
    try {
      const detail = await body();
      rows.push({ check: name, result: "pass", seconds: since(started), detail });
    } catch (error) {
      rows.push({ check: name, result: "FAIL", seconds: since(started), detail: String((error as Error).message).split("\n")[0].slice(0, 160) });
      throw error;
    }
  }

  async function service(name: string): Promise<EngineService> {
    return mgr().get<EngineService>(`/services/${name}`);
  }

  /** Tasks of a service that should run. */
  async function tasks(name: string): Promise<SwarmTask[]> {
    return mgr().get<SwarmTask[]>(taskFilter({ service: [name], "desired-state": ["running"] }));
  }

  /** Running tasks of a service with their hosts and containers. */
  async function running(name: string): Promise<TaskRef[]> {
    return (await tasks(name))
      .filter((t) => t.Status.State === "running" && t.Status.ContainerStatus?.ContainerID)
      .map((t) => ({ task: t, host: hostOfNode(t.NodeID), containerId: t.Status.ContainerStatus?.ContainerID as string }));
  }

  async function one(name: string): Promise<TaskRef> {
    const all = await running(name);
    if (all.length !== 1) throw new Error(`${name}: ${all.length} running tasks, expected 1`);
    return all[0];
  }

  /** The task's address on an overlay network (by the recorded network name, e.g. "database-net"). */
  function addressOn(task: SwarmTask, network: string): string {
    const id = objects.refs.networkIds.get(`${network}-id`);
    const address = task.NetworksAttachments?.find((a) => a.Network.ID === id)?.Addresses[0]?.split("/")[0];
    if (!address) throw new Error(`task ${task.ID} has no address on ${network}`);
    return address;
  }

  /** Bounded wait until every service runs its replicas (replicated mode). */
  async function converge(names: readonly string[], timeoutMs: number): Promise<number> {
    let state = "";
    const { seconds } = await until(`services converge (${names.join(", ")})`, timeoutMs, 1_000, async () => {
      const states: string[] = [];
      let pending = 0;
      for (const name of names) {
        const spec = (await service(name)).Spec;
        const want = "Replicated" in spec.Mode ? spec.Mode.Replicated.Replicas : 0;
        const ts = await tasks(name);
        states.push(`${name}: ${ts.map((t) => `${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ""}`).join(", ") || "no tasks"}`);
        if (!(ts.length === want && ts.every((t) => t.Status.State === "running"))) pending++;
      }
      state = states.join("; ");
      return pending === 0 ? true : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}: ${state}\n${lab.logs(8)}`);
    });
    return seconds;
  }

  /**
   * The provider's update (updateServiceLikeProvider: POST /services/{id}/update, then wait as
   * convergeConfig says, failing on paused/rollback). Returns the service as it was before,
   * once the update is accepted, and the provider's outcome as a promise.
   */
  async function update(name: string, translation: ServiceTranslation): Promise<{ before: EngineService; outcome: Promise<unknown> }> {
    const before = await service(name);
    const outcome = updateServiceLikeProvider(mgr(), name, translation);
    // Until the engine has the new version, the update is not under way.
    await until(`${name}'s update is accepted`, 30_000, 250, async () => ((await service(name)).Version.Index > before.Version.Index ? true : undefined));
    outcome.catch(() => undefined);
    return { before, outcome };
  }

  beforeAll(async () => {
    if (unavailable) throw new Error(`REQUIRE_LAB=1 but the lab cannot run here: ${unavailable}`);
    if (!existsSync("/usr/sbin/debootstrap")) {
      // CI installs it (.ci/run); by hand, install it once here.
      const apt = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "debootstrap"], { encoding: "utf8", timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      if (apt.status !== 0 || !existsSync("/usr/sbin/debootstrap")) throw new Error(`debootstrap is missing and apt-get install debootstrap failed: ${apt.stderr}`);
    }
    const started = Date.now();
    lab = await Lab.up(hostEntries.map((h) => ({ name: h.name, address: h.address })));
    config = labStackConfig(lab, stackConfig);
    run = await mockedRun("lab", { config });
    // The data image builds (or comes from the cache) while the swarm forms.
    const [formed, dataImage] = await Promise.all([formSwarm(lab, run), buildDataImageTar(path.join(lab.runDir, "data-image"))]);
    swarm = formed;
    console.log(`swarm formed, data image ${dataImage.cached ? "cached" : `built in ${dataImage.seconds.toFixed(0)} s`} (${dataImage.tar}): ${since(started).toFixed(1)} s`);
    const standins = [
      { name: STANDIN_IMAGE, image: buildStandinTar() },
      { name: STANDIN_V2.image, image: buildStandinTar(STANDIN_V2) },
      { name: STANDIN_NO_HEALTH.image, image: buildStandinTar(STANDIN_NO_HEALTH) },
    ];
    const importStarted = Date.now();
    await Promise.all(
      lab.hosts.map(async (h) => {
        for (const s of standins) await importStandin(h.engine, s.image, s.name);
        await importDataImage(h.engine, dataImage);
      }),
    );
    console.log(`images imported on ${lab.hosts.length} hosts: ${since(importStarted).toFixed(1)} s`);
    objects = await applyObjects(mgr(), run);
    rows.push({ check: "setup: hosts, swarm (program's commands), images, networks/secrets/configs", result: "pass", seconds: since(started), detail: `data image ${dataImage.cached ? "cached" : `built ${dataImage.seconds.toFixed(0)} s`}` });
  }, 900_000);

  afterAll(() => {
    const width = Math.max(...rows.map((r) => r.check.length), 5);
    const table = [
      `${"check".padEnd(width)} | result | seconds | detail`,
      `${"-".repeat(width)}-|--------|---------|-------`,
      ...rows.map((r) => `${r.check.padEnd(width)} | ${r.result.padEnd(6)} | ${r.seconds.toFixed(1).padStart(7)} | ${r.detail}`),
      `total lab (data) time: ${since(suiteStarted).toFixed(0)} s`,
    ].join("\n");
    console.log(`\n${table}\n`);
    if (!lab) return;
    const log = lab.down();
    const left = labLeftovers();
    if (left.length > 0) console.log(log);
    expect(left, "lab leftovers after cleanup").toEqual([]);
  }, 180_000);

  it("runs the program's Postgres, Redis/Sentinel and backend services on their labelled hosts", async () => {
    await check("deploy: postgres ×3, redis ×3, sentinel ×3, backend ×2 converge on labelled hosts", async () => {
      // In the engine's order (replicas after their primary/master, the backend after the data
      // tier), each created the provider's way: it waits for its tasks and fails otherwise.
      const deployStarted = Date.now();
      await replayInEngineOrder(run, async (r) => {
        if (r.type !== "docker:index/service:Service" || !DEPLOYED.includes(r.name)) return "skipped";
        await createServiceLikeProvider(mgr(), recordedSpec(run, r.name, objects.refs), 300_000);
        return "done";
      });
      const seconds = Math.max(since(deployStarted), await converge(DEPLOYED, 300_000));
      const nodes = await mgr().get<SwarmNode[]>("/nodes");
      for (const name of DEPLOYED) {
        const constraints = (await service(name)).Spec.TaskTemplate.Placement?.Constraints ?? [];
        for (const t of await running(name)) {
          const node = nodes.find((n) => n.ID === t.task.NodeID) as SwarmNode;
          for (const c of constraints) expect(satisfiesConstraint(nodeSubject(node), c), `${name} on ${node.Description.Hostname}: ${c}`).toBe(true);
        }
      }
      // Where the lab stack's labels put them.
      const labelled = (key: string, value: string) =>
        hostEntries.filter((h) => {
          const v = h.labels?.[key];
          return Array.isArray(v) ? v.includes(value) : v === value;
        });
      const primaryHosts = labelled("type", "database").filter((h) => h.labels?.storage === "ssd").map((h) => h.name);
      expect([(await one("postgres-primary")).host.name]).toEqual(primaryHosts);
      expect([(await one("postgres-replica-1")).host.name]).toEqual(labelled("postgres", "replica-1").map((h) => h.name));
      expect([(await one("postgres-replica-2")).host.name]).toEqual(labelled("postgres", "replica-2").map((h) => h.name));
      const redisHosts = labelled("redis", "data").map((h) => h.name);
      const redisPlaced = [...(await running("redis-master")), ...(await running("redis-replica"))].map((t) => t.host.name);
      for (const h of redisPlaced) expect(redisHosts).toContain(h);
      expect(new Set((await running("redis-replica")).map((t) => t.host.name)).size).toBe(2);
      expect(new Set((await running("redis-sentinel")).map((t) => t.host.name)).size).toBe(3);
      done.add("deployed");
      return `converged in ${seconds.toFixed(0)} s; primary ${primaryHosts.join()}, replicas ${labelled("postgres", "replica-1")[0]?.name}/${labelled("postgres", "replica-2")[0]?.name}, redis on ${[...new Set(redisPlaced)].sort().join("/")}`;
    });
  }, 420_000);

  // --- Postgres -------------------------------------------------------------------------

  const pg = () => {
    const args = recordedSpec(run, "postgres-primary", objects.refs).args;
    return { port: flagValue(args, "--port"), db: flagValue(args, "--db"), user: flagValue(args, "--user") };
  };
  const PSQL = 'exec psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$2" -d "$3" -c "$4"';

  /** psql as the application user on the primary, the password read from its secret file. */
  async function onPrimary(sql: string): Promise<{ code: number; output: string }> {
    const t = await one("postgres-primary");
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
    return t.host.engine.exec(t.containerId, ["bash", "-c", PSQL, "psql", port, user, db, sql], 30_000, [`PGPASSWORD=${objects.secretValues.get("postgres-password")}`]);
  }

  async function sql(where: "primary" | TaskRef, statement: string): Promise<string> {
    const result = where === "primary" ? await onPrimary(statement) : await onReplica(where, statement);
    if (result.code !== 0) throw new Error(`psql (${where === "primary" ? "primary" : where.task.ID}) exited ${result.code}: ${result.output}`);
    return result.output.trim();
  }

  it("Postgres: streaming replication to both replicas, read-only replicas, active slots", async () => {
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

  // --- Redis + Sentinel -----------------------------------------------------------------

  it("Redis: replicas follow the master; Sentinel fails over; clients write again; the old master rejoins as a replica", async () => {
    requireStep("deployed");
    const redisArgs = recordedSpec(run, "redis-master", objects.refs).args;
    const sentinelArgs = recordedSpec(run, "redis-sentinel", objects.refs).args;
    const port = flagValue(redisArgs, "--port");
    const sentinelPort = flagValue(sentinelArgs, "--port");
    const masterName = flagValue(sentinelArgs, "--master-name");
    // A client container with the data image on database-net (attachable in the lab), on a host that stays up.
    const clientHost = lab.host("lab-3");
    const created = await clientHost.engine.post<{ Id: string }>("/containers/create", {
      Image: DATA_IMAGE,
      Cmd: ["sleep", "900"],
      Env: [`REDISCLI_AUTH=${objects.secretValues.get("redis-password")}`],
      Labels: { "com.medianest.lab": "redis-client" },
      HostConfig: { NetworkMode: "database-net" },
    });
    const client = created.Id;
    await clientHost.engine.post(`/containers/${client}/start`);
    const sh = async (script: string, ...args: string[]) => {
      const r = await clientHost.engine.exec(client, ["bash", "-c", script, "client", ...args], 20_000);
      if (r.code !== 0) throw new Error(`client: ${script} -> ${r.code}: ${r.output}`);
      return r.output.trim();
    };
    const cli = (host: string, ...args: string[]) => sh('h="$1"; p="$2"; shift 2; exec timeout 5 redis-cli --no-auth-warning -h "$h" -p "$p" --raw "$@"', host, port, ...args);
    // Sentinels have no password: no AUTH for them.
    const sentinelCli = (host: string, ...args: string[]) => sh('h="$1"; p="$2"; shift 2; exec env -u REDISCLI_AUTH timeout 5 redis-cli -h "$h" -p "$p" --raw "$@"', host, sentinelPort, ...args);
    const info = async (host: string) => Object.fromEntries((await cli(host, "INFO", "replication")).split(/\r?\n/).filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]));
    const sentinelIps = async () => (await sh("getent ahostsv4 tasks.redis-sentinel | awk '{print $1}' | sort -u")).split("\n").filter((l) => l !== "");
    const mastersNamed = async () => Promise.all((await sentinelIps()).map(async (ip) => (await sentinelCli(ip, "SENTINEL", "get-master-addr-by-name", masterName)).split("\n")[0]));
    /** What the sentinels and Redis tasks say, for failure messages. */
    const diagnose = async (): Promise<string> => {
      const parts: string[] = [];
      for (const ip of await sentinelIps().catch(() => [] as string[])) {
        const fields = (await sentinelCli(ip, "SENTINEL", "master", masterName).catch((e: Error) => e.message)).split("\n");
        const get = (k: string) => fields[fields.indexOf(k) + 1];
        parts.push(`sentinel ${ip}: master ${get("ip")} flags ${get("flags")} failover ${get("failover-state") ?? "-"} others ${get("num-other-sentinels")} replicas ${get("num-slaves")}`);
      }
      for (const name of ["redis-master", "redis-replica"]) {
        for (const t of await tasks(name).catch(() => [] as SwarmTask[])) {
          const ip = (() => {
            try {
              return addressOn(t, "database-net");
            } catch {
              return "-";
            }
          })();
          const role = ip === "-" ? "" : (await cli(ip, "ROLE").catch((e: Error) => e.message)).split("\n").slice(0, 3).join(",");
          parts.push(`${name} ${t.ID.slice(0, 6)} ${t.Status.State} ${ip} ${role}`);
        }
      }
      return parts.join(" | ");
    };

    try {
      let oldMaster!: TaskRef;
      let oldIp = "";
      await check("redis: replicas follow the master; 3 sentinels agree", async () => {
        oldMaster = await one("redis-master");
        oldIp = addressOn(oldMaster.task, "database-net");
        const replicas = await running("redis-replica");
        await until("3 sentinels name the master", 60_000, 1_000, async () => {
          const named = await mastersNamed();
          return named.length === 3 && named.every((ip) => ip === oldIp) ? true : undefined;
        });
        await until("both replicas linked to the master", 60_000, 1_000, async () => {
          for (const r of replicas) {
            const i = await info(addressOn(r.task, "database-net"));
            if (i.role !== "slave" || i.master_host !== oldIp || i.master_link_status !== "up") return undefined;
          }
          return (await info(oldIp)).connected_slaves === "2" ? true : undefined;
        });
        const token = randomBytes(4).toString("hex");
        expect(await cli(oldIp, "SET", "lab:before-failover", token)).toBe("OK");
        for (const r of replicas) {
          await until("the key replicated", 10_000, 250, async () => ((await cli(addressOn(r.task, "database-net"), "GET", "lab:before-failover")) === token ? true : undefined));
          const write = await clientHost.engine.exec(client, ["timeout", "5", "redis-cli", "--no-auth-warning", "-h", addressOn(r.task, "database-net"), "-p", port, "SET", "lab:x", "1"]);
          expect(write.output).toMatch(/READONLY/);
        }
        // A failover needs every sentinel to know the replicas (from the master's INFO, every
        // 10 s) and its peers: wait for that before the fault.
        await until("every sentinel knows 2 replicas and 2 peers", 60_000, 1_000, async () => {
          for (const ip of await sentinelIps()) {
            const fields = (await sentinelCli(ip, "SENTINEL", "master", masterName)).split("\n");
            const get = (k: string) => fields[fields.indexOf(k) + 1];
            if (get("num-slaves") !== "2" || get("num-other-sentinels") !== "2") return undefined;
          }
          return true;
        });
        return `master ${oldIp} (${oldMaster.host.name}), replicas on ${replicas.map((r) => r.host.name).join("/")}`;
      });

      let newIp = "";
      let failoverSeconds = 0;
      await check("redis: master container killed -> sentinels elect a new master", async () => {
        await oldMaster.host.engine.post(`/containers/${oldMaster.containerId}/kill?signal=SIGKILL`);
        const killed = Date.now();
        let named: string[] = [];
        const { value } = await until("the sentinels elect a new master", 90_000, 500, async () => {
          named = await mastersNamed();
          if (named.length !== 3 || !named.every((ip) => ip === named[0] && ip !== oldIp)) return undefined;
          return (await cli(named[0], "ROLE")).split("\n")[0] === "master" ? named[0] : undefined;
        }).catch(async (error: Error) => {
          throw new Error(`${error.message}; old master ${oldIp}; sentinels name ${named.join(",")}; ${await diagnose()}`);
        });
        failoverSeconds = since(killed);
        newIp = value;
        const promoted = (await running("redis-replica")).find((r) => addressOn(r.task, "database-net") === newIp);
        expect(promoted, `the new master ${newIp} is a redis-replica task`).toBeDefined();
        return `failover ${failoverSeconds.toFixed(1)} s (down-after 5 s): new master ${newIp} (${promoted?.host.name})`;
      });

      await check("redis: a client following Sentinel writes again", async () => {
        const token = randomBytes(4).toString("hex");
        const out = await sh(
          `m=$(env -u REDISCLI_AUTH timeout 5 redis-cli -h tasks.redis-sentinel -p "$1" --raw SENTINEL get-master-addr-by-name "$2" | head -1)
           echo "$m"; timeout 5 redis-cli --no-auth-warning -h "$m" -p "$3" --raw SET lab:after-failover "$4"`,
          sentinelPort,
          masterName,
          port,
          token,
        );
        expect(out.split("\n")).toEqual([newIp, "OK"]);
        expect(await cli(newIp, "GET", "lab:after-failover")).toBe(token);
        return `SET via the master Sentinel names (${newIp}): OK`;
      });

      await check("redis: the restarted old master rejoins as a replica of the new one", async () => {
        const { value: rejoined, seconds } = await until("the redis-master task rejoins as a replica", 120_000, 1_000, async () => {
          const all = await running("redis-master");
          if (all.length !== 1 || all[0].task.ID === oldMaster.task.ID) return undefined;
          const i = await info(addressOn(all[0].task, "database-net"));
          return i.role === "slave" && i.master_host === newIp && i.master_link_status === "up" ? all[0] : undefined;
        }).catch(async (error: Error) => {
          const all = await running("redis-master").catch(() => []);
          const state = all[0] ? JSON.stringify(await info(addressOn(all[0].task, "database-net")).catch((e: Error) => e.message)) : "no running task";
          const logs = all[0] ? demuxLogs((await all[0].host.engine.request("GET", `/containers/${all[0].containerId}/logs?stdout=1&stderr=1`)).body) : "";
          const decided = logs.split("\n").filter((l) => l.startsWith("redis-entrypoint:")).join(" | ");
          throw new Error(`${error.message}; its entrypoint: ${decided}; redis-master now: ${state.slice(0, 200)}; its log: ${logs.slice(-300)}; ${await diagnose()}`);
        });
        expect(await cli(addressOn(rejoined.task, "database-net"), "GET", "lab:after-failover")).toBeTruthy();
        for (const r of await running("redis-replica")) {
          const ip = addressOn(r.task, "database-net");
          if (ip === newIp) continue;
          const i = await info(ip);
          expect([i.role, i.master_host]).toEqual(["slave", newIp]);
        }
        done.add("redis");
        const log = demuxLogs((await rejoined.host.engine.request("GET", `/containers/${rejoined.containerId}/logs?stdout=1&stderr=1`)).body);
        const decided = log.split("\n").filter((l) => l.startsWith("redis-entrypoint:"));
        const retries = decided.filter((l) => /asking again/.test(l)).length;
        return `old master's service task rejoined as replica ${seconds.toFixed(0)} s after the failover (entrypoint: ${retries} answers naming the dead master skipped; "${decided.find((l) => /starting as/.test(l)) ?? ""}")`;
      });
    } finally {
      await clientHost.engine.request("DELETE", `/containers/${client}?force=1`).catch(() => undefined);
    }
  }, 600_000);

  // --- Rolling update, rollback ---------------------------------------------------------

  const withImage = (image: string) => ({ ...config, "medianest:images": { ...(config["medianest:images"] as Record<string, string>), backend: image } });
  const loopHost = () => lab.host("lab-2");

  it("rolling update of the backend under a request loop: one task at a time, start-first, no failed request", async () => {
    requireStep("deployed");
    await check("rolling update standin:1 -> standin:2 under load", async () => {
      const v2run = await mockedRun("lab", { config: withImage(STANDIN_V2.image) });
      await applyNewConfigs(mgr(), v2run, objects);
      const { spec: v1 } = recordedSpec(run, BACKEND, objects.refs);
      const v2translation = recordedSpec(v2run, BACKEND, objects.refs);
      const v2 = v2translation.spec;
      expect(diffPaths(v1, v2)).toEqual(["TaskTemplate.ContainerSpec.Image"]);
      const policy = v2.UpdateConfig as NonNullable<EngineServiceSpec["UpdateConfig"]>;
      expect([policy.Parallelism, policy.Order, policy.FailureAction]).toEqual([1, "start-first", "rollback"]);
      const replicas = "Replicated" in v2.Mode ? v2.Mode.Replicated.Replicas : 0;

      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", [healthUrl(BACKEND)]);
      let result: LoopResult;
      let minRunning = Infinity;
      let before: EngineService;
      try {
        await sleep(2_000);
        const provider = await update(BACKEND, v2translation);
        before = provider.before;
        const { value: after } = await until("the update completes", 300_000, 1_000, async () => {
          const s = await service(BACKEND);
          const ts = await tasks(BACKEND);
          minRunning = Math.min(minRunning, ts.filter((t) => t.Status.State === "running").length);
          if (s.UpdateStatus && /paused|rollback/.test(s.UpdateStatus.State)) throw new Error(`update ${s.UpdateStatus.State}: ${s.UpdateStatus.Message}`);
          return s.UpdateStatus?.State === "completed" ? s : undefined;
        });
        // The provider's own wait ends as well, without an error.
        await provider.outcome;
        await sleep(2_000);
        result = await loop.stop();
        expect(diffPaths(before.Spec, after.Spec)).toEqual(["TaskTemplate.ContainerSpec.Image"]);
        const started = Date.parse(after.UpdateStatus?.StartedAt as string);
        const completed = Date.parse(after.UpdateStatus?.CompletedAt as string);
        const duration = (completed - started) / 1000;

        // The task history: each new task runs before the old one of its slot stops
        // (start-first), and the next new task is only created after the previous one runs.
        const history = await mgr().get<SwarmTask[]>(taskFilter({ service: [BACKEND] }));
        const fresh = history.filter((t) => t.Spec.ContainerSpec?.Image === STANDIN_V2.image && t.DesiredState === "running").sort((a, b) => Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt));
        expect(fresh).toHaveLength(replicas);
        expect(fresh.every((t) => t.Status.State === "running")).toBe(true);
        const runningAt = (t: SwarmTask) => Date.parse(t.Status.Timestamp as string);
        for (let i = 1; i < fresh.length; i++) expect(Date.parse(fresh[i].CreatedAt), "one task at a time").toBeGreaterThanOrEqual(runningAt(fresh[i - 1]));
        for (const t of fresh) {
          const old = history.find((o) => o.Slot === t.Slot && o.Spec.ContainerSpec?.Image === STANDIN_IMAGE && o.DesiredState !== "running");
          expect(old, `slot ${t.Slot}: the replaced task`).toBeDefined();
          expect(Date.parse(old?.Status.Timestamp as string), `slot ${t.Slot}: old task stopped after the new one ran (start-first)`).toBeGreaterThanOrEqual(runningAt(t));
        }
        expect(minRunning, "running tasks during the update").toBeGreaterThanOrEqual(replicas);
        const lastRunning = (Math.max(...fresh.map(runningAt)) - started) / 1000;
        expect(result.bodies['{"status":"ok","version":"2"}'] ?? 0, "requests answered by the new version").toBeGreaterThan(0);
        expect(result.failures, "failed requests").toEqual([]);
        done.add("rolling");
        return `update ${duration.toFixed(0)} s for ${replicas} tasks (last new task running at ${lastRunning.toFixed(0)} s, then the ${policy.Monitor / 1e9} s monitor window; spec timeline: backend 3 tasks in 60 s, all done by 180 s); requests ${result.requests}, failed ${result.failed}; min running ${minRunning}/${replicas}`;
      } finally {
        await loop.remove();
      }
    });
  }, 420_000);

  it("an update whose health check fails is rolled back automatically, never below the configured replicas", async () => {
    requireStep("rolling");
    await check("automatic rollback of standin:3-nohealth", async () => {
      const badRun = await mockedRun("lab", { config: withImage(STANDIN_NO_HEALTH.image) });
      const badTranslation = recordedSpec(badRun, BACKEND, objects.refs);
      const bad = badTranslation.spec;
      const replicas = "Replicated" in bad.Mode ? bad.Mode.Replicated.Replicas : 0;
      const policy = bad.UpdateConfig as NonNullable<EngineServiceSpec["UpdateConfig"]>;
      // start-first keeps every old task until its successor runs: the minimum is all replicas.
      const minimum = policy.Order === "start-first" ? replicas : replicas - policy.Parallelism;
      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", [healthUrl(BACKEND)]);
      try {
        const { before, outcome } = await update(BACKEND, badTranslation);
        const states: string[] = [];
        let minHealthy = Infinity;
        const { value: after, seconds } = await until("the service rolls back", 360_000, 1_000, async () => {
          const s = await service(BACKEND);
          const state = s.UpdateStatus?.State ?? "none";
          if (states[states.length - 1] !== state) states.push(state);
          // Healthy: running (Swarm reports a task with a health check running once healthy) on the old image.
          const healthy = (await tasks(BACKEND)).filter((t) => t.Status.State === "running" && t.Spec.ContainerSpec?.Image === STANDIN_V2.image);
          minHealthy = Math.min(minHealthy, healthy.length);
          if (state === "rollback_paused" || state === "paused") throw new Error(`update ${state}: ${s.UpdateStatus?.Message}`);
          return state === "rollback_completed" ? s : undefined;
        });
        const result = await loop.stop();
        // For the provider a rolled-back update is a failed one: `pulumi up` reports it.
        await expect(outcome).rejects.toThrow(/service rollback completed/);
        expect(diffPaths(before.Spec, after.Spec), "the service's spec is the previous one again").toEqual([]);
        await converge([BACKEND], 120_000);
        const images = (await running(BACKEND)).map((t) => t.task.Spec.ContainerSpec?.Image);
        expect(images).toEqual(Array(replicas).fill(STANDIN_V2.image));
        expect(minHealthy, "healthy old-version tasks during the update").toBeGreaterThanOrEqual(minimum);
        expect(result.failures, "failed requests").toEqual([]);
        done.add("rollback");
        return `rollback_completed after ${seconds.toFixed(0)} s (${states.join(" -> ")}), reported by the provider as a failed update; min healthy ${minHealthy} >= ${minimum}; requests ${result.requests}, failed ${result.failed}`;
      } finally {
        await loop.remove();
      }
    });
  }, 480_000);

  // --- Blue-green -----------------------------------------------------------------------

  it("blue-green: both colors converge; flipping activeColor changes only the Traefik labels, no failed request", async () => {
    requireStep("deployed");
    const colors = ["blue", "green"] as const;
    const names = colors.map((c) => `${BACKEND}-${c}`);
    const bg = (active: "blue" | "green") => ({
      ...config,
      "medianest:deployment": { strategy: "blue-green", activeColor: active, images: { green: STANDIN_V2.image } },
    });
    const routed = (labels: Record<string, string>) => labels["traefik.enable"] === "true";
    let blueRun!: MockedRun;
    await check("blue-green: both colors deploy and converge (blue routed)", async () => {
      blueRun = await mockedRun("lab", { config: bg("blue") });
      await applyNewConfigs(mgr(), blueRun, objects);
      expect(blueRun.ofType("docker:index/service:Service").map((s) => s.name)).not.toContain(BACKEND);
      // The rolling backend leaves the program: pulumi deletes it.
      await mgr().request("DELETE", `/services/${BACKEND}`);
      for (const name of names) await createServiceLikeProvider(mgr(), recordedSpec(blueRun, name, objects.refs), 300_000);
      const seconds = await converge(names, 300_000);
      const [blue, green] = await Promise.all(names.map((n) => service(n)));
      expect([routed(blue.Spec.Labels), routed(green.Spec.Labels)]).toEqual([true, false]);
      expect([blue.Spec.TaskTemplate.ContainerSpec.Image, green.Spec.TaskTemplate.ContainerSpec.Image]).toEqual([STANDIN_IMAGE, STANDIN_V2.image]);
      return `converged in ${seconds.toFixed(0)} s; blue ${STANDIN_IMAGE} routed, green ${STANDIN_V2.image} idle`;
    });

    await check("blue-green: flip to green and back = Traefik label changes only, no task restarted, no failed request", async () => {
      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", names.map(healthUrl));
      try {
        const taskIds = async () => (await Promise.all(names.map((n) => tasks(n)))).flat().map((t) => t.ID).sort();
        const idsBefore = await taskIds();
        const flips: string[] = [];
        const runs = { blue: blueRun, green: await mockedRun("lab", { config: bg("green") }) };
        for (const active of ["green", "blue"] as const) {
          const from = runs[active === "green" ? "blue" : "green"];
          const to = runs[active];
          for (const name of names) {
            const changed = diffPaths(recordedSpec(from, name, objects.refs).spec, recordedSpec(to, name, objects.refs).spec);
            expect(changed.length, `${name}: the flip changes something`).toBeGreaterThan(0);
            expect(changed.filter((p) => !/^Labels\.traefik\./.test(p)), `${name}: the flip changes more than Traefik labels`).toEqual([]);
            const { before, outcome } = await update(name, recordedSpec(to, name, objects.refs));
            await outcome;
            const after = await service(name);
            const stored = diffPaths(before.Spec, after.Spec);
            expect(stored.filter((p) => !/^Labels\.traefik\./.test(p)), `${name}: engine spec diff`).toEqual([]);
            flips.push(`${active}: ${name} ${stored.length} labels`);
          }
          const [blue, green] = await Promise.all(names.map((n) => service(n)));
          expect([routed(blue.Spec.Labels), routed(green.Spec.Labels)]).toEqual([active === "blue", active === "green"]);
          await sleep(3_000);
        }
        const result = await loop.stop();
        expect(await taskIds(), "no task was replaced by the flips").toEqual(idsBefore);
        for (const url of names.map(healthUrl)) expect(result.byUrl[url].ok, `${url} answered`).toBeGreaterThan(0);
        expect(result.failures, "failed requests").toEqual([]);
        done.add("blue-green");
        return `${flips.join("; ")}; requests blue ${result.byUrl[healthUrl(names[0])].ok}, green ${result.byUrl[healthUrl(names[1])].ok}, failed ${result.failed}; Traefik routing itself not provable (no Traefik binary)`;
      } finally {
        await loop.remove();
      }
    });
  }, 600_000);

  // --- Manager loss ---------------------------------------------------------------------

  it("manager loss: the swarm stays operable without the leader's dockerd; restarted it is locked, unlocked with the key it rejoins", async () => {
    requireStep("deployed");
    const nodes = await mgr().get<SwarmNode[]>("/nodes");
    const leaderNode = nodes.find((n) => n.ManagerStatus?.Leader) as SwarmNode;
    const victim = lab.host(leaderNode.Description.Hostname);
    const others = nodes.filter((n) => n.Spec.Role === "manager" && n.ID !== leaderNode.ID).map((n) => lab.host(n.Description.Hostname));
    expect(others).toHaveLength(2);
    const target = { address: victim.address, user: "root", port: 22, keyFile: lab.keyFile };
    const hold = path.join(victim.dir, "dockerd.hold");
    const held = path.join(victim.dir, "dockerd.held");
    const probe = done.has("blue-green") ? `${BACKEND}-green` : BACKEND;
    let stopped = 0;
    try {
      await check(`manager loss: ${victim.name}'s dockerd (leader) killed -> a service update through ${others[0].name} succeeds`, async () => {
        writeFileSync(hold, "");
        const kill = await runOverSsh(target, 'kill -KILL "$(cat /run/docker.pid)"', "", 30_000);
        expect(kill.code, kill.stderr).toBe(0);
        stopped = Date.now();
        await until(`${victim.name}'s dockerd is down (host kept)`, 20_000, 250, async () => (existsSync(held) && !(await victim.engine.ping()) ? true : undefined));
        managerName = others[0].name;
        const { value: newLeader, seconds: election } = await until("a new leader among the other managers", 90_000, 1_000, async () => {
          const ns = await mgr().get<SwarmNode[]>("/nodes");
          return ns.find((n) => n.ManagerStatus?.Leader && n.ID !== leaderNode.ID)?.Description.Hostname;
        });
        const before = await service(probe);
        const spec = { ...before.Spec, TaskTemplate: { ...before.Spec.TaskTemplate, ForceUpdate: (before.Spec.TaskTemplate.ForceUpdate ?? 0) + 1 } };
        const { seconds: accepted } = await until("the service update is accepted", 60_000, 1_000, async () => {
          try {
            await mgr().post(`/services/${before.ID}/update?version=${before.Version.Index}`, spec);
            return true;
          } catch (error) {
            if (error instanceof EngineError && error.status >= 500) return undefined;
            throw error;
          }
        });
        // Every remaining manager serves the new spec, and the tasks roll to it.
        for (const m of others) {
          const seen = await m.engine.get<EngineService>(`/services/${probe}`);
          expect(seen.Spec.TaskTemplate.ForceUpdate, `${m.name} serves the update`).toBe(spec.TaskTemplate.ForceUpdate);
        }
        await until("the forced update completes", 240_000, 1_000, async () => {
          const s = await service(probe);
          if (s.UpdateStatus && /paused|rollback/.test(s.UpdateStatus.State)) throw new Error(`update ${s.UpdateStatus.State}: ${s.UpdateStatus.Message}`);
          return s.UpdateStatus?.State === "completed" ? true : undefined;
        });
        await until(`${victim.name} reported down`, 60_000, 1_000, async () => {
          const n = (await mgr().get<SwarmNode[]>("/nodes")).find((x) => x.ID === leaderNode.ID);
          return n?.Status.State === "down" && n.ManagerStatus?.Reachability === "unreachable" ? true : undefined;
        });
        return `new leader ${newLeader} after ${election.toFixed(0)} s; update of ${probe} accepted after ${accepted.toFixed(0)} s more and completed ${since(stopped).toFixed(0)} s after the kill`;
      });

      await check(`manager loss: ${victim.name}'s dockerd restarted -> locked -> unlocked with the init key -> Ready manager`, async () => {
        unlinkSync(hold);
        const restarted = Date.now();
        await until(`${victim.name}'s dockerd answers again`, 60_000, 500, async () => ((await victim.engine.ping()) ? true : undefined));
        const { value: locked } = await until(`${victim.name} reports its swarm state`, 30_000, 500, async () => {
          const state = (await victim.engine.get<{ Swarm: { LocalNodeState: string } }>("/info")).Swarm.LocalNodeState;
          return state === "pending" ? undefined : state;
        });
        expect(locked).toBe("locked");
        const unlock = await runOverSsh(target, "docker swarm unlock", `${swarm.init.unlockKey}\n`, 60_000);
        expect(unlock.code, `${unlock.stdout}${unlock.stderr}`).toBe(0);
        const { seconds } = await until(`${victim.name} rejoins as a Ready, reachable manager`, 120_000, 1_000, async () => {
          const info = await victim.engine.get<{ Swarm: { LocalNodeState: string; ControlAvailable: boolean } }>("/info");
          const n = (await mgr().get<SwarmNode[]>("/nodes")).find((x) => x.ID === leaderNode.ID);
          return info.Swarm.LocalNodeState === "active" && info.Swarm.ControlAvailable && n?.Status.State === "ready" && n.ManagerStatus?.Reachability === "reachable" ? true : undefined;
        });
        // It serves the swarm's current state again.
        const seen = await victim.engine.get<EngineService>(`/services/${probe}`);
        expect(seen.Version.Index).toBe((await service(probe)).Version.Index);
        return `locked after restart; \`docker swarm unlock\` (key on stdin) ok; Ready + reachable ${seconds.toFixed(0)} s after the unlock (${since(restarted).toFixed(0)} s after the restart)`;
      });
    } finally {
      // Never leave the host's dockerd held.
      if (existsSync(hold)) unlinkSync(hold);
    }
  }, 600_000);
});
