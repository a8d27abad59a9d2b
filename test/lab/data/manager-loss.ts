// The lab, part 2: The loss and return of the leader's dockerd (autolock).
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect, it } from "vitest";
import { runOverSsh } from "../commands";
import { EngineError } from "../engine";
import type { EngineService, SwarmNode } from "../lab-swarm";
import { since, until } from "./probes";
import { BACKEND, type DataLabSession } from "./session";

/** The loss and return of the leader's dockerd (autolock). */
export function managerLossScenario(s: DataLabSession): void {
  it("manager loss: the swarm stays operable without the leader's dockerd; restarted it is locked, unlocked with the key it rejoins", async () => {
    const { lab, swarm, mgr, requireStep, check, service, done } = s;
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
        s.managerName = others[0].name;
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
}
