// The lab, part 2: the program's monitoring on the real hosts. Its Prometheus, Alertmanager,
// node-exporter, Postgres and Redis exporters (Debian's packages, test/lab/monitoring-image.ts)
// run with their generated files and secrets next to the data tier and the backend: every
// target is found through tasks.<service> DNS and answers; an exporter that stops answering
// (its container frozen: the task still runs, Swarm sees nothing) fires TargetDown, which
// Alertmanager delivers through the stack's own receiver config to the lab's receiver; and
// Prometheus is reachable on monitor-net only.
import * as net from "node:net";
import { expect, it } from "vitest";
import { parse } from "yaml";
import { MEDIANEST_CONTRACT } from "../../../domain/app-contract";
import { scrapeTargets } from "../../../topology/generated-files";
import { servicesOf } from "../../../topology/services";
import { planStack } from "../../../topology/stack-plan";
import { validatedStackConfig } from "../../support/stack-config";
import { AlertReceiver, type SlackPayload } from "../alert-receiver";
import { replayInEngineOrder } from "../engine-order";
import { BRIDGE_ADDRESS } from "../lab-hosts";
import { recordedSpec } from "../lab-swarm";
import { createServiceLikeProvider } from "../provider-apply";
import { STANDIN_IMAGE } from "../standin-image";
import { since, until } from "./probes";
import { BACKEND, type DataLabSession, type TaskRef } from "./session";

/** The monitoring services the lab runs; Grafana and cAdvisor have no Debian package. */
export const MONITORING = ["prometheus", "alertmanager", "node-exporter", "postgres-exporter", "redis-exporter"];
const NOT_RUN: Readonly<Record<string, string>> = { grafana: "no Debian package", cadvisor: "no Debian package", traefik: "the edge's image is not in the lab" };
const PROMETHEUS_PORT = 9090;
/** The exporter the fault freezes: it has no health check (FROM scratch), so Swarm keeps its task running. */
const FROZEN = "redis-exporter";

interface PromTarget {
  readonly labels: Record<string, string>;
  readonly scrapePool: string;
  readonly health: "up" | "down" | "unknown";
  readonly lastError: string;
}

/** Prometheus-style duration ("1m", "15s", "1m30s") in seconds. */
function seconds(duration: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!match || duration === "") throw new Error(`unexpected duration ${duration}`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/** The lab stack's generated monitoring files, as the program writes them. */
function generated() {
  const plan = planStack(validatedStackConfig("lab"));
  const files = plan.configFiles.files;
  const prometheus = parse(files["prometheus.yml"] ?? "") as { global: { scrape_interval: string; evaluation_interval: string; scrape_timeout?: string } };
  const availability = parse(files["prometheus-availability-rules.yml"] ?? "") as { groups: { rules: { alert?: string; for?: string }[] }[] };
  const alertmanager = parse(files["alertmanager.yml"] ?? "") as { route: { group_wait: string }; receivers: { name: string; slack_configs?: { channel: string }[] }[] };
  const targetDown = availability.groups.flatMap((g) => g.rules).find((r) => r.alert === "TargetDown");
  if (!targetDown?.for) throw new Error("the lab stack has no TargetDown rule with a for:");
  const channel = alertmanager.receivers.flatMap((r) => r.slack_configs ?? []).map((c) => c.channel)[0];
  if (!channel) throw new Error("the lab stack's Alertmanager has no Slack receiver");
  return {
    targets: scrapeTargets(plan.config, plan.topology, servicesOf(plan.services)),
    scrapeInterval: seconds(prometheus.global.scrape_interval),
    // Prometheus's default scrape_timeout (config.DefaultGlobalConfig: 10s).
    scrapeTimeout: seconds(prometheus.global.scrape_timeout ?? "10s"),
    evaluationInterval: seconds(prometheus.global.evaluation_interval),
    targetDownFor: seconds(targetDown.for),
    groupWait: seconds(alertmanager.route.group_wait),
    channel,
  };
}

/** A TCP connect from the runner: "open", "refused" or "timeout". */
function connectFromRunner(host: string, port: number, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, localAddress: BRIDGE_ADDRESS });
    const done = (result: string) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done("timeout"));
    socket.once("connect", () => done("open"));
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ECONNREFUSED" ? "refused" : (error.code ?? "error")));
  });
}

