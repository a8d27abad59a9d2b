// The lab session the data scenarios share: a fresh four-host lab (lab-hosts.ts) formed into
// a swarm by the program's own recorded commands, the data and stand-in images on every
// host, the stack's networks/secrets/configs applied; and the probes a scenario uses to ask
// the swarm about services and tasks. Its members are arrow functions, so a scenario can
// destructure what it needs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { mockedRun, testConfig, type MockedRun } from "../../support/mocked-run";
import { AlertReceiver } from "../alert-receiver";
import { buildDataImageTar, importDataImage } from "../data-image";
import type { Engine } from "../engine";
import { Lab, labLeftovers, type LabHost } from "../lab-hosts";
import { applyObjects, formSwarm, labStackConfig, taskFilter, type AppliedObjects, type EngineService, type FormedSwarm, type SwarmTask } from "../lab-swarm";
import { updateServiceLikeProvider } from "../provider-apply";
import type { ServiceTranslation } from "../service-spec";
import { buildMonitoringImageTars, importMonitoringImages } from "../monitoring-image";
import { STANDIN_IMAGE, STANDIN_NO_HEALTH, STANDIN_V2, buildStandinTar, importStandin } from "../standin-image";
import { since, summaryTable, until, type SummaryRow } from "./probes";

export interface HostConfigEntry {
  name: string;
  address: string;
  role: "manager" | "worker";
  labels?: Record<string, string | string[]>;
}

/** A running task with its host and container. */
export interface TaskRef {
  task: SwarmTask;
  host: LabHost;
  containerId: string;
}

/** The services of the lab stack the data scenarios run (the edge's images and mc are not available here). */
export const POSTGRES = ["postgres-primary", "postgres-replica-1", "postgres-replica-2"];
export const REDIS = ["redis-master", "redis-replica", "redis-sentinel", "redis-proxy"];
export const BACKEND = "medianest-backend";
export const FRONTEND = "medianest-frontend";
/** The scheduled dump: the pre-deploy backup runs its script inside its task. */
export const BACKUP = "postgres-backup";
export const DEPLOYED = [...POSTGRES, ...REDIS, BACKUP, BACKEND, FRONTEND];

export class DataLabSession {
  readonly stackConfig = testConfig("lab");
  readonly hostEntries = this.stackConfig["medianest:hosts"] as HostConfigEntry[];
  lab!: Lab;
  config: Record<string, unknown> = {};
  run!: MockedRun;
  swarm!: FormedSwarm;
  objects!: AppliedObjects;
  /** Steps that completed: a scenario that builds on one requires it. */
  readonly done = new Set<string>();
  private readonly rows: SummaryRow[] = [];
  private readonly started = Date.now();
  /** Where the stack's Alertmanager sends (its Slack receiver's URL, the secret alertSlackWebhookUrl). */
  readonly alerts = new AlertReceiver();
  /** The manager the runner talks to (changes while the first one is down). */
  managerName = this.hostEntries.find((h) => h.role === "manager")?.name ?? "lab-1";

  readonly mgr = (): Engine => this.lab.host(this.managerName).engine;

  /** The host the request loops run from (a worker that no fault takes down). */
  readonly loopHost = (): LabHost => this.lab.host("lab-2");

  readonly hostOfNode = (nodeId: string | undefined): LabHost => {
    const name = [...this.swarm.nodeIdOf.entries()].find(([, id]) => id === nodeId)?.[0];
    if (!name) throw new Error(`task on unknown node ${String(nodeId)}`);
    return this.lab.host(name);
  };

  readonly requireStep = (step: string): void => {
    if (!this.done.has(step)) throw new Error(`skipped: the "${step}" step did not complete`);
  };

  /** Runs one check of the summary table: its result and seconds are recorded either way. */
  readonly check = async (name: string, body: () => Promise<string>): Promise<void> => {
    const started = Date.now();
    try {
      const detail = await body();
      this.rows.push({ check: name, result: "pass", seconds: since(started), detail });
    } catch (error) {
      this.rows.push({ check: name, result: "FAIL", seconds: since(started), detail: String((error as Error).message).split("\n")[0].slice(0, 160) });
      throw error;
    }
  };

  readonly service = async (name: string): Promise<EngineService> => this.mgr().get<EngineService>(`/services/${name}`);

  /** Tasks of a service that should run. */
  readonly tasks = async (name: string): Promise<SwarmTask[]> => this.mgr().get<SwarmTask[]>(taskFilter({ service: [name], "desired-state": ["running"] }));

  /** Running tasks of a service with their hosts and containers. */
  readonly running = async (name: string): Promise<TaskRef[]> =>
    (await this.tasks(name))
      .filter((t) => t.Status.State === "running" && t.Status.ContainerStatus?.ContainerID)
      .map((t) => ({ task: t, host: this.hostOfNode(t.NodeID), containerId: t.Status.ContainerStatus?.ContainerID as string }));

  readonly one = async (name: string): Promise<TaskRef> => {
    const all = await this.running(name);
    if (all.length !== 1) throw new Error(`${name}: ${all.length} running tasks, expected 1`);
    return all[0];
  };

