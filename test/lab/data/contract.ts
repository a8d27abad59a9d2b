// The lab, part 2: the app contract holds on real hosts. The stand-in's entrypoint starts
// only when its environment and secret files satisfy the contract (test/lab/standin/
// app-entrypoint.sh): the deploy scenario showed the program's wiring passes; here one secret
// less keeps the backend from ever starting. The backend's own endpoints answer as the
// contract says: /metrics with the scrape token only, and a Socket.IO websocket upgrade
// from the public origin (test/lab/standin/socketio.cgi).
import { expect, it } from "vitest";
import { MEDIANEST_CONTRACT } from "../../../domain/app-contract";
import { scrapeTargets } from "../../../topology/generated-files";
import { publicOrigin, secretPath, servicesOf } from "../../../topology/services";
import { planStack } from "../../../topology/stack-plan";
import { validatedStackConfig } from "../../support/stack-config";
import { demuxLogs } from "../engine";
import { recordedSpec, taskFilter, type SwarmTask } from "../lab-swarm";
import type { EngineServiceSpec } from "../service-spec";
import { STANDIN_IMAGE } from "../standin-image";
import { expectedAccept, firstFrame, handshakeQuery, openPacket, parseAnswer, rawGet, upgradeHeaders, websocketKey } from "../websocket-handshake";
import { until } from "./probes";
import { BACKEND, type DataLabSession } from "./session";

const MISWIRED = "lab-miswired-backend";

/**
 * Sends the raw request in $1 to $2:$3 with busybox nc (bounded by timeout) and prints the
 * whole answer as hex: the websocket frame after the headers is binary, the probe's output text.
 */
const RAW_EXCHANGE = 'printf "%s" "$1" >/tmp/request; timeout 10 nc "$2" "$3" </tmp/request >/tmp/answer; rc=$?; xxd -p /tmp/answer | tr -d "\\n"; exit "$rc"';

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
      // What Prometheus sends (the plan's scrape job; monitoring.ts shows Prometheus scraping it):
      // the file its job names, which is where the metrics_token secret is mounted.
      const plan = planStack(validatedStackConfig("lab"));
      const job = scrapeTargets(plan.config, plan.topology, servicesOf(plan.services)).find((t) => t.job === "medianest-backend");
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

  it("a websocket upgrade reaches the backend's Socket.IO over frontend-net, from the public origin only", async () => {
    const { requireStep, check, lab } = s;
    requireStep("deployed");
    await check("contract: websocket upgrade to the backend over frontend-net -> 101 with the right accept key and the Engine.IO open packet; a foreign Origin -> 403", async () => {
      // The origin a browser on the portal sends: the one the program gives the backend.
      const config = validatedStackConfig("lab");
      const backend = servicesOf(planStack(config).services).find((spec) => spec.name === BACKEND);
      const origin = publicOrigin(config);
      // Its settings travel in the env file (at most one variable reaches the spec's Env).
      const settings = `${JSON.stringify(backend?.env ?? {})}\n${backend?.envFile?.content ?? ""}`;
      for (const name of ["FRONTEND_URL", "ALLOWED_ORIGINS"]) expect(settings, `the backend gets ${name}=${origin}`).toMatch(new RegExp(`${name}[^\\n]*${origin.replace(/[.]/g, "\\.")}`));
      const host = `tasks.${BACKEND}`;
      const port = String(MEDIANEST_CONTRACT.backend.port);
      const target = `${MEDIANEST_CONTRACT.backend.socketIoPath}/${handshakeQuery("websocket")}`;
      const client = lab.host("lab-2").engine;
      const upgrade = async (from: string) => {
        const key = websocketKey();
        const request = rawGet(target, `${host}:${port}`, upgradeHeaders(key, from));
        const probe = await client.probe(STANDIN_IMAGE, ["sh", "-c", RAW_EXCHANGE, "ws-upgrade", request, host, port], "frontend-net");
        const raw = Buffer.from(probe.output.trim(), "hex");
        expect(probe.code, `nc to ${host}:${port}: ${probe.output}`).toBe(0);
        const answer = parseAnswer(raw);
        expect(answer, `a complete answer: ${raw.toString("latin1")}`).toBeDefined();
        return { key, answer: answer ?? { status: "", headers: {}, body: Buffer.alloc(0) } };
      };

      const allowed = await upgrade(origin ?? "");
      expect(allowed.answer.status).toBe("HTTP/1.1 101 Switching Protocols");
      expect(allowed.answer.headers["sec-websocket-accept"]).toBe(expectedAccept(allowed.key));
      const frame = firstFrame(allowed.answer.body);
      expect(frame?.first, `an unmasked text frame: ${allowed.answer.body.toString("hex")}`).toBe(0x81);
      expect(frame?.masked).toBe(false);
      const text = frame?.payload.toString("utf8") ?? "";
      const open = openPacket(text);
      expect(open, `the Engine.IO open packet: ${text}`).toBeDefined();
      expect(open?.upgrades).toEqual([]);

      const foreign = await upgrade("https://elsewhere.example");
      expect(foreign.answer.status).toBe("HTTP/1.1 403 Forbidden");
      expect(foreign.answer.headers["sec-websocket-accept"]).toBeUndefined();
      return `Origin ${origin ?? ""}: ${allowed.answer.status}, accept ${allowed.answer.headers["sec-websocket-accept"]}, first frame ${text}; Origin https://elsewhere.example: ${foreign.answer.status}`;
    });
  }, 120_000);
}
