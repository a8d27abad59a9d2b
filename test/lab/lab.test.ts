// The real test lab: four hosts (Pulumi.lab.yaml) on this machine, each a network
// namespace with its own mount/UTS/PID namespaces running sshd (Debian's defaults) and
// Debian's dockerd. A mocked run of the `lab` stack is replayed in the engine's order
// (engine-order.ts): its Host and Swarm commands over real SSH, the docker provider's SSH
// connection opened by the program's own code, and its networks, secrets, configs and app
// services through the Engine API over that connection, by strict translators that send
// what the provider sends and apply it the way the provider does (provider-apply.ts). Then
// everything is read back and diffed the way the next `pulumi up` would
// (docker-provider-model.ts). Needs root; skipped (with the reason printed) otherwise,
// unless REQUIRE_LAB=1. Everything it creates is removed afterwards, also on failure and
// on SIGINT/SIGTERM (test/lab/cleanup.sh).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import * as path from "node:path";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dockerSshOptions, leaderEndpoint } from "../../components/docker-provider";
import { NETWORK_IGNORE_CHANGES } from "../../components/networks";
import { closeControlMaster, multiplexedSshOptions, openControlMaster } from "../../components/ssh-control-master";
import { SERVICE_IGNORE_CHANGES } from "../../components/swarm-service";
import { loadScript, parseStdin } from "../../scripts/loader";
import type { PlannedNode } from "../../topology/plan";
import { NETWORK_SCHEMA, SERVICE_SCHEMA, planCommandDiff, planDiff, readNetwork, readService, resolveServiceInputs, summarise } from "../support/docker-provider-model";
import { mockedRun, testConfig, type MockedRun, type RecordedResource } from "../support/mocked-run";
import { hostAndSwarmCommands, realInvocation, runOverSsh, runRecordedMigration, sshArgs, type RecordedCommand, type SshResult } from "./commands";
import { parseScriptCommand } from "../../scripts/interfaces";
import { Engine, sshDial } from "./engine";
import { replayInEngineOrder, span, type ReplayedStep } from "./engine-order";
import { BRIDGE_ADDRESS, Lab, labLeftovers, labUnavailableReason, type LabHost } from "./lab-hosts";
import { IMAGE_ID, LOCAL_BUILD_IMAGES } from "../../domain/images";
import { satisfiesConstraint } from "../../domain/scheduling";
import { CommandRunner, labStackConfig, nodeSubject, type SwarmNode, type SwarmTask } from "./lab-swarm";
import { networkCreateBody } from "./network-spec";
import { createServiceLikeProvider } from "./provider-apply";
import { configCreateBody, secretCreateBody, serviceSpec, type EngineServiceSpec, type SwarmRefs } from "./service-spec";
import { STANDIN_IMAGE, buildStandinTar, importStandin } from "./standin-image";

const unavailable = labUnavailableReason();
const required = process.env.REQUIRE_LAB === "1";
if (unavailable && !required) console.log(`test:lab skipped: ${unavailable} (set REQUIRE_LAB=1 to make this an error)`);

const COMMAND_TIMEOUT_MS = 240_000;
const SSH_DIR = path.join(userInfo().homedir, ".ssh");
const sshDirExisted = existsSync(SSH_DIR);
/** The lab applies the services whose images it has (the edge, MinIO's mc and the data tier's images are not here). */
const LAB_IMAGES = new Set([STANDIN_IMAGE]);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

interface HostConfigEntry {
  name: string;
  address: string;
  role: "manager" | "worker";
  labels?: Record<string, unknown>;
}

/** `KEY=VALUE` script arguments as a map. */
function labelArgs(args: readonly string[]): Record<string, string> {
  return Object.fromEntries(args.map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]));
}

/** A positive control may need a moment (gossip, DNS): up to `attempts` tries, 2 s apart. */
async function eventually<T extends { code: number }>(attempts: number, probe: () => Promise<T>): Promise<T> {
  let result = await probe();
  for (let i = 1; i < attempts && result.code !== 0; i++) {
    await sleep(2_000);
    result = await probe();
  }
  return result;
}


/** Runs `count` copies of `task` at once; the results in order. */
function parallel<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => task(i)));
}

