// The lab, part 2: The program's data tier and backend, deployed in the engine's order, on their labelled hosts.
import { expect, it } from "vitest";
import { satisfiesConstraint } from "../../../domain/scheduling";
import { replayInEngineOrder } from "../engine-order";
import { nodeSubject, recordedSpec, type SwarmNode } from "../lab-swarm";
import { createServiceLikeProvider } from "../provider-apply";
import { since } from "./probes";
import { DEPLOYED, type DataLabSession } from "./session";

/** The program's data tier and backend, deployed in the engine's order, on their labelled hosts. */
export function deployScenario(s: DataLabSession): void {
  it("runs the program's Postgres, Redis/Sentinel/proxy, backup and app services on their labelled hosts", async () => {
    const { run, objects, hostEntries, mgr, check, service, running, one, converge, done } = s;
    await check("deploy: postgres ×3, redis ×3, sentinel ×3, redis-proxy ×2, postgres-backup, backend ×2, frontend ×2 converge on labelled hosts", async () => {
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
      expect(new Set((await running("redis-proxy")).map((t) => t.host.name)).size).toBe(2);
      done.add("deployed");
      return `converged in ${seconds.toFixed(0)} s; primary ${primaryHosts.join()}, replicas ${labelled("postgres", "replica-1")[0]?.name}/${labelled("postgres", "replica-2")[0]?.name}, redis on ${[...new Set(redisPlaced)].sort().join("/")}`;
    });
  }, 420_000);
}
