// The lab, part 2: the app contract holds on real hosts. The stand-in's entrypoint starts
// only when its environment and secret files satisfy the contract (test/lab/standin/
// app-entrypoint.sh): the deploy scenario showed the program's wiring passes; here one secret
// less keeps the backend from ever starting.
import { expect, it } from "vitest";
import { MEDIANEST_CONTRACT } from "../../../domain/app-contract";
import { scrapeTargets } from "../../../topology/generated-files";
import { secretPath, servicesOf } from "../../../topology/services";
import { planStack } from "../../../topology/stack-plan";
import { validatedStackConfig } from "../../support/stack-config";
import { demuxLogs } from "../engine";
import { recordedSpec, taskFilter, type SwarmTask } from "../lab-swarm";
import type { EngineServiceSpec } from "../service-spec";
import { STANDIN_IMAGE } from "../standin-image";
import { until } from "./probes";
import { BACKEND, type DataLabSession } from "./session";

const MISWIRED = "lab-miswired-backend";

/** The contract's wiring, checked by a backend that lacks one secret. */
export function contractScenario(s: DataLabSession): void {
  it("a backend without one of the contract's secrets never starts; with the program's wiring it is healthy", async () => {
    const { run, objects, mgr, requireStep, check, running, hostOfNode } = s;
    requireStep("deployed");
    await check("contract: backend without encryption_key exits at start, never healthy (the program's wiring: healthy)", async () => {
      expect((await running(BACKEND)).length, "the program's backend runs healthy").toBeGreaterThan(0);
      const { spec } = recordedSpec(run, BACKEND, objects.refs);
      const secrets = spec.TaskTemplate.ContainerSpec.Secrets ?? [];
      const fewer = secrets.filter((x) => !x.File.Name.endsWith("/encryption_key"));
      expect(fewer).toHaveLength(secrets.length - 1);
      const miswired: EngineServiceSpec = {
        ...spec,
        Name: MISWIRED,
        Labels: { ...spec.Labels, "traefik.enable": "false" },
        Mode: { Replicated: { Replicas: 1 } },
        TaskTemplate: {
          ...spec.TaskTemplate,
          ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Secrets: fewer },
          // One attempt: the point is what it says, not how often Swarm retries.
          RestartPolicy: { Condition: "none" },
        },
      };
      const created = await mgr().post<{ ID: string }>("/services/create", miswired);
      try {
        const { value: failed, seconds } = await until(`${MISWIRED}'s task fails`, 120_000, 1_000, async () => {
          const tasks = await mgr().get<SwarmTask[]>(taskFilter({ service: [MISWIRED] }));
          expect(tasks.some((t) => t.Status.State === "running" && t.Status.ContainerStatus?.ContainerID), "the miswired task never runs healthy").toBe(false);
          return tasks.find((t) => t.Status.State === "failed");
        });
        const containerId = failed.Status.ContainerStatus?.ContainerID;
        const logs = containerId ? demuxLogs((await hostOfNode(failed.NodeID).engine.request("GET", `/containers/${containerId}/logs?stdout=1&stderr=1`)).body) : "";
        expect(logs).toContain("ENCRYPTION_KEY is required and not set");
        return `failed after ${seconds.toFixed(0)} s: "${logs.trim().split("\n").pop() ?? ""}" (${failed.Status.Err ?? ""})`;
      } finally {
        await mgr().request("DELETE", `/services/${created.ID}`);
      }
    });
  }, 240_000);

  it("the backend's /metrics answers Prometheus's bearer token and refuses a scrape without it", async () => {
    const { objects, requireStep, check, lab } = s;
    requireStep("deployed");
    await check("contract: /metrics with the program's token -> 200; without -> 401", async () => {
      // What Prometheus sends (the lab stack runs no monitoring; the plan's scrape job says it):
      // the file its job names, which is where the metrics_token secret is mounted.
      const plan = planStack(validatedStackConfig("lab"));
      const job = scrapeTargets(plan.config, servicesOf(plan.services)).find((t) => t.job === "medianest-backend");
      expect(job?.bearerTokenFile).toBe(secretPath("metrics_token"));
      const token = objects.secretValues.get("metrics_token");
      expect(token, "the lab created the metrics_token secret").toBeDefined();
      const url = `http://tasks.${BACKEND}:${MEDIANEST_CONTRACT.backend.port}${MEDIANEST_CONTRACT.backend.metricsPath}`;
      const client = lab.host("lab-2").engine;
      const withToken = await client.probe(STANDIN_IMAGE, ["timeout", "10", "wget", "-q", "-O-", "--header", `Authorization: Bearer ${token ?? ""}`, url], "frontend-net");
      expect(withToken.code, withToken.output).toBe(0);
      expect(withToken.output).toContain("app_info{");
      const without = await client.probe(STANDIN_IMAGE, ["timeout", "10", "wget", "-q", "-O-", url], "frontend-net");
      expect(without.code).not.toBe(0);
      expect(without.output).toContain("401");
      return `with the token: ${withToken.output.trim().split("\n").pop() ?? ""}; without: ${without.output.trim().split("\n").pop() ?? ""}`;
    });
  }, 120_000);
}