export function monitoringScenario(s: DataLabSession): void {
  /** Prometheus's HTTP API, asked inside its own task (busybox wget, as its health check does). */
  const promApi = async <T>(prom: TaskRef, path: string): Promise<T> => {
    // Bounded by timeout(1): Debian's busybox 1.35 wget crashes (SIGSEGV) on its own -T.
    const result = await prom.host.engine.exec(prom.containerId, ["timeout", "10", "wget", "-q", "-O-", `http://127.0.0.1:${PROMETHEUS_PORT}${path}`], 15_000);
    if (result.code !== 0) throw new Error(`prometheus ${path}: exit ${result.code}: ${result.output.slice(0, 200)}`);
    const answer = JSON.parse(result.output) as { status: string; data: T };
    if (answer.status !== "success") throw new Error(`prometheus ${path}: ${result.output.slice(0, 200)}`);
    return answer.data;
  };
  const activeTargets = async (prom: TaskRef) => (await promApi<{ activeTargets: PromTarget[] }>(prom, "/api/v1/targets?state=active")).activeTargets;

  it("runs the program's Prometheus, Alertmanager, node-exporter and exporters with their generated files", async () => {
    const { run, objects, mgr, check, requireStep, converge, tasks, done, swarm } = s;
    requireStep("deployed");
    await check("monitoring: prometheus, alertmanager, node-exporter (every node), postgres- and redis-exporter converge (Debian's packages)", async () => {
      const started = Date.now();
      await replayInEngineOrder(run, async (r) => {
        if (r.type !== "docker:index/service:Service" || !MONITORING.includes(r.name)) return "skipped";
        await createServiceLikeProvider(mgr(), recordedSpec(run, r.name, objects.refs), 240_000);
        return "done";
      });
      await converge(
        MONITORING.filter((n) => n !== "node-exporter"),
        180_000,
      );
      // Global: one running task per node.
      const nodes = swarm.nodeIdOf.size;
      await until("node-exporter runs on every node", 120_000, 1_000, async () => {
        const running = (await tasks("node-exporter")).filter((t) => t.Status.State === "running");
        return new Set(running.map((t) => t.NodeID)).size === nodes ? true : undefined;
      });
      done.add("monitoring");
      const skipped = run.resources.filter((r) => r.type === "docker:index/service:Service" && r.name in NOT_RUN).map((r) => `${r.name} (${NOT_RUN[r.name]})`);
      return `converged in ${since(started).toFixed(0)} s; not run: ${skipped.join(", ")}`;
    });
  }, 600_000);

  it("Prometheus finds every target through tasks.<service> DNS and each answers (up == 1)", async () => {
    const { check, requireStep, one, running, service, done } = s;
    requireStep("monitoring");
    await check("monitoring: Prometheus discovers every running target by tasks.<service> and reports it up (backend with its bearer token, exporters, sentinels, itself, Alertmanager)", async () => {
      const prom = await one("prometheus");
      const { targets } = generated();
      /** Tasks of a service the lab runs (0 for one it does not). */
      const runningTasks = async (name: string) => ((await service(name).catch(() => undefined)) ? (await running(name)).length : 0);
      const expected = new Map<string, number>();
      for (const target of targets) {
        let count = 0;
        for (const dns of [target.dnsName, ...(target.extraDnsNames ?? [])]) count += await runningTasks(dns.replace(/^tasks\./, ""));
        expected.set(target.job, count);
      }
      let last: PromTarget[] = [];
      const { seconds: waited } = await until("every target is up", 180_000, 3_000, async () => {
        last = await activeTargets(prom);
        for (const [job, count] of expected) {
          const ofJob = last.filter((t) => t.labels.job === job);
          if (ofJob.length !== count || ofJob.some((t) => t.health !== "up")) return undefined;
        }
        return true;
      }).catch((error: Error) => {
        const state = last.map((t) => `${t.labels.job} ${t.labels.instance} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}`).join("; ");
        throw new Error(`${error.message}: expected ${JSON.stringify(Object.fromEntries(expected))}; Prometheus has ${state}`);
      });
      // Every configured job found something, except those of services the lab does not run.
      const empty = [...expected].filter(([, n]) => n === 0).map(([job]) => job);
      expect(empty.filter((job) => !(job in NOT_RUN)), "jobs with no target although their service runs").toEqual([]);
      const alertmanagers = await promApi<{ activeAlertmanagers: { url: string }[] }>(prom, "/api/v1/alertmanagers");
      expect(alertmanagers.activeAlertmanagers, "Prometheus finds Alertmanager through tasks.alertmanager").toHaveLength(1);
      done.add("targets-up");
      const up = [...expected].filter(([, n]) => n > 0).map(([job, n]) => `${job} ${n}/${n}`);
      return `all up after ${waited.toFixed(0)} s: ${up.join(", ")}; alertmanager ${alertmanagers.activeAlertmanagers[0]?.url ?? ""}; no target (not run): ${empty.join(", ")}`;
    });
  }, 240_000);

  it("an exporter that stops answering fires TargetDown, delivered by the stack's receiver config", async () => {
    const { check, requireStep, one, alerts } = s;
    requireStep("targets-up");
    const timing = generated();
    // Frozen at once, the target's next scrape (within one interval) times out; the rule is
    // pending at the next evaluation, fires `for` later, and Alertmanager waits group_wait.
    const goal = timing.targetDownFor + timing.scrapeInterval + timing.scrapeTimeout + timing.evaluationInterval + timing.groupWait;
    await check(
      `monitoring: ${FROZEN} frozen -> TargetDown delivered to the lab's receiver through the stack's Slack config (goal: for ${timing.targetDownFor} s + scrape ${timing.scrapeInterval} s + timeout ${timing.scrapeTimeout} s + evaluation ${timing.evaluationInterval} s + group_wait ${timing.groupWait} s = ${goal} s)`,
      async () => {
        const prom = await one("prometheus");
        const exporter = await one(FROZEN);
        const before = alerts.received.length;
        const frozenAt = Date.now();
        await exporter.host.engine.post(`/containers/${exporter.containerId}/pause`);
        try {
          const matching = (n: { body: unknown; path: string }) => {
            const payload = n.body as SlackPayload;
            const attachment = payload.attachments?.[0];
            return n.path === AlertReceiver.PATH && (attachment?.title ?? "").includes("TargetDown") && (attachment?.text ?? "").includes(FROZEN) ? payload : undefined;
          };
          const { value: delivered } = await until("TargetDown reaches the receiver", (goal + 120) * 1000, 1_000, async () => {
            const found = alerts.received.slice(before).find((n) => matching(n) !== undefined);
            return found;
          }).catch(async (error: Error) => {
            const firing = await promApi<{ alerts: { labels: Record<string, string>; state: string }[] }>(prom, "/api/v1/alerts").catch(() => ({ alerts: [] }));
            throw new Error(`${error.message}; Prometheus alerts: ${firing.alerts.map((a) => `${a.labels.alertname}/${a.labels.job ?? ""} ${a.state}`).join(", ")}; received: ${JSON.stringify(alerts.received.slice(before)).slice(0, 400)}`);
          });
          const delay = (delivered.at - frozenAt) / 1000;
          const payload = delivered.body as SlackPayload;
          expect(payload.channel, "the stack's monitoring.alerting.slack.channel").toBe(timing.channel);
          expect(payload.attachments?.[0]?.title).toBe("[FIRING] TargetDown");
          expect(delay, `delivered ${delay.toFixed(0)} s after the fault; goal ${goal} s`).toBeLessThanOrEqual(goal);
          return `delivered ${delay.toFixed(0)} s after the fault (goal ${goal} s) to ${timing.channel}: "${payload.attachments?.[0]?.title ?? ""}: ${(payload.attachments?.[0]?.text ?? "").split("\n")[0]}"`;
        } finally {
          await exporter.host.engine.post(`/containers/${exporter.containerId}/unpause`).catch(() => undefined);
          // Answering again before the next scenario.
          await until(`${FROZEN} answers again`, 120_000, 3_000, async () => {
            const ofJob = (await activeTargets(prom)).filter((t) => t.labels.job === FROZEN);
            return ofJob.length > 0 && ofJob.every((t) => t.health === "up") ? true : undefined;
          }).catch(() => undefined);
        }
      },
    );
  }, 600_000);

  it("Prometheus is reachable on monitor-net only: not from frontend-net, database-net or the management address", async () => {
    const { check, requireStep, one, addressOn, lab } = s;
    requireStep("targets-up");
    await check("monitoring: Prometheus unreachable from frontend-net and database-net (no name, no route) and publishes no port on its host", async () => {
      const prom = await one("prometheus");
      const address = addressOn(prom.task, "monitor-net");
      const client = lab.host("lab-2").engine;
      const results: string[] = [];
      /** A GET from a one-shot container on `network`: its exit code and what wget said. */
      const get = (network: string, url: string) => client.probe(STANDIN_IMAGE, ["timeout", "8", "wget", "-q", "-O-", url], network);
      // A refusal must be the network's: wget could not connect or resolve, or timed out (not a crash).
      const refusedByNetwork = (r: { code: number; output: string }) => (r.code === 1 && /can't connect|bad address|No route|unreachable|timed out/i.test(r.output)) || r.code === 143 || r.code === 124;
      for (const network of ["frontend-net", "database-net"]) {
        // The same probe reaches what that network does carry: it can succeed.
        const control = network === "frontend-net" ? `http://tasks.${BACKEND}:${MEDIANEST_CONTRACT.backend.port}${MEDIANEST_CONTRACT.backend.healthPath}` : undefined;
        if (control) {
          const reached = await get(network, control);
          expect(reached.code, `${network} -> ${control}: ${reached.output}`).toBe(0);
        }
        const byAddress = await get(network, `http://${address}:${PROMETHEUS_PORT}/-/healthy`);
        expect(refusedByNetwork(byAddress), `${network} -> ${address}:${PROMETHEUS_PORT}: exit ${byAddress.code}: ${byAddress.output}`).toBe(true);
        const byName = await get(network, `http://tasks.prometheus:${PROMETHEUS_PORT}/-/healthy`);
        expect(refusedByNetwork(byName), `${network} -> tasks.prometheus: exit ${byName.code}: ${byName.output}`).toBe(true);
        results.push(`${network}: ${control ? "backend reached, " : ""}Prometheus by address (exit ${byAddress.code}) and by name (exit ${byName.code}) not`);
      }
      const fromRunner = await connectFromRunner(prom.host.address, PROMETHEUS_PORT);
      expect(fromRunner, `${BRIDGE_ADDRESS} -> ${prom.host.name}:${PROMETHEUS_PORT}`).not.toBe("open");
      return `${results.join("; ")}; ${BRIDGE_ADDRESS} -> ${prom.host.name}:${PROMETHEUS_PORT}: ${fromRunner}`;
    });
  }, 180_000);
}