/** A table, for the lab's printed summary. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(" | ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}

describe.runIf(!unavailable || required)("test lab: the program on real sshd + dockerd hosts", () => {
  let lab: Lab;
  const stackConfig = testConfig("lab");
  const hostEntries = stackConfig["medianest:hosts"] as HostConfigEntry[];
  let config: Record<string, unknown> = {};
  let run: MockedRun;
  let runner: CommandRunner;
  let commands: RecordedCommand[] = [];
  let replay: ReplayedStep[] = [];
  /** The leader's engine the way the docker provider reaches it: dial-stdio over the multiplexed SSH connection. */
  let providerEngine: Engine;
  let leaderNode: PlannedNode;
  const done = new Set<string>();
  const refs: SwarmRefs & { [K in keyof SwarmRefs]: Map<string, string> } = { networkIds: new Map(), secretIds: new Map(), secretNames: new Map(), configIds: new Map(), configNames: new Map() };
  const secretValues = new Map<string, string>();
  const applied = new Map<string, { spec: EngineServiceSpec; resolved: boolean }>();
  const summary: string[] = [];
  let floorSeconds = 0;

  const leader = () => lab.host(hostEntries.find((h) => h.role === "manager")?.name ?? "lab-1");
  const requireStep = (step: string) => {
    if (!done.has(step)) throw new Error(`skipped: the "${step}" step did not complete`);
  };
  const target = (c: RecordedCommand | LabHost) => ({ address: c.address, user: "root", port: 22, keyFile: lab.keyFile });
  const nodes = () => leader().engine.get<SwarmNode[]>("/nodes");
  const ssh = (host: LabHost, line: string, stdin = "", timeoutMs = 60_000) => runOverSsh(target(host), line, stdin, timeoutMs);
  const mustSsh = async (host: LabHost, line: string, stdin = ""): Promise<SshResult> => {
    const result = await ssh(host, line, stdin);
    if (result.code !== 0) throw new Error(`${host.name}: ${line} exited ${String(result.code)}: ${result.stderr}`);
    return result;
  };

  /** When the schema migration's job finished, and what it printed. */
  let migration: { finishedAt: number; output: string } | undefined;

  /**
   * The schema migration, as the program records it: migrate.sh on the leader with the
   * database URL secret's real name in place of the mocked one. The stand-in's npx checks the
   * URL it gets the way the app does and prints when it ran.
   */
  async function runMigration(r: RecordedResource): Promise<{ outcome: "done"; note: string }> {
    migration = await runRecordedMigration(target(leader()), r.inputs, refs.secretNames, 300_000);
    const ran = migration.output.split("\n").find((l) => l.startsWith("medianest-standin: migrations applied")) ?? "";
    return { outcome: "done", note: `job ran the contract's migration (${ran || "no output"})` };
  }

  /** The lab's executor of one recorded resource, called in engine order. */
  async function apply(r: RecordedResource): Promise<"done" | "skipped" | { outcome: "done" | "skipped"; note: string }> {
    const command = runner.command(r.urn);
    if (command) {
      await runner.run(command);
      return "done";
    }
    if (r.type === "command:remote:Command" && r.parent.includes("$medianest:deploy:SchemaMigration::")) return runMigration(r);
    switch (r.type) {
      case "pulumi:providers:docker": {
        // What the program gave the provider (provider inputs reach the engine JSON-encoded):
        // exactly the options the master is opened with.
        const sshOpts = (typeof r.inputs.sshOpts === "string" ? JSON.parse(r.inputs.sshOpts) : r.inputs.sshOpts) as string[];
        expect(sshOpts).toEqual(dockerSshOptions(leaderNode));
        expect(r.inputs.host).toBe(`ssh://root@${leader().address}:22`);
        await openControlMaster(leaderEndpoint(leaderNode), lab.privateKey);
        providerEngine = new Engine({ dial: sshDial([...sshOpts, "-p", "22", `root@${leader().address}`]) }, `${leader().name} over ssh`);
        expect(await providerEngine.ping()).toBe(true);
        return { outcome: "done", note: "control master opened by the program's openControlMaster" };
      }
      case "docker:index/network:Network": {
        const created = await providerEngine.post<{ Id: string }>("/networks/create", networkCreateBody(r.inputs, r.name));
        refs.networkIds.set(r.id, created.Id);
        return "done";
      }
      case "docker:index/secret:Secret": {
        const body = secretCreateBody(r.inputs, `${r.name}-${randomBytes(4).toString("hex").slice(0, 7)}`, r.name);
        const created = await providerEngine.post<{ ID: string }>("/secrets/create", body);
        refs.secretIds.set(r.id, created.ID);
        refs.secretNames.set(String(r.inputs.name ?? `${r.name}-mock`), body.Name);
        secretValues.set(body.Name, Buffer.from(body.Data, "base64").toString("utf8"));
        return "done";
      }
      case "docker:index/serviceConfig:ServiceConfig": {
        const body = configCreateBody(r.inputs, r.name);
        const created = await providerEngine.post<{ ID: string }>("/configs/create", body);
        refs.configIds.set(r.id, created.ID);
        refs.configNames.set(body.Name, body.Name);
        return "done";
      }
      case "docker:index/service:Service": {
        const image = String((r.inputs.taskSpec as { containerSpec: { image: string } }).containerSpec.image);
        if (!LAB_IMAGES.has(image)) return { outcome: "skipped", note: `image ${image} is not in the lab` };
        const translation = serviceSpec(r.inputs, refs, r.name);
        const created = await createServiceLikeProvider(providerEngine, translation);
        applied.set(r.name, { spec: translation.spec, resolved: created.resolved });
        return { outcome: "done", note: `converged in ${created.seconds.toFixed(1)} s` };
      }
      default:
        // Components, random passwords: nothing to apply on the hosts.
        return r.type.startsWith("medianest:") || r.type.startsWith("random:") ? "done" : { outcome: "skipped", note: "not applied by the lab" };
    }
  }

  beforeAll(async () => {
    if (unavailable) throw new Error(`REQUIRE_LAB=1 but the lab cannot run here: ${unavailable}`);
    const started = Date.now();
    lab = await Lab.up(hostEntries.map((h) => ({ name: h.name, address: h.address })));
    console.log(`hosts up: ${seconds(started)} s (${lab.hosts.length} hosts, run ${lab.runId})`);
    config = labStackConfig(lab, stackConfig);
    run = await mockedRun("lab", { config });
    runner = new CommandRunner(lab, run, COMMAND_TIMEOUT_MS);
    commands = runner.commands;
    const leaderEntry = (config["medianest:hosts"] as (HostConfigEntry & { hostKey: string })[]).find((h) => h.role === "manager") as HostConfigEntry & { hostKey: string };
    leaderNode = { name: leaderEntry.name, address: leaderEntry.address, ssh: { user: "root", port: 22, sudo: false, hostKey: leaderEntry.hostKey } } as unknown as PlannedNode;
  }, 180_000);

  afterAll(() => {
    if (summary.length > 0) console.log(`\n${summary.join("\n\n")}\n`);
    if (!lab) return;
    if (leaderNode) closeControlMaster(leaderEndpoint(leaderNode));
    // The program creates ~/.ssh for its control socket; leave the runner as it was.
    if (!sshDirExisted && existsSync(SSH_DIR) && readdirSync(SSH_DIR).every((f) => f.startsWith("medianest-"))) rmSync(SSH_DIR, { recursive: true, force: true });
    const log = lab.down();
    const left = labLeftovers();
    if (left.length > 0) console.log(log);
    expect(left, "lab leftovers after cleanup").toEqual([]);
  }, 180_000);

  it("each host has its own hostname, private /run, bind-mounted directories, sshd host key and dockerd", async () => {
    const keys = new Set<string>();
    for (const h of lab.hosts) {
      const result = await ssh(
        h,
        "hostname; cat /etc/ssh/ssh_host_ed25519_key.pub; test -d /run/systemd/system && echo systemd || echo no-systemd; readlink -f /var/run; docker info --format '{{.Name}} {{.Driver}} {{.DockerRootDir}}'; hostname > /etc/medianest/lab-host",
        "",
        30_000,
      );
      expect(result.code, result.stderr).toBe(0);
      const [hostname, hostKey, systemd, varRun, info] = result.stdout.trim().split("\n");
      expect(hostname).toBe(h.name);
      expect(hostKey.split(" ").slice(0, 2).join(" ")).toBe(h.hostKey);
      expect([systemd, varRun, info]).toEqual(["no-systemd", "/run", `${h.name} overlay2 /var/lib/docker`]);
      keys.add(hostKey);
      expect(existsSync(`${h.dir}/docker.sock`)).toBe(true);
      // What a host writes under a bind-mounted path lands in its own directory only.
      expect(readFileSync(`${h.dir}/fs/etc-medianest/lab-host`, "utf8")).toBe(`${h.name}\n`);
    }
    expect(keys.size).toBe(lab.hosts.length);
    expect(existsSync("/etc/medianest/lab-host")).toBe(false);
    done.add("hosts");
  });

  it("builds the stand-in image from busybox-static and loads it on every host", async () => {
    const started = Date.now();
    const image = buildStandinTar();
    await Promise.all(lab.hosts.map((h) => importStandin(h.engine, image)));
    for (const h of lab.hosts) {
      const inspect = await h.engine.get<{ Config: { Cmd: string[]; Entrypoint: string[] } }>(`/images/${STANDIN_IMAGE}/json`);
      // The upstream images' entrypoint, so the program's env-file wrapper starts it the same way.
      expect([inspect.Config.Entrypoint, inspect.Config.Cmd]).toEqual([["dumb-init", "--"], ["/app/docker-entrypoint.sh"]]);
    }
    console.log(`image loaded: ${seconds(started)} s (${image.cached ? "cached" : "built"} ${image.tar})`);
    done.add("image");
  });

  it("measures the bare-command floor: the same init, joins and labels issued directly over SSH", async () => {
    requireStep("hosts");
    const managers = hostEntries.filter((h) => h.role === "manager");
    const workers = hostEntries.filter((h) => h.role === "worker");
    const [first, ...joining] = managers;
    const host = (h: HostConfigEntry) => lab.host(h.name);
    const started = Date.now();
    await mustSsh(host(first), `docker swarm init --advertise-addr ${first.address} --listen-addr ${first.address}:2377 --autolock >/dev/null`);
    const managerToken = (await mustSsh(host(first), "docker swarm join-token -q manager")).stdout.trim();
    const workerToken = (await mustSsh(host(first), "docker swarm join-token -q worker")).stdout.trim();
    for (const m of joining) await mustSsh(host(m), `docker swarm join --token ${managerToken} --advertise-addr ${m.address} --listen-addr ${m.address}:2377 ${first.address}:2377`);
    await Promise.all(workers.map((w) => mustSsh(host(w), `docker swarm join --token ${workerToken} --advertise-addr ${w.address} --listen-addr ${w.address}:2377 ${first.address}:2377`)));
    const ids = (await mustSsh(host(first), "docker node ls --format '{{.Hostname}} {{.ID}}'")).stdout.trim().split("\n").map((l) => l.split(" "));
    await Promise.all(
      hostEntries.map((h) => {
        const id = ids.find(([name]) => name === h.name)?.[1];
        const labels = Object.entries(h.labels ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `--label-add ${k}.${String(x)}=true`) : [`--label-add ${k}=${String(v)}`]));
        return mustSsh(host(first), `docker node update ${labels.join(" ")} ${id}`);
      }),
    );
    floorSeconds = (Date.now() - started) / 1000;
    // Back to bare hosts for the program.
    await Promise.all([...workers, ...joining].map((h) => mustSsh(host(h), "docker swarm leave --force >/dev/null")));
    await mustSsh(host(first), "docker swarm leave --force >/dev/null");
    console.log(`bare-command floor: swarm formed in ${floorSeconds.toFixed(1)} s (${hostEntries.length} hosts)`);
    done.add("floor");
  });

  it("replays the mocked run in engine order: host steps, swarm, the provider's SSH connection, networks, secrets, configs, app services", async () => {
    requireStep("hosts");
    requireStep("image");
    const started = Date.now();
    replay = await replayInEngineOrder(run, apply, { timeoutMs: 900_000 });
    const total = (Date.now() - started) / 1000;
    const swarmSteps = replay.filter((s) => runner.command(s.resource.urn)?.phase !== undefined && runner.command(s.resource.urn)?.phase !== "host");
    const formation = span(swarmSteps);
    const hostSteps = span(replay.filter((s) => runner.command(s.resource.urn)?.phase === "host"));
    const skipped = replay.filter((s) => s.outcome === "skipped").map((s) => `${s.resource.name} (${s.note ?? ""})`);
    const ratio = floorSeconds > 0 ? formation / floorSeconds : Number.NaN;
    summary.push(
      [
        `engine-order replay: ${total.toFixed(1)} s for ${replay.length} resources (${replay.filter((s) => s.outcome === "done").length} applied)`,
        `  host steps ${hostSteps.toFixed(1)} s; swarm formation ${formation.toFixed(1)} s (${swarmSteps.length} commands) vs bare-command floor ${floorSeconds.toFixed(1)} s: ${ratio.toFixed(2)}x (goal <= 1.3x)`,
        `  skipped: ${skipped.join(", ") || "none"}`,
      ].join("\n"),
    );
    console.log(summary[summary.length - 1]);
    // Every command ran, and every app service converged.
    expect(replay.filter((s) => runner.command(s.resource.urn)).every((s) => s.outcome === "done")).toBe(true);
    expect([...applied.keys()].sort()).toEqual(["medianest-backend", "medianest-frontend", "medianest-worker"]);
    // The migration job ran, and finished before the first backend task was created.
    expect(migration?.output).toMatch(/medianest-standin: migrations applied at \d+/);
    expect(migration?.output).toMatch(/changed: migrations applied with medianest-lab\/standin:1/);
    const backendTasks = await leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ["medianest-backend"] }))}`);
    const firstBackendTask = Math.min(...backendTasks.map((t) => Date.parse(t.CreatedAt)));
    expect(firstBackendTask, "the first backend task starts after the migration").toBeGreaterThan(migration?.finishedAt ?? Infinity);
    summary.push(`  migration job done ${((firstBackendTask - (migration?.finishedAt ?? 0)) / 1000).toFixed(1)} s before the first backend task`);
    done.add("swarm");
    done.add("networks");
    done.add("services");
  }, 900_000);

  it("the host steps and the swarm are as the recorded commands say", async () => {
    requireStep("swarm");
    // The host steps did what their arguments say: data directories with exact modes and
    // owners, the firewall chains hooked in first, sshd's MaxSessions raised on managers.
    for (const c of commands.filter((x) => x.phase === "host")) {
      const t = target(c);
      if (c.script === "host/data-dirs.sh") {
        const specs = parseScriptCommand(c.script, c.create).dirs.map((a) => a.split(":"));
        const stat = await runOverSsh(t, `stat -c '%n:%a:%u:%g' ${specs.map(([p]) => p).join(" ")}`, "", 30_000);
        expect(stat.stdout.trim().split("\n"), `${c.name}`).toEqual(specs.map(([p, mode, owner, group]) => `${p}:${Number.parseInt(mode, 8).toString(8)}:${owner}:${group}`));
      } else if (c.script === "host/firewall.sh") {
        const rules = await runOverSsh(t, "iptables -S INPUT 1; iptables -S DOCKER-USER 1; iptables -S MEDIANEST-SWARM | grep -c -- '-j ACCEPT'", "", 30_000);
        const firewall = parseScriptCommand(c.script, c.create);
        const peers = firewall.peers;
        const perPeer = firewall.role === "manager" ? 4 : 3;
        expect(rules.stdout.trim().split("\n"), `${c.name}`).toEqual(["-A INPUT -j MEDIANEST-SWARM", "-A DOCKER-USER -j MEDIANEST-PUBLISHED", String(peers.length * perPeer)]);
      } else if (c.script === "host/sshd-sessions.sh") {
        const effective = await runOverSsh(t, "/usr/sbin/sshd -T -C user=root,host=localhost,addr=127.0.0.1 | awk '$1 == \"maxsessions\" { print $2 }'", "", 30_000);
        expect(effective.stdout.trim(), `${c.name}`).toBe(String(parseScriptCommand(c.script, c.create).maxSessions));
      } else {
        throw new Error(`${c.name}: no check for ${c.script}`);
      }
    }
    // sshd-sessions runs on the managers only.
    expect(commands.filter((c) => c.script === "host/sshd-sessions.sh").map((c) => lab.byAddress(c.address).name).sort()).toEqual(hostEntries.filter((h) => h.role === "manager").map((h) => h.name).sort());

    // All nodes Ready with the configured roles, labels exactly as the node-config commands set them.
    const all = await nodes();
    expect(all).toHaveLength(hostEntries.length);
    for (const n of all) expect([n.Description.Hostname, n.Status.State, n.Spec.Availability]).toEqual([n.Description.Hostname, "ready", "active"]);
    const managers = all.filter((n) => n.Spec.Role === "manager").map((n) => n.Description.Hostname).sort();
    expect(managers).toEqual(hostEntries.filter((h) => h.role === "manager").map((h) => h.name).sort());
    for (const c of commands.filter((x) => x.phase === "node-config")) {
      const { owner, nodeId, role, availability, labels } = parseScriptCommand("swarm/node-config.sh", runnerLine(c));
      const node = all.find((n) => n.ID === nodeId);
      expect(node, `${c.name}: node ${nodeId}`).toBeDefined();
      expect(node?.Spec.Role).toBe(role);
      expect(node?.Spec.Availability).toBe(availability);
      expect(node?.Spec.Labels).toEqual({ ...labelArgs(labels), "com.medianest.owner": owner });
      expect(runner.nodeIdOf.get(node?.Description.Hostname ?? "")).toBe(nodeId);
    }
    for (const h of hostEntries) {
      const node = all.find((n) => n.ID === runner.nodeIdOf.get(h.name));
      expect(node?.Status.Addr).toBe(h.address);
      if (h.role === "manager") expect(node?.ManagerStatus?.Addr).toBe(`${h.address}:2377`);
      // Every member records its owner (leave.sh acts only for it).
      expect((await mustSsh(lab.host(h.name), "cat /var/lib/medianest/owners/swarm-member")).stdout.trim()).toBe(`swarm-member-${h.name}`);
    }
    expect(all.find((n) => n.ManagerStatus?.Leader)?.Description.Hostname).toBe(leader().name);
    const init = runner.formed().init;
    const swarm = await leader().engine.get<{ ID: string; Spec: { EncryptionConfig: { AutoLockManagers: boolean } } }>("/swarm");
    expect(swarm.ID).toBe(init.clusterId);
    expect(swarm.Spec.EncryptionConfig.AutoLockManagers).toBe(true);
    expect((await leader().engine.get<{ UnlockKey: string }>("/swarm/unlockkey")).UnlockKey).toBe(init.unlockKey);
    // The join token never reached a command line: sshd's log of each session shows only
    // the public arguments (and the lab's sshd logs every command at its default level).
    for (const c of commands.filter((x) => x.script === "swarm/join.sh")) expect(runnerLine(c)).not.toMatch(/SWMTKN/);
  });

  /** A recorded command's create line with the real values in. */
  const runnerLine = (c: RecordedCommand): string => realInvocation(c, c.create, runner.placeholders, runner.real).line;

  it("running every command a second time changes nothing", async () => {
    requireStep("swarm");
    const before = { ...runner.formed().init };
    const ids = new Map(runner.nodeIdOf);
    for (const c of commands) {
      const result = await runner.run(c, c.update ?? c.create);
      const changed = `${result.stdout}\n${result.stderr}`.split("\n").filter((l) => l.startsWith("changed:"));
      expect(changed, `${c.name} changed something on its second run`).toEqual([]);
    }
    expect(runner.formed().init).toEqual(before);
    expect(runner.nodeIdOf).toEqual(ids);
  });

  it("a second `pulumi up` of the same config plans nothing: every resource read back and diffed as the providers do", async () => {
    requireStep("services");
    const second = await mockedRun("lab", { config });
    const rows: string[][] = [];
    const ids = { ...refs, networkIds: refs.networkIds };
    let updates = 0;
    let replaces = 0;
    const record = (type: string, name: string, u: readonly { path: string }[], r: readonly { path: string }[]) => {
      updates += u.length;
      replaces += r.length;
      rows.push([type, name, String(u.length), String(r.length), [...u, ...r].map((c) => c.path).join(", ") || "-"]);
    };
    for (const n of second.ofType("docker:index/network:Network")) {
      const stored = readNetwork(await providerEngine.get(`/networks/${refs.networkIds.get(n.id)}`));
      const plan = summarise(planDiff(NETWORK_SCHEMA, n.inputs, stored, NETWORK_IGNORE_CHANGES));
      record("docker.Network", n.name, plan.updates, plan.replaces);
    }
    const first = new Map(run.ofType("docker:index/service:Service").map((s) => [s.name, s]));
    for (const s of second.ofType("docker:index/service:Service").filter((x) => applied.has(x.name))) {
      const stored = readService(await providerEngine.get(`/services/${s.name}`), first.get(s.name)?.inputs ?? {});
      const plan = summarise(planDiff(SERVICE_SCHEMA, resolveServiceInputs(s.inputs, ids), stored, SERVICE_IGNORE_CHANGES));
      record("docker.Service", s.name, plan.updates, plan.replaces);
    }
    // Secrets and configs are immutable (every input replace-on-change): equal inputs, no change.
    for (const type of ["docker:index/secret:Secret", "docker:index/serviceConfig:ServiceConfig"]) {
      const before = new Map(run.ofType(type).map((r) => [r.name, r.inputs]));
      for (const r of second.ofType(type)) {
        const same = JSON.stringify(before.get(r.name)) === JSON.stringify(r.inputs);
        record(type.split(":")[2], r.name, [], same ? [] : [{ path: "data" }]);
      }
    }
    const firstCommands = new Map(commands.map((c) => [c.name, c.resource.inputs]));
    for (const c of hostAndSwarmCommands(second)) {
      const plan = planCommandDiff(firstCommands.get(c.name) ?? {}, c.resource.inputs);
      record("command.remote.Command", c.name, plan.updates, plan.replaces);
    }
    summary.push(`second run of the same config, read back from the engine (docker) and state (commands):\n${table(["type", "resource", "updates", "replaces", "paths"], rows)}\n  total: ${updates} updates, ${replaces} replaces`);
    console.log(summary[summary.length - 1]);
    expect({ updates, replaces }).toEqual({ updates: 0, replaces: 0 });
    // And the engine stored what was sent: images as declared (no registry knows the lab's),
    // Env at most one entry, the env file mounted.
    for (const [name, { spec, resolved }] of applied) {
      const s = await providerEngine.get<{ Spec: EngineServiceSpec }>(`/services/${name}`);
      expect(resolved, `${name}: the registry query found nothing, as for any image no registry has`).toBe(false);
      expect(s.Spec.TaskTemplate.ContainerSpec.Image).toBe(spec.TaskTemplate.ContainerSpec.Image);
      expect((s.Spec.TaskTemplate.ContainerSpec.Env ?? []).length).toBeLessThanOrEqual(1);
    }
  });

  it("an edited swarm/join.sh is an update of exactly the join commands, and running them leaves every node in the swarm", async () => {
    requireStep("swarm");
    vi.doMock("node:fs", async (importOriginal) => {
      const fs = await importOriginal<typeof import("node:fs")>();
      const readFileSync = ((file: unknown, ...rest: unknown[]) => {
        const content = (fs.readFileSync as (...args: unknown[]) => unknown)(file, ...rest);
        return String(file).endsWith("/scripts/swarm/join.sh") ? `${String(content)}# edited\n` : content;
      }) as typeof fs.readFileSync;
      return { ...fs, readFileSync, default: { ...fs, readFileSync } };
    });
    let edited: MockedRun;
    try {
      edited = await mockedRun("lab", { config });
    } finally {
      vi.doUnmock("node:fs");
    }
    const was = new Map(commands.map((c) => [c.name, c]));
    const changed: { command: RecordedCommand; plan: ReturnType<typeof planCommandDiff> }[] = [];
    const editedJoin = `${loadScript("swarm/join.sh").content}# edited\n`;
    const identify = (stdin: string) => (stdin.endsWith(editedJoin) ? { script: "swarm/join.sh" as const } : parseStdin(stdin));
    for (const c of hostAndSwarmCommands(edited, identify)) {
      const plan = planCommandDiff((was.get(c.name) as RecordedCommand).resource.inputs, c.resource.inputs);
      expect(plan.replaces.map((x) => x.path), c.name).toEqual([]);
      if (plan.updates.length > 0) changed.push({ command: c, plan });
    }
    expect(changed.map((x) => x.command.name).sort()).toEqual(commands.filter((c) => c.script === "swarm/join.sh").map((c) => c.name).sort());
    expect(new Set(changed.flatMap((x) => x.plan.updates.map((u) => u.path)))).toEqual(new Set(["stdin"]));
    const before = (await nodes()).map((n) => n.ID).sort();
    // pulumi-command runs `update` with the new stdin, in place.
    for (const { command } of changed) {
      const result = await runner.run(command, command.update ?? command.create);
      expect(result.stderr, command.name).toMatch(/ok: member of swarm/);
      expect(`${result.stdout}\n${result.stderr}`, command.name).not.toMatch(/left swarm/);
    }
    const after = await nodes();
    expect(after.map((n) => n.ID).sort()).toEqual(before);
    expect(after.every((n) => n.Status.State === "ready")).toBe(true);
    summary.push(`edited swarm/join.sh: ${changed.length} commands plan an update (stdin), 0 replaces; run in place, ${after.length}/${before.length} nodes still in the swarm`);
  });

  it("the docker provider's one SSH connection holds 40 parallel API calls; plain connections do not", async () => {
    requireStep("swarm");
    const endpoint = leaderEndpoint(leaderNode);
    const ping = "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    const through = async (args: readonly string[]) => {
      const results = await parallel(40, () => new Promise<boolean>((resolve) => {
        const started = Date.now();
        void runRaw(args, ping).then((out) => resolve(/\r\n\r\nOK$/.test(out) && Date.now() - started < 60_000));
      }));
      return results.filter(Boolean).length;
    };
    await openControlMaster(endpoint, lab.privateKey);
    const multiplexed = await through([...multiplexedSshOptions(endpoint), "-p", "22", `root@${leader().address}`, "docker", "system", "dial-stdio"]);
    // Control: one new connection each, as without ControlMaster (same key, same sshd).
    const plain = await through([...sshArgs({ address: leader().address, user: "root", port: 22, keyFile: lab.keyFile }), "docker", "system", "dial-stdio"]);
    summary.push(`parallel SSH: 40 concurrent docker API calls through the control master: ${multiplexed}/40 answered; 40 plain connections (sshd MaxStartups 10:30:100): ${plain}/40`);
    console.log(summary[summary.length - 1]);
    expect(multiplexed).toBe(40);
  });

  it("destroy/refresh without the program: the stored sshOpts reach the engine with the key in an ssh-agent, and fail without it", async () => {
    requireStep("swarm");
    const endpoint = leaderEndpoint(leaderNode);
    // No program run: no master. The provider's ssh then authenticates by itself.
    closeControlMaster(endpoint);
    const args = [...multiplexedSshOptions(endpoint), "-p", "22", `root@${leader().address}`, "docker", "system", "dial-stdio"];
    const ping = "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    const withoutAgent = await runRaw(args, ping, { SSH_AUTH_SOCK: "" });
    expect(withoutAgent).not.toMatch(/\r\n\r\nOK$/);
    const { spawn, spawnSync } = await import("node:child_process");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(`${tmpdir()}/mnlab-agent-`);
    const socket = `${dir}/agent.sock`;
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
      const added = spawnSync("ssh-add", ["-q", "-"], { input: lab.privateKey, env: { ...process.env, SSH_AUTH_SOCK: socket }, encoding: "utf8" });
      expect(added.status, added.stderr).toBe(0);
      const withAgent = await runRaw(args, ping, { SSH_AUTH_SOCK: socket });
      expect(withAgent).toMatch(/\r\n\r\nOK$/);
    } finally {
      agent.kill();
      closeControlMaster(endpoint);
      rmSync(dir, { recursive: true, force: true });
      // The later checks talk to the engine the provider's way again: through the program's master.
      await openControlMaster(endpoint, lab.privateKey);
    }
    summary.push("without the program (destroy, refresh): the stored sshOpts fail to authenticate with no agent and no master, and reach the engine with the key in an ssh-agent");
  });

  /** ssh with `args`, `stdin` as input; its stdout (bounded at 60 s). */
  function runRaw(args: readonly string[], stdin: string, env: Record<string, string> = {}): Promise<string> {
    return import("node:child_process").then(
      ({ spawn }) =>
        new Promise<string>((resolve) => {
          const child = spawn("ssh", [...args], { stdio: ["pipe", "pipe", "ignore"], env: { ...process.env, ...env } });
          let out = "";
          child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
          const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
          child.on("close", () => {
            clearTimeout(timer);
            resolve(out);
          });
          child.stdin.on("error", () => undefined);
          child.stdin.end(stdin);
        }),
    );
  }

  it("removing a label from config removes it from the node (and adding it back restores it)", async () => {
    requireStep("swarm");
    const host = hostEntries.find((h) => h.labels && "az" in h.labels && h.role === "manager" && h.name !== leader().name) as HostConfigEntry;
    const changedHosts = structuredClone(config["medianest:hosts"] as HostConfigEntry[]).map((h) => {
      if (h.name === host.name) delete h.labels?.az;
      return h;
    });
    const changedRun = await mockedRun("lab", { config: { ...config, "medianest:hosts": changedHosts } });
    const nodeConfig = (cs: RecordedCommand[]) => cs.find((c) => c.phase === "node-config" && c.name.endsWith(`-${host.name}`)) as RecordedCommand;
    const before = nodeConfig(commands);
    const after = nodeConfig(hostAndSwarmCommands(changedRun));
    expect(after.create).not.toBe(before.create);
    const nodeId = runner.nodeIdOf.get(host.name) as string;
    const removed = await runner.run(after, after.update ?? after.create);
    expect(removed.stdout).toContain(`changed: node ${nodeId} label az removed`);
    const node = (await nodes()).find((n) => n.ID === nodeId);
    expect(node?.Spec.Labels).not.toHaveProperty("az");
    const restored = await runner.run(before, before.update ?? before.create);
    expect(restored.stdout).toContain(`changed: node ${nodeId} label az=${String(host.labels?.az)}`);
    expect((await nodes()).find((n) => n.ID === nodeId)?.Spec.Labels.az).toBe(String(host.labels?.az));
  });

  it("the five overlay networks have the planned subnets and attachability", async () => {
    requireStep("networks");
    const recorded = run.ofType("docker:index/network:Network");
    expect(recorded).toHaveLength(5);
    const attachable = (stackConfig["medianest:network"] as { attachable: string[] }).attachable;
    for (const r of recorded) {
      const n = await leader().engine.get<{ Name: string; Driver: string; Scope: string; Internal: boolean; Attachable: boolean; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Labels: Record<string, string> }>(`/networks/${refs.networkIds.get(r.id)}`);
      const inputs = r.inputs as { name: string; ipamConfigs: { subnet: string; gateway: string }[] };
      expect([n.Name, n.Driver, n.Scope]).toEqual([inputs.name, "overlay", "swarm"]);
      expect(n.IPAM.Config).toEqual(inputs.ipamConfigs.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway })));
      expect(n.Internal).toBe(r.name === "database-net");
      expect(n.Attachable).toBe(attachable.includes(n.Labels["com.medianest.network"]));
    }
  });

  it("a container only on database-net (internal) cannot reach outside; one on frontend-net can", async () => {
    requireStep("networks");
    requireStep("image");
    const server = http.createServer((_req, res) => res.end("lab-outside-ok"));
    await new Promise<void>((resolve) => server.listen(0, BRIDGE_ADDRESS, resolve));
    try {
      const url = `http://${BRIDGE_ADDRESS}:${(server.address() as AddressInfo).port}/`;
      const probeHost = lab.hosts.find((h) => h.name !== leader().name) as LabHost;
      const outside = await eventually(5, () => probeHost.engine.probe(STANDIN_IMAGE, ["timeout", "5", "wget", "-q", "-O-", url], "frontend-net"));
      expect(outside, "control: frontend-net reaches the runner").toEqual({ code: 0, output: "lab-outside-ok" });
      const internal = await probeHost.engine.probe(STANDIN_IMAGE, ["timeout", "5", "wget", "-q", "-O-", url], "database-net");
      expect(internal.code).not.toBe(0);
      expect(internal.output).not.toContain("lab-outside-ok");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
  it("a container only on frontend-net cannot reach a service task on database-net", async () => {
    requireStep("networks");
    requireStep("image");
    const name = `lab-db-probe-${randomBytes(3).toString("hex")}`;
    const dbNet = refs.networkIds.get("database-net-id") as string;
    const server = await leader().engine.post<{ ID: string }>("/services/create", {
      Name: name,
      TaskTemplate: {
        ContainerSpec: { Image: STANDIN_IMAGE },
        Networks: [{ Target: dbNet }],
        Placement: { Constraints: [`node.hostname == ${leader().name}`] },
        Resources: { Limits: { NanoCPUs: 1e8, MemoryBytes: 32 * 1024 * 1024 } },
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: "dnsrr" },
    });
    try {
      let address = "";
      for (let i = 0; i < 120 && !address; i++) {
        const tasks = await leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [server.ID] }))}`);
        const running = tasks.find((t) => t.Status.State === "running");
        address = running?.NetworksAttachments?.find((a) => a.Network.ID === dbNet)?.Addresses[0]?.split("/")[0] ?? "";
        if (!address) await sleep(500);
      }
      expect(address, "the database-net probe service's task address").toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      // Another node than the task's: the overlay spans hosts.
      const client = lab.hosts.find((h) => h.name !== leader().name) as LabHost;
      const control = await eventually(5, () => client.engine.probe(STANDIN_IMAGE, ["timeout", "5", "wget", "-q", "-O-", `http://tasks.${name}:3000/`], "database-net"));
      expect(control.code, `control: database-net reaches the task (${control.output})`).toBe(0);
      const byAddress = await client.engine.probe(STANDIN_IMAGE, ["timeout", "5", "wget", "-q", "-O-", `http://${address}:3000/`], "frontend-net");
      expect(byAddress.code, byAddress.output).not.toBe(0);
      const byName = await client.engine.probe(STANDIN_IMAGE, ["timeout", "5", "wget", "-q", "-O-", `http://tasks.${name}:3000/`], "frontend-net");
      expect(byName.code, byName.output).not.toBe(0);
    } finally {
      await leader().engine.request("DELETE", `/services/${server.ID}`);
    }
  });
  it("the app services run on the labelled nodes with the declared resources, their env from the env file", async () => {
    requireStep("services");
    const all = await nodes();
    const byId = new Map(all.map((n) => [n.ID, n]));
    const tasksOf = (name: string) => leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name], "desired-state": ["running"] }))}`);
    for (const [name, { spec }] of applied) {
      const service = await leader().engine.get<{ Spec: EngineServiceSpec }>(`/services/${name}`);
      expect(service.Spec.TaskTemplate.Resources).toEqual(spec.TaskTemplate.Resources);
      expect(service.Spec.TaskTemplate.Placement?.Constraints).toEqual(spec.TaskTemplate.Placement?.Constraints);
      expect(service.Spec.EndpointSpec?.Mode).toBe(spec.EndpointSpec.Mode);
      expect(service.Spec.Labels).toEqual(spec.Labels);
      // A declared grace period, never the 0 s the provider sends for an absent one.
      expect(service.Spec.TaskTemplate.ContainerSpec.StopGracePeriod).toBeGreaterThan(0);
      const envFile = (spec.TaskTemplate.ContainerSpec.Configs ?? []).find((c) => c.File.Name === "/run/medianest/env");
      for (const task of await tasksOf(name)) {
        const node = byId.get(task.NodeID ?? "") as SwarmNode;
        expect(node, `${name} task ${task.ID} has a node`).toBeDefined();
        for (const constraint of spec.TaskTemplate.Placement?.Constraints ?? []) expect(satisfiesConstraint(nodeSubject(node), constraint), `${name} on ${node.Description.Hostname}: ${constraint}`).toBe(true);
        expect(task.Spec.Resources).toEqual(spec.TaskTemplate.Resources);
        const host = lab.host(node.Description.Hostname);
        const containerId = task.Status.ContainerStatus?.ContainerID as string;
        const container = await host.engine.get<{ State: { Health?: { Status: string } }; HostConfig: { NanoCpus: number; Memory: number } }>(`/containers/${containerId}/json`);
        const limits = spec.TaskTemplate.Resources?.Limits;
        expect([container.HostConfig.NanoCpus, container.HostConfig.Memory]).toEqual([limits?.NanoCPUs, limits?.MemoryBytes]);
        if (spec.TaskTemplate.ContainerSpec.Healthcheck?.Test?.length) expect(container.State.Health?.Status).toBe("healthy");
        const cg = (controller: string, file: string) => `/sys/fs/cgroup/${controller}/mnlab-${host.name}/${containerId}/${file}`;
        if (existsSync(cg("memory", "memory.limit_in_bytes"))) {
          expect(Number(readFileSync(cg("memory", "memory.limit_in_bytes"), "utf8"))).toBe(limits?.MemoryBytes);
          const quota = Number(readFileSync(cg("cpu", "cpu.cfs_quota_us"), "utf8"));
          const period = Number(readFileSync(cg("cpu", "cpu.cfs_period_us"), "utf8"));
          expect(Math.round((quota / period) * 1e9)).toBe(limits?.NanoCPUs);
        }
        for (const secret of spec.TaskTemplate.ContainerSpec.Secrets ?? []) {
          const read = await host.engine.exec(containerId, ["sh", "-c", `stat -c %a ${secret.File.Name} && cat ${secret.File.Name}`]);
          expect(read.code).toBe(0);
          expect(read.output).toBe(`${secret.File.Mode.toString(8)}\n${secretValues.get(secret.SecretName)}`);
        }
        // The app process (PID 1 after every exec) has the environment of its env file.
        if (envFile) {
          const env = await host.engine.exec(containerId, ["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"]);
          const expected = Buffer.from(String(run.ofType("docker:index/serviceConfig:ServiceConfig").find((c) => refs.configIds.get(c.id) === envFile.ConfigID)?.inputs.data), "base64").toString("utf8");
          for (const line of expected.split("\n").filter((l) => l !== "")) {
            const [key, quoted] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
            expect(env.output.split("\n"), `${name}: ${key} in the app's environment`).toContain(`${key}=${quoted.slice(1, -1).replace(/'\\''/g, "'")}`);
          }
        }
      }
    }
    const placed = async (name: string) => [...new Set((await tasksOf(name)).map((t) => byId.get(t.NodeID ?? "")?.Description.Hostname))].sort();
    const labelled = (key: string) =>
      hostEntries.filter((h) => {
        const v = h.labels?.type;
        return Array.isArray(v) ? v.includes(key) : v === key;
      });
    expect(await placed("medianest-frontend")).toEqual(labelled("compute").filter((h) => h.role === "worker").map((h) => h.name));
    expect(await placed("medianest-backend")).toEqual(labelled("compute").filter((h) => h.role === "worker").map((h) => h.name));
    expect(await placed("medianest-worker")).toEqual(labelled("processing").map((h) => h.name));
  });

  it("images.build: an image built by a node's daemon from a tar context runs as a service by its image ID, read back as declared", async () => {
    requireStep("services");
    // What @pulumi/docker's Image does on the node (ImageBuild with the context as a tar, the
    // Dockerfile inside it, tagged, not pushed), then what the program declares: the image ID.
    const builder = lab.host(hostEntries.find((h) => h.role === "worker")?.name ?? "lab-4");
    const { spawnSync } = await import("node:child_process");
    const { mkdtempSync, mkdirSync, writeFileSync } = await import("node:fs");
    const context = mkdtempSync(path.join(lab.runDir, "build-context-"));
    mkdirSync(path.join(context, "backend"));
    writeFileSync(path.join(context, "backend", "Dockerfile.prod"), `FROM ${STANDIN_IMAGE}\nLABEL com.medianest.lab=local-build\n`);
    const tar = spawnSync("tar", ["--owner=0", "--group=0", "-C", context, "-cf", "-", "."], { maxBuffer: 16 * 1024 * 1024 });
    expect(tar.status).toBe(0);
    const built = await builder.engine.request("POST", `/build?${new URLSearchParams({ t: LOCAL_BUILD_IMAGES.backend, dockerfile: "backend/Dockerfile.prod", pull: "0" })}`, tar.stdout, {
      timeoutMs: 120_000,
      headers: { "Content-Type": "application/x-tar" },
    });
    expect(built.status, built.body.toString("utf8")).toBe(200);
    expect(built.body.toString("utf8")).not.toMatch(/"error"/);
    const id = (await builder.engine.get<{ Id: string }>(`/images/${encodeURIComponent(LOCAL_BUILD_IMAGES.backend)}/json`)).Id;
    expect(id).toMatch(IMAGE_ID);

    const backend = run.ofType("docker:index/service:Service").find((s) => s.name === "medianest-backend") as RecordedResource;
    const translation = serviceSpec(backend.inputs, refs, backend.name);
    const nodeId = runner.nodeIdOf.get(builder.name) as string;
    const spec: EngineServiceSpec = {
      ...translation.spec,
      Name: "lab-local-build",
      Labels: { ...translation.spec.Labels, "traefik.enable": "false" },
      Mode: { Replicated: { Replicas: 1 } },
      TaskTemplate: {
        ...translation.spec.TaskTemplate,
        ContainerSpec: { ...translation.spec.TaskTemplate.ContainerSpec, Image: id },
        // One node has the image: a single-node stack's only node (config rule app-images-source).
        Placement: { ...translation.spec.TaskTemplate.Placement, Constraints: [`node.id == ${nodeId}`] },
      },
    };
    const created = await createServiceLikeProvider(providerEngine, { ...translation, spec }, 120_000);
    try {
      const stored = await leader().engine.get<{ Spec: EngineServiceSpec }>("/services/lab-local-build");
      expect(stored.Spec.TaskTemplate.ContainerSpec.Image, "the engine stores the ID as declared: no diff on the next run").toBe(id);
      const tasks = await leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ["lab-local-build"], "desired-state": ["running"] }))}`);
      expect(tasks.map((t) => t.Status.State)).toEqual(["running"]);
      summary.push(`  images.build: built ${id.slice(0, 19)}… on ${builder.name}; a service on that ID ran in ${created.seconds.toFixed(1)} s, stored image = declared`);
    } finally {
      await leader().engine.request("DELETE", "/services/lab-local-build");
    }
  });

  it("a service that cannot converge at create is deleted again and fails the run, as the provider does", async () => {
    requireStep("services");
    const worker = run.ofType("docker:index/service:Service").find((s) => s.name === "medianest-worker") as RecordedResource;
    const translation = serviceSpec(worker.inputs, refs, worker.name);
    const spec: EngineServiceSpec = {
      ...translation.spec,
      Name: "lab-unplaceable",
      TaskTemplate: { ...translation.spec.TaskTemplate, Placement: { ...translation.spec.TaskTemplate.Placement, Constraints: ["node.labels.type == nowhere"] } },
    };
    const attempt = createServiceLikeProvider(providerEngine, { spec, converge: { delayNs: 1e9, timeoutNs: 8e9 } });
    await expect(attempt).rejects.toThrow(/did not converge after 8s .*deleted, as the provider does/);
    const gone = await leader().engine.request("GET", "/services/lab-unplaceable");
    expect(gone.status).toBe(404);
  });

  it("a delete left behind by a renamed host does nothing; removing a host drains and removes it", async () => {
    requireStep("swarm");
    const host = hostEntries.find((h) => h.role === "manager" && h.name !== leader().name && h.labels?.type === "processing") ?? hostEntries[hostEntries.length - 1];
    const nodeId = runner.nodeIdOf.get(host.name) as string;
    const nodeConfig = commands.find((c) => c.phase === "node-config" && c.name.endsWith(`-${host.name}`)) as RecordedCommand;
    const member = commands.find((c) => c.phase.startsWith("join") && c.name.endsWith(`-${host.name}`)) as RecordedCommand;
    expect(nodeConfig.delete).toBeDefined();
    expect(member.delete).toBeDefined();

    // The host renamed in config: the old resources' deletes find the new owners and stop.
    const renamed = (line: string, from: string, to: string) => {
      const edited = line.replace(new RegExp(` --owner ${from}( |$)`), ` --owner ${to}$1`);
      if (edited === line) throw new Error(`no --owner ${from} in ${line.slice(-200)}`);
      return edited;
    };
    const oldNodeDelete = renamed(nodeConfig.delete as string, nodeConfig.name, `swarm-node-old-${host.name}`);
    const oldMemberDelete = renamed(member.delete as string, member.name, `swarm-member-old-${host.name}`);
    const keptNode = await runner.run(nodeConfig, oldNodeDelete, "");
    expect(keptNode.stdout).toContain(`ok: node ${nodeId} now managed by ${nodeConfig.name}, not swarm-node-old-${host.name}; not removing`);
    const keptMember = await runner.run(member, oldMemberDelete, "");
    expect(keptMember.stdout).toContain(`ok: membership now owned by ${member.name}, not swarm-member-old-${host.name}; not leaving`);
    expect((await nodes()).map((n) => n.ID)).toContain(nodeId);
    expect((await lab.host(host.name).engine.get<{ Swarm: { LocalNodeState: string } }>("/info")).Swarm.LocalNodeState).toBe("active");

    // The host removed from config: its own deletes drain, demote and remove it, then it leaves.
    // Unless it still runs a single-instance stateful task (this host's redis=data label may
    // have drawn redis-master): then the delete refuses until the node is released.
    const attempt = await runner.run(nodeConfig, nodeConfig.delete as string, "").then(
      (result) => ({ result, refusal: undefined }),
      (error: unknown) => ({ result: undefined, refusal: String(error) }),
    );
    let removed = attempt.result;
    if (attempt.refusal !== undefined) {
      expect(attempt.refusal).toMatch(new RegExp(`error: node ${nodeId} still runs [a-z0-9 -]+, whose data is on that host's disk`));
      expect(attempt.refusal).toContain("releaseStateful: true");
      expect((await nodes()).find((n) => n.ID === nodeId)?.Spec.Availability).toBe("active");
      await mustSsh(leader(), `docker node update --label-add com.medianest.release-stateful=true ${nodeId}`);
      removed = await runner.run(nodeConfig, nodeConfig.delete as string, "");
      expect(removed.stdout).toContain(`ok: node ${nodeId} released (com.medianest.release-stateful=true)`);
    }
    if (!removed) throw new Error("unreachable: the removal ran");
    expect(removed.stdout).toContain(`changed: node ${nodeId} drained`);
    if (host.role === "manager") expect(removed.stdout).toContain(`changed: node ${nodeId} demoted`);
    expect(removed.stdout).toContain(`changed: node ${nodeId} removed`);
    const left = await runner.run(member, member.delete as string, "");
    expect(left.stdout).toMatch(/^(changed: left swarm|ok: not in a swarm)/m);
    const remaining = await nodes();
    expect(remaining.map((n) => n.ID)).not.toContain(nodeId);
    expect(remaining).toHaveLength(hostEntries.length - 1);
    expect((await lab.host(host.name).engine.get<{ Swarm: { LocalNodeState: string } }>("/info")).Swarm.LocalNodeState).toBe("inactive");
    if (done.has("services")) {
      const tasks = await leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ "desired-state": ["running"] }))}`);
      expect(tasks.filter((t) => t.NodeID === nodeId)).toEqual([]);
    }
  });
});
