// The lab, part 2: Redis and Sentinel: replication, failover, clients following Sentinel, the old master rejoining.
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { DATA_IMAGE } from "../data-image";
import { demuxLogs } from "../engine";
import { flagValue, recordedSpec, taskFilter, type SwarmTask } from "../lab-swarm";
import { since, until } from "./probes";
import type { DataLabSession, TaskRef } from "./session";

/** Redis and Sentinel: replication, failover, clients following Sentinel, the old master rejoining. */
export function redisScenario(s: DataLabSession): void {
  it("Redis: replicas follow the master; Sentinel fails over; clients write again; the old master rejoins as a replica", async () => {
    const { lab, run, objects, requireStep, check, tasks, running, one, addressOn, done } = s;
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
    // The app's own Redis address: the redis_url secret the program created (through redis-proxy),
    // handed to redis-cli in its environment as the app reads it, never on a command line.
    const appUrl = objects.secretValues.get("redis_url");
    const viaAppUrl = async (...args: string[]) => {
      const r = await clientHost.engine.exec(client, ["bash", "-c", 'exec timeout 5 redis-cli --no-auth-warning -u "$APP_REDIS_URL" --raw "$@"', "client", ...args], 20_000, [`APP_REDIS_URL=${appUrl ?? ""}`]);
      return r.output.trim();
    };
    const cli = (host: string, ...args: string[]) => sh('h="$1"; p="$2"; shift 2; exec timeout 5 redis-cli --no-auth-warning -h "$h" -p "$p" --raw "$@"', host, port, ...args);
    // Sentinels have their own password (the program's redis-sentinel-password secret), handed
    // to redis-cli in its environment only.
    const sentinelAuth = `SENTINEL_AUTH=${objects.secretValues.get("redis-sentinel-password") ?? ""}`;
    const sentinelCli = async (host: string, ...args: string[]) => {
      const r = await clientHost.engine.exec(client, ["bash", "-c", 'h="$1"; p="$2"; shift 2; REDISCLI_AUTH="$SENTINEL_AUTH" exec timeout 5 redis-cli --no-auth-warning -h "$h" -p "$p" --raw "$@"', "client", host, sentinelPort, ...args], 20_000, [sentinelAuth]);
      if (r.code !== 0) throw new Error(`sentinel ${host}: ${args.join(" ")} -> ${r.code}: ${r.output}`);
      return r.output.trim();
    };
    const info = async (host: string) => Object.fromEntries((await cli(host, "INFO", "replication")).split(/\r?\n/).filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]));
    const sentinelIps = async () => (await sh("getent ahostsv4 tasks.redis-sentinel | awk '{print $1}' | sort -u")).split("\n").filter((l) => l !== "");
    const mastersNamed = async () => Promise.all((await sentinelIps()).map(async (ip) => (await sentinelCli(ip, "SENTINEL", "get-master-addr-by-name", masterName)).split("\n")[0]));
    /** The proxy tasks' last log lines, for failure messages. */
    const proxyLogs = async (): Promise<string> => {
      const parts: string[] = [];
      for (const t of await running("redis-proxy").catch(() => [] as TaskRef[])) {
        const log = demuxLogs((await t.host.engine.request("GET", `/containers/${t.containerId}/logs?stdout=1&stderr=1`)).body);
        parts.push(`${t.host.name}: ${log.trim().split("\n").slice(-6).join(" / ")}`);
      }
      return parts.join(" | ").slice(0, 1500);
    };
    /**
     * What the entrypoints of the recent Redis and Sentinel tasks decided (their containers,
     * exited ones too, as Swarm keeps them), for failure messages: an election that went
     * wrong is only explained by the lines of every node that took part.
     */
    const decisions = async (): Promise<string> => {
      const parts: string[] = [];
      for (const name of ["redis-master", "redis-replica", "redis-sentinel"]) {
        const all = await s.mgr().get<SwarmTask[]>(taskFilter({ service: [name] })).catch(() => [] as SwarmTask[]);
        for (const t of all.sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt)).slice(-4)) {
          const id = t.Status.ContainerStatus?.ContainerID;
          if (!id) continue;
          const log = await s.hostOfNode(t.NodeID).engine.request("GET", `/containers/${id}/logs?stdout=1&stderr=1&timestamps=1`).then((r) => demuxLogs(r.body), (e: Error) => e.message);
          const lines = log.split("\n").filter((l) => /(redis|sentinel)-entrypoint: /.test(l)).map((l) => l.replace(/^(\S+T(\d\d:\d\d:\d\d))\S* .*?-entrypoint: /, "$2 "));
          parts.push(`${name} ${t.ID.slice(0, 6)} (${t.Status.State}): ${lines.slice(-5).join(" / ")}`);
        }
      }
      return parts.join("\n");
    };
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
        // The app's redis_url names the proxy, which forwards to this master.
        expect(appUrl).toMatch(/@tasks\.redis-proxy:/);
        const appToken = randomBytes(4).toString("hex");
        let answer = "";
        await until("a write through the app's redis_url", 30_000, 500, async () => {
          answer = await viaAppUrl("SET", "lab:app-url", appToken);
          return answer === "OK" ? true : undefined;
        }).catch(async (error: Error) => {
          throw new Error(`${error.message}; last answer: ${answer.slice(0, 160)}; redis-proxy: ${await proxyLogs()}`);
        });
        expect(await cli(oldIp, "GET", "lab:app-url")).toBe(appToken);
        return `master ${oldIp} (${oldMaster.host.name}), replicas on ${replicas.map((r) => r.host.name).join("/")}; the app's redis_url (redis-proxy) writes to it`;
      });

      let newIp = "";
      let failoverSeconds = 0;
      let killedAt = 0;
      await check("redis: master container killed -> sentinels elect a new master", async () => {
        await oldMaster.host.engine.post(`/containers/${oldMaster.containerId}/kill?signal=SIGKILL`);
        const killed = Date.now();
        killedAt = killed;
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

      await check("redis: the app's redis_url (through redis-proxy) writes again after the failover, on the new master", async () => {
        const token = randomBytes(4).toString("hex");
        let last = "";
        const { seconds } = await until("a write through the app's redis_url after the failover", 60_000, 500, async () => {
          last = await viaAppUrl("SET", "lab:app-after-failover", token);
          return last === "OK" ? true : undefined;
        }).catch(async (error: Error) => {
          throw new Error(`${error.message}; last answer: ${last.slice(0, 120)}; redis-proxy: ${await proxyLogs()}; ${await diagnose()}`);
        });
        expect(await cli(newIp, "GET", "lab:app-after-failover")).toBe(token);
        return `SET via redis_url OK ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (${seconds.toFixed(1)} s after the election); the key is on the new master ${newIp}`;
      });

      await check("redis: a client following Sentinel writes again", async () => {
        const token = randomBytes(4).toString("hex");
        const r = await clientHost.engine.exec(
          client,
          [
            "bash",
            "-c",
            `m=$(REDISCLI_AUTH="$SENTINEL_AUTH" timeout 5 redis-cli --no-auth-warning -h tasks.redis-sentinel -p "$1" --raw SENTINEL get-master-addr-by-name "$2" | head -1)
           echo "$m"; timeout 5 redis-cli --no-auth-warning -h "$m" -p "$3" --raw SET lab:after-failover "$4"`,
            "client",
            sentinelPort,
            masterName,
            port,
            token,
          ],
          20_000,
          [sentinelAuth],
        );
        const out = r.output.trim();
        // Without the Sentinel password a sentinel refuses (the app's data password is not it).
        const refused = await clientHost.engine.exec(client, ["bash", "-c", 'exec timeout 5 redis-cli --no-auth-warning -h tasks.redis-sentinel -p "$1" --raw SENTINEL get-master-addr-by-name "$2"', "client", sentinelPort, masterName], 20_000);
        expect(refused.output).toMatch(/WRONGPASS|NOAUTH/);
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

      /** The master every sentinel names, once all name the same one and it answers as master. */
      const agreedMaster = async (what: string, timeoutMs: number, not?: string): Promise<{ value: string; seconds: number }> => {
        let named: string[] = [];
        return until(what, timeoutMs, 500, async () => {
          named = await mastersNamed();
          if (named.length !== 3 || !named.every((ip) => ip === named[0]) || named[0] === not) return undefined;
          return (await cli(named[0], "ROLE")).split("\n")[0] === "master" ? named[0] : undefined;
        }).catch(async (error: Error) => {
          throw new Error(`${error.message}; sentinels name ${named.join(",")}; ${await diagnose()}`);
        });
      };
      /** Every data task running and linked to one master, every sentinel naming it. */
      const settled = async (what: string, timeoutMs: number): Promise<string> => {
        const { value: master } = await agreedMaster(`${what}: the sentinels agree on a master`, timeoutMs);
        await until(`${what}: both other data tasks linked to ${master}`, timeoutMs, 1_000, async () => {
          const linked: string[] = [];
          for (const name of ["redis-master", "redis-replica"]) {
            for (const t of await running(name)) {
              const ip = addressOn(t.task, "database-net");
              if (ip === master) continue;
              const i = await info(ip);
              if (i.role === "slave" && i.master_host === master && i.master_link_status === "up") linked.push(ip);
            }
          }
          return linked.length === 2 ? true : undefined;
        }).catch(async (error: Error) => {
          throw new Error(`${error.message}; ${await diagnose()}`);
        });
        return master;
      };

      await check("redis: one sentinel task killed and replaced 3 times, then the master killed: a failover still happens", async () => {
        const replaced: string[] = [];
        for (let round = 1; round <= 3; round++) {
          const [victim] = await running("redis-sentinel");
          await victim.host.engine.post(`/containers/${victim.containerId}/kill?signal=SIGKILL`);
          const { value: fresh } = await until(`replacement ${round} of the killed sentinel runs and answers`, 90_000, 1_000, async () => {
            const all = await running("redis-sentinel");
            if (all.length !== 3 || all.some((t) => t.task.ID === victim.task.ID)) return undefined;
            const novel = all.find((t) => t.task.CreatedAt > victim.task.CreatedAt);
            if (!novel) return undefined;
            const myid = await sentinelCli(addressOn(novel.task, "database-net"), "SENTINEL", "MYID").catch(() => "");
            return /^[0-9a-f]{40}$/.test(myid) ? `${novel.host.name}:${myid.slice(0, 8)}` : undefined;
          });
          replaced.push(fresh);
          await agreedMaster(`after replacement ${round}, every sentinel names the master`, 60_000);
        }
        // Known peers per sentinel: 2 when every replacement kept its node's identity; a stale id adds one.
        const known = await Promise.all((await sentinelIps()).map(async (ip) => {
          const fields = (await sentinelCli(ip, "SENTINEL", "master", masterName)).split("\n");
          return fields[fields.indexOf("num-other-sentinels") + 1];
        }));
        const { value: before } = await agreedMaster("the master before the kill", 30_000);
        const victim = [...(await running("redis-master")), ...(await running("redis-replica"))].find((t) => addressOn(t.task, "database-net") === before);
        if (!victim) throw new Error(`no running data task has the master's address ${before}`);
        await victim.host.engine.post(`/containers/${victim.containerId}/kill?signal=SIGKILL`);
        const killed = Date.now();
        const { value: after } = await agreedMaster("the sentinels elect a new master after 3 sentinel replacements", 90_000, before);
        const failover = since(killed);
        const master = await settled("the killed master's task rejoins", 180_000);
        expect(master).toBe(after);
        return `replacements ${replaced.join(", ")}; peers known per sentinel ${known.join("/")}; failover ${failover.toFixed(1)} s: ${before} -> ${after}`;
      });

      await check("redis: every Redis task restarted at once (a stale data node among them): no key written before is lost", async () => {
        const master = await settled("before the full restart", 60_000);
        const keys = Array.from({ length: 50 }, (_, i) => `lab:full-restart:${i}`);
        const put = async (batch: string[]) => {
          for (const key of batch) {
            let answer = "";
            await until(`SET ${key} through the app's redis_url`, 30_000, 500, async () => {
              answer = await viaAppUrl("SET", key, key);
              return answer === "OK" ? true : undefined;
            });
          }
        };
        await put(keys.slice(0, 25));
        // A data node that is not master misses the second half: the redis-master task when it
        // is a replica now (the one the old scripts started as master after a full restart).
        const [masterTask] = await running("redis-master");
        const replicaTasks = await running("redis-replica");
        const notMaster = (t: TaskRef) => addressOn(t.task, "database-net") !== master;
        const stale = masterTask && notMaster(masterTask) ? masterTask : replicaTasks.find(notMaster);
        if (!stale) throw new Error("no data node besides the master");
        const staleKind = stale === masterTask ? "redis-master" : "redis-replica";
        await stale.host.engine.post(`/containers/${stale.containerId}/pause`);
        await put(keys.slice(25));
        // The master's healthcheck stamps the dataset clock every 10 s; AOF fsyncs every second.
        await new Promise((resolve) => setTimeout(resolve, 12_000));
        const everyTask = [...(masterTask ? [masterTask] : []), ...replicaTasks, ...(await running("redis-sentinel"))];
        const restarted = Date.now();
        await Promise.all(everyTask.map((t) => t.host.engine.post(`/containers/${t.containerId}/kill?signal=SIGKILL`).catch(() => undefined)));
        // The paused one dies with the rest (killed before it could catch up); Swarm starts new tasks for all.
        await stale.host.engine.post(`/containers/${stale.containerId}/unpause`).catch(() => undefined);
        const after = await settled("after the full restart", 240_000).catch(async (error: Error) => {
          throw new Error(`${error.message}\nentrypoints:\n${await decisions()}`);
        });
        const seconds = since(restarted);
        const missing: string[] = [];
        for (const key of keys) if ((await viaAppUrl("GET", key)) !== key) missing.push(key);
        expect(missing, "keys lost in the full restart").toEqual([]);
        const winnerLog = async () => {
          for (const t of [...(await running("redis-master")), ...(await running("redis-replica"))]) {
            const log = demuxLogs((await t.host.engine.request("GET", `/containers/${t.containerId}/logs?stdout=1&stderr=1`)).body);
            // The winner's own line ("... vote for it)"), not a voter's.
            const line = log.split("\n").find((l) => /redis-entrypoint: elected .*vote for it\)/.test(l));
            if (line) return line.replace(/^.*redis-entrypoint: /, "");
          }
          return "no election line";
        };
        return `stale node ${stale.host.name} (${staleKind} task); ${keys.length}/${keys.length} keys after restart; settled ${seconds.toFixed(0)} s, master ${after}; ${await winnerLog()}`;
      });
    } finally {
      await clientHost.engine.request("DELETE", `/containers/${client}?force=1`).catch(() => undefined);
    }
  }, 600_000);
}