  /** The task's address on an overlay network (by the recorded network name, e.g. "database-net"). */
  readonly addressOn = (task: SwarmTask, network: string): string => {
    const id = this.objects.refs.networkIds.get(`${network}-id`);
    const address = task.NetworksAttachments?.find((a) => a.Network.ID === id)?.Addresses[0]?.split("/")[0];
    if (!address) throw new Error(`task ${task.ID} has no address on ${network}`);
    return address;
  };

  /** Bounded wait until every service runs its replicas (replicated mode). */
  readonly converge = async (names: readonly string[], timeoutMs: number): Promise<number> => {
    let state = "";
    const { seconds } = await until(`services converge (${names.join(", ")})`, timeoutMs, 1_000, async () => {
      const states: string[] = [];
      let pending = 0;
      for (const name of names) {
        const spec = (await this.service(name)).Spec;
        const want = "Replicated" in spec.Mode ? spec.Mode.Replicated.Replicas : 0;
        const ts = await this.tasks(name);
        states.push(`${name}: ${ts.map((t) => `${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ""}`).join(", ") || "no tasks"}`);
        if (!(ts.length === want && ts.every((t) => t.Status.State === "running"))) pending++;
      }
      state = states.join("; ");
      return pending === 0 ? true : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}: ${state}\n${this.lab.logs(8)}`);
    });
    return seconds;
  };

  /**
   * The provider's update (updateServiceLikeProvider: POST /services/{id}/update, then wait as
   * convergeConfig says, failing on paused/rollback). Returns the service as it was before,
   * once the update is accepted, and the provider's outcome as a promise.
   */
  readonly update = async (name: string, translation: ServiceTranslation): Promise<{ before: EngineService; outcome: Promise<unknown> }> => {
    const before = await this.service(name);
    const outcome = updateServiceLikeProvider(this.mgr(), name, translation);
    // Until the engine has the new version, the update is not under way.
    await until(`${name}'s update is accepted`, 30_000, 250, async () => ((await this.service(name)).Version.Index > before.Version.Index ? true : undefined));
    outcome.catch(() => undefined);
    return { before, outcome };
  };

  /** Hosts, swarm (the program's commands), images, networks/secrets/configs. */
  async setUp(): Promise<void> {
    if (!existsSync("/usr/sbin/debootstrap")) {
      // CI installs it (.ci/run); by hand, install it once here.
      const apt = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "debootstrap"], { encoding: "utf8", timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      if (apt.status !== 0 || !existsSync("/usr/sbin/debootstrap")) throw new Error(`debootstrap is missing and apt-get install debootstrap failed: ${apt.stderr}`);
    }
    const started = Date.now();
    this.lab = await Lab.up(this.hostEntries.map((h) => ({ name: h.name, address: h.address })));
    await this.alerts.start();
    this.config = { ...labStackConfig(this.lab, this.stackConfig), "medianest:alertSlackWebhookUrl": this.alerts.url };
    this.run = await mockedRun("lab", { config: this.config });
    // The images build (or come from the cache) while the swarm forms: one debootstrap at a
    // time, as two would contend for the same two cores and the mirror.
    const images = (async () => {
      const data = await buildDataImageTar(path.join(this.lab.runDir, "data-image"));
      const monitoring = await buildMonitoringImageTars(path.join(this.lab.runDir, "monitoring-image"));
      return { data, monitoring };
    })();
    const [formed, { data: dataImage, monitoring: monitoringImage }] = await Promise.all([formSwarm(this.lab, this.run), images]);
    this.swarm = formed;
    const built = (image: { cached: boolean; seconds: number }) => (image.cached ? "cached" : `built in ${image.seconds.toFixed(0)} s`);
    console.log(`swarm formed, data image ${built(dataImage)} (${dataImage.tar}), monitoring images ${built(monitoringImage)} (${monitoringImage.tar}): ${since(started).toFixed(1)} s`);
    const standins = [
      { name: STANDIN_IMAGE, image: buildStandinTar() },
      { name: STANDIN_V2.image, image: buildStandinTar(STANDIN_V2) },
      { name: STANDIN_NO_HEALTH.image, image: buildStandinTar(STANDIN_NO_HEALTH) },
    ];
    const importStarted = Date.now();
    await Promise.all(
      this.lab.hosts.map(async (h) => {
        for (const s of standins) await importStandin(h.engine, s.image, s.name);
        await importDataImage(h.engine, dataImage);
        await importMonitoringImages(h.engine, monitoringImage);
      }),
    );
    console.log(`images imported on ${this.lab.hosts.length} hosts: ${since(importStarted).toFixed(1)} s`);
    this.objects = await applyObjects(this.mgr(), this.run);
    this.rows.push({ check: "setup: hosts, swarm (program's commands), images, networks/secrets/configs", result: "pass", seconds: since(started), detail: `data image ${built(dataImage)}, monitoring images ${built(monitoringImage)}` });
  }

  /** Prints the summary, takes the lab down and returns what it left behind (nothing, or a failure). */
  tearDown(): string[] {
    console.log(`\n${summaryTable(this.rows, since(this.started))}\n`);
    void this.alerts.stop();
    if (!this.lab) return [];
    const log = this.lab.down();
    const left = labLeftovers();
    if (left.length > 0) console.log(log);
    return left;
  }
}
