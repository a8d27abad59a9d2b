// The real test lab: four hosts (Pulumi.lab.yaml) on this machine, each a network
// namespace with its own mount/UTS/PID namespaces running sshd and Debian's dockerd. The
// program's own Host and Swarm commands, as a mocked run of the `lab` stack records them,
// run over real SSH and form the swarm; the recorded networks, secrets, configs and app
// services are applied through the Engine API by strict translators. Needs root; skipped
// (with the reason printed) otherwise, unless REQUIRE_LAB=1. Everything it creates is
// removed afterwards, also on failure and on SIGINT/SIGTERM (test/lab/cleanup.sh).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mockedRun, testConfig, type MockedRun } from "../support/mocked-run";
import { hostAndSwarmCommands, mockPlaceholders, runOverSsh, scriptArgs, substitutePlaceholders, type RecordedCommand, type SshResult } from "./commands";
import { BRIDGE_ADDRESS, Lab, labLeftovers, labUnavailableReason, type LabHost } from "./lab-hosts";
import { networkCreateBody } from "./network-spec";
import { configCreateBody, secretCreateBody, serviceSpec, type EngineServiceSpec, type SwarmRefs } from "./service-spec";
import { STANDIN_IMAGE, buildStandinTar, importStandin } from "./standin-image";

const unavailable = labUnavailableReason();
const required = process.env.REQUIRE_LAB === "1";
if (unavailable && !required) console.log(`test:lab skipped: ${unavailable} (set REQUIRE_LAB=1 to make this an error)`);

const APP_SERVICES = ["medianest-backend", "medianest-frontend", "medianest-worker"];
const COMMAND_TIMEOUT_MS = 240_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

interface HostConfigEntry {
  name: string;
  address: string;
  role: "manager" | "worker";
  labels?: Record<string, unknown>;
}

interface SwarmNode {
  ID: string;
  Spec: { Role: string; Availability: string; Labels: Record<string, string> };
  Description: { Hostname: string };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
}

interface SwarmTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  Slot?: number;
  Spec: { Resources?: EngineServiceSpec["TaskTemplate"]["Resources"] };
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
  NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
}

interface InitResult {
  clusterId: string;
  nodeId: string;
  workerToken: string;
  managerToken: string;
  unlockKey: string;
}

function lastJson<T>(result: SshResult, what: string): T {
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what}: no JSON result line: ${result.stdout}\n${result.stderr}`);
  }
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

/** Does a node satisfy a swarm placement constraint of the forms the program writes (==, !=)? */
function satisfies(node: SwarmNode, constraint: string): boolean {
  const m = /^\s*([A-Za-z0-9._-]+)\s*(==|!=)\s*(.+?)\s*$/.exec(constraint);
  if (!m) throw new Error(`unsupported constraint: ${constraint}`);
  const [, key, op, value] = m;
  let actual: string | undefined;
  if (key === "node.role") actual = node.Spec.Role;
  else if (key === "node.hostname") actual = node.Description.Hostname;
  else if (key === "node.id") actual = node.ID;
  else if (key.startsWith("node.labels.")) actual = node.Spec.Labels[key.slice("node.labels.".length)];
  else throw new Error(`unsupported constraint key: ${constraint}`);
  return op === "==" ? actual === value : actual !== value;
}

describe.runIf(!unavailable || required)("test lab: the program on real sshd + dockerd hosts", () => {
  let lab: Lab;
  const stackConfig = testConfig("lab");
  const hostEntries = stackConfig["medianest:hosts"] as HostConfigEntry[];
  let config: Record<string, unknown> = {};
  let run: MockedRun;
  let commands: RecordedCommand[] = [];
  let placeholders = new Map<string, string>();
  const real = new Map<string, string>();
  const nodeIdOf = new Map<string, string>();
  const done = new Set<string>();
  const networkIds = new Map<string, string>();
  let initResult: InitResult;

  const leader = () => lab.host(hostEntries.find((h) => h.role === "manager")?.name ?? "lab-1");
  const requireStep = (step: string) => {
    if (!done.has(step)) throw new Error(`skipped: the "${step}" step did not complete`);
  };
  const target = (c: RecordedCommand) => ({ address: c.address, user: c.user, port: c.port, keyFile: lab.keyFile });
  const nodes = () => leader().engine.get<SwarmNode[]>("/nodes");

  async function runCommand(c: RecordedCommand, line: string, stdin: string): Promise<SshResult> {
    const result = await runOverSsh(target(c), line, stdin, COMMAND_TIMEOUT_MS);
    if (result.code !== 0) {
      throw new Error(`${c.name} (${c.script}) on ${c.address} exited ${String(result.code)}:\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n${lab.logs(10)}`);
    }
    return result;
  }

  /** Runs a recorded command's create line (placeholders replaced) and records real ids it reports. */
  async function runCreate(c: RecordedCommand): Promise<SshResult> {
    const result = await runCommand(c, substitutePlaceholders(c.create, placeholders, real), c.stdin);
    const host = lab.byAddress(c.address).name;
    if (c.phase === "init") {
      initResult = lastJson<InitResult>(result, c.name);
      real.set("workerToken", initResult.workerToken);
      real.set("managerToken", initResult.managerToken);
      real.set("unlockKey", initResult.unlockKey);
      real.set("clusterId", initResult.clusterId);
      real.set(`nodeId:${host}`, initResult.nodeId);
      nodeIdOf.set(host, initResult.nodeId);
    } else if (c.phase === "join-manager" || c.phase === "join-worker") {
      const { nodeId } = lastJson<{ nodeId: string }>(result, c.name);
      real.set(`nodeId:${host}`, nodeId);
      nodeIdOf.set(host, nodeId);
    }
    return result;
  }

  beforeAll(async () => {
    if (unavailable) throw new Error(`REQUIRE_LAB=1 but the lab cannot run here: ${unavailable}`);
    const started = Date.now();
    lab = await Lab.up(hostEntries.map((h) => ({ name: h.name, address: h.address })));
    console.log(`hosts up: ${seconds(started)} s (${lab.hosts.length} hosts, run ${lab.runId})`);
    config = { ...stackConfig, "medianest:sshPrivateKey": lab.privateKey };
  }, 180_000);

  afterAll(() => {
    if (!lab) return;
    const log = lab.down();
    const left = labLeftovers();
    if (left.length > 0) console.log(log);
    expect(left, "lab leftovers after cleanup").toEqual([]);
  }, 180_000);

  it("each host has its own hostname, private /run, bind-mounted directories, sshd host key and dockerd", async () => {
    const keys = new Set<string>();
    for (const h of lab.hosts) {
      const result = await runOverSsh(
        { address: h.address, user: "root", port: 22, keyFile: lab.keyFile },
        "hostname; cat /etc/ssh/ssh_host_ed25519_key.pub; test -d /run/systemd/system && echo systemd || echo no-systemd; readlink -f /var/run; docker info --format '{{.Name}} {{.Driver}} {{.DockerRootDir}}'; hostname > /etc/medianest/lab-host",
        "",
        30_000,
      );
      expect(result.code, result.stderr).toBe(0);
      const [hostname, hostKey, systemd, varRun, info] = result.stdout.trim().split("\n");
      expect(hostname).toBe(h.name);
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
      const inspect = await h.engine.get<{ Config: { Cmd: string[] } }>(`/images/${STANDIN_IMAGE}/json`);
      expect(inspect.Config.Cmd.join(" ")).toContain("httpd");
    }
    console.log(`image loaded: ${seconds(started)} s (${image.cached ? "cached" : "built"} ${image.tar})`);
    done.add("image");
  });

  it("forms the swarm with the program's own Host and Swarm commands over SSH, in component order", async () => {
    requireStep("hosts");
    const started = Date.now();
    run = await mockedRun("lab", { config });
    commands = hostAndSwarmCommands(run);
    placeholders = mockPlaceholders(run);
    expect(commands.map((c) => c.phase)).toEqual([
      ...Array(hostEntries.length * 2).fill("host"),
      "init",
      ...Array(hostEntries.filter((h) => h.role === "manager").length - 1).fill("join-manager"),
      ...Array(hostEntries.filter((h) => h.role === "worker").length).fill("join-worker"),
      ...Array(hostEntries.length).fill("node-config"),
    ]);
    for (const c of commands) {
      expect([c.user, c.port, c.privateKey]).toEqual(["root", 22, lab.privateKey]);
      lab.byAddress(c.address);
    }
    for (const c of commands) await runCreate(c);

    // The host steps did what their arguments say: data directories with exact modes and
    // owners, and the firewall chains hooked in first.
    for (const c of commands.filter((x) => x.phase === "host")) {
      const args = scriptArgs(c.create);
      const t = target(c);
      if (c.script === "host/data-dirs.sh") {
        const specs = args.map((a) => a.split(":"));
        const stat = await runOverSsh(t, `stat -c '%n:%a:%u:%g' ${specs.map(([p]) => p).join(" ")}`, "", 30_000);
        expect(stat.stdout.trim().split("\n"), `${c.name}`).toEqual(specs.map(([p, mode, owner, group]) => `${p}:${Number.parseInt(mode, 8).toString(8)}:${owner}:${group}`));
      } else if (c.script === "host/firewall.sh") {
        const rules = await runOverSsh(t, "iptables -S INPUT 1; iptables -S DOCKER-USER 1; iptables -S MEDIANEST-SWARM | grep -c -- '-j ACCEPT'", "", 30_000);
        const peers = (args[args.indexOf("--peers") + 1] ?? "").split(",");
        const perPeer = args[args.indexOf("--role") + 1] === "manager" ? 4 : 3;
        expect(rules.stdout.trim().split("\n"), `${c.name}`).toEqual(["-A INPUT -j MEDIANEST-SWARM", "-A DOCKER-USER -j MEDIANEST-PUBLISHED", String(peers.length * perPeer)]);
      } else {
        throw new Error(`${c.name}: no check for ${c.script}`);
      }
    }

    // All nodes Ready, the configured roles, labels exactly as the node-config commands set them.
    const all = await nodes();
    expect(all).toHaveLength(hostEntries.length);
    for (const n of all) expect([n.Description.Hostname, n.Status.State, n.Spec.Availability]).toEqual([n.Description.Hostname, "ready", "active"]);
    const managers = all.filter((n) => n.Spec.Role === "manager").map((n) => n.Description.Hostname).sort();
    const workers = all.filter((n) => n.Spec.Role === "worker").map((n) => n.Description.Hostname).sort();
    expect(managers).toEqual(hostEntries.filter((h) => h.role === "manager").map((h) => h.name).sort());
    expect(workers).toEqual(hostEntries.filter((h) => h.role === "worker").map((h) => h.name).sort());
    for (const c of commands.filter((x) => x.phase === "node-config")) {
      const [nodeId, role, availability, ...labels] = scriptArgs(substitutePlaceholders(c.create, placeholders, real));
      const node = all.find((n) => n.ID === nodeId);
      expect(node, `${c.name}: node ${nodeId}`).toBeDefined();
      expect(node?.Spec.Role).toBe(role);
      expect(node?.Spec.Availability).toBe(availability);
      expect(node?.Spec.Labels).toEqual(labelArgs(labels));
      expect(nodeIdOf.get(node?.Description.Hostname ?? "")).toBe(nodeId);
    }
    // Addresses as configured: advertise, listen (managers on :2377).
    for (const h of hostEntries) {
      const node = all.find((n) => n.ID === nodeIdOf.get(h.name));
      expect(node?.Status.Addr).toBe(h.address);
      if (h.role === "manager") expect(node?.ManagerStatus?.Addr).toBe(`${h.address}:2377`);
      const info = await lab.host(h.name).engine.get<{ Swarm: { NodeAddr: string; LocalNodeState: string; Cluster?: { ID: string } } }>("/info");
      expect([info.Swarm.NodeAddr, info.Swarm.LocalNodeState]).toEqual([h.address, "active"]);
    }
    expect(all.find((n) => n.ManagerStatus?.Leader)?.Description.Hostname).toBe(leader().name);
    // Autolock as configured, with the unlock key init.sh reported.
    const swarm = await leader().engine.get<{ ID: string; Spec: { EncryptionConfig: { AutoLockManagers: boolean } } }>("/swarm");
    expect(swarm.ID).toBe(initResult.clusterId);
    const autolock = (stackConfig["medianest:swarm"] as { autolock?: boolean } | undefined)?.autolock ?? stackConfig["medianest:environment"] === "production";
    expect(swarm.Spec.EncryptionConfig.AutoLockManagers).toBe(autolock);
    expect((await leader().engine.get<{ UnlockKey: string }>("/swarm/unlockkey")).UnlockKey).toBe(initResult.unlockKey);
    const viaCli = await runOverSsh({ address: leader().address, user: "root", port: 22, keyFile: lab.keyFile }, "docker swarm unlock-key -q", "", 30_000);
    expect(viaCli.stdout.trim()).toBe(initResult.unlockKey);
    // The docker provider reaches the leader's engine the same way: ssh + `docker system dial-stdio`.
    const dial = await runOverSsh({ address: leader().address, user: "root", port: 22, keyFile: lab.keyFile }, "docker system dial-stdio", "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n", 30_000);
    expect(dial.stdout).toMatch(/^HTTP\/1\.[01] 200 OK[\s\S]*\r\n\r\nOK$/);
    console.log(`swarm formed: ${seconds(started)} s (${commands.length} commands)`);
    done.add("swarm");
  });

  it("running every command a second time changes nothing", async () => {
    requireStep("swarm");
    const before = { ...initResult };
    const ids = new Map(nodeIdOf);
    for (const c of commands) {
      const result = await runCreate(c);
      const changed = `${result.stdout}\n${result.stderr}`.split("\n").filter((l) => l.startsWith("changed:"));
      expect(changed, `${c.name} changed something on its second run`).toEqual([]);
    }
    expect(initResult).toEqual(before);
    expect(nodeIdOf).toEqual(ids);
  });

  it("removing a label from config removes it from the node (and adding it back restores it)", async () => {
    requireStep("swarm");
    const host = hostEntries.find((h) => h.labels && "az" in h.labels && h.role === "manager" && h.name !== leader().name) as HostConfigEntry;
    const changedHosts = structuredClone(hostEntries).map((h) => {
      if (h.name === host.name) delete h.labels?.az;
      return h;
    });
    const changedRun = await mockedRun("lab", { config: { ...config, "medianest:hosts": changedHosts } });
    const nodeConfig = (cs: RecordedCommand[]) => cs.find((c) => c.phase === "node-config" && c.name.endsWith(`-${host.name}`)) as RecordedCommand;
    const before = nodeConfig(commands);
    const after = nodeConfig(hostAndSwarmCommands(changedRun));
    expect(after.create).not.toBe(before.create);
    const nodeId = nodeIdOf.get(host.name) as string;

    const removed = await runCommand(after, substitutePlaceholders(after.create, placeholders, real), after.stdin);
    expect(removed.stdout).toContain(`changed: node ${nodeId} label az removed`);
    const [, , , ...labels] = scriptArgs(substitutePlaceholders(after.create, placeholders, real));
    const node = (await nodes()).find((n) => n.ID === nodeId);
    expect(node?.Spec.Labels).toEqual(labelArgs(labels));
    expect(node?.Spec.Labels).not.toHaveProperty("az");

    const restored = await runCommand(before, substitutePlaceholders(before.create, placeholders, real), before.stdin);
    expect(restored.stdout).toContain(`changed: node ${nodeId} label az=${String(host.labels?.az)}`);
    expect((await nodes()).find((n) => n.ID === nodeId)?.Spec.Labels.az).toBe(String(host.labels?.az));
  });

  it("creates the five overlay networks of the mocked run with the planned subnets", async () => {
    requireStep("swarm");
    const recorded = run.ofType("docker:index/network:Network");
    expect(recorded).toHaveLength(5);
    const exported = run.exports.networkIds as Record<string, string>;
    for (const r of recorded) {
      const body = networkCreateBody(r.inputs, r.name);
      const created = await leader().engine.post<{ Id: string }>("/networks/create", body);
      networkIds.set(`${r.name}-id`, created.Id);
    }
    expect(new Set(Object.values(exported))).toEqual(new Set(networkIds.keys()));
    const attachable = (stackConfig["medianest:network"] as { attachable: string[] }).attachable;
    for (const r of recorded) {
      const n = await leader().engine.get<{
        Name: string;
        Driver: string;
        Scope: string;
        Internal: boolean;
        Attachable: boolean;
        IPAM: { Config: { Subnet: string; Gateway: string }[] };
        Labels: Record<string, string>;
      }>(`/networks/${networkIds.get(`${r.name}-id`)}`);
      const inputs = r.inputs as { name: string; internal: boolean; attachable: boolean; ipamConfigs: { subnet: string; gateway: string }[] };
      expect([n.Name, n.Driver, n.Scope]).toEqual([inputs.name, "overlay", "swarm"]);
      expect(n.IPAM.Config).toEqual(inputs.ipamConfigs.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway })));
      expect(n.Internal).toBe(r.name === "database-net");
      expect(n.Attachable).toBe(attachable.includes(n.Labels["com.medianest.network"]));
    }
    done.add("networks");
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
    const dbNet = networkIds.get("database-net-id") as string;
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

  it("applies the app services through the strict translator: they converge on the labelled nodes with the declared resources", async () => {
    requireStep("networks");
    requireStep("image");
    const started = Date.now();
    const refs: SwarmRefs & { [K in keyof SwarmRefs]: Map<string, string> } = {
      networkIds,
      secretIds: new Map(),
      secretNames: new Map(),
      configIds: new Map(),
      configNames: new Map(),
    };
    const secretValues = new Map<string, string>();
    for (const s of run.ofType("docker:index/secret:Secret")) {
      const body = secretCreateBody(s.inputs, `${s.name}-${randomBytes(4).toString("hex").slice(0, 7)}`, s.name);
      const created = await leader().engine.post<{ ID: string }>("/secrets/create", body);
      refs.secretIds.set(`${s.name}-id`, created.ID);
      refs.secretNames.set(String(s.inputs.name ?? `${s.name}-mock`), body.Name);
      secretValues.set(body.Name, Buffer.from(body.Data, "base64").toString("utf8"));
    }
    for (const c of run.ofType("docker:index/serviceConfig:ServiceConfig")) {
      const body = configCreateBody(c.inputs, c.name);
      const created = await leader().engine.post<{ ID: string }>("/configs/create", body);
      refs.configIds.set(`${c.name}-id`, created.ID);
      refs.configNames.set(body.Name, body.Name);
    }

    const recorded = run.ofType("docker:index/service:Service").filter((s) => APP_SERVICES.includes(s.name));
    expect(recorded.map((s) => s.name).sort()).toEqual([...APP_SERVICES].sort());
    const specs = new Map<string, EngineServiceSpec>();
    let waitMs = 0;
    for (const s of recorded) {
      const { spec, converge } = serviceSpec(s.inputs, refs, s.name);
      await leader().engine.post("/services/create", spec);
      specs.set(spec.Name, spec);
      waitMs = Math.max(waitMs, converge ? converge.timeoutNs / 1e6 : 180_000);
    }

    // Bounded wait (the provider's convergeConfig timeout, at most 4 minutes here).
    const deadline = Date.now() + Math.min(waitMs, 240_000);
    const tasksOf = (name: string) => leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name], "desired-state": ["running"] }))}`);
    let pending: string[] = [...specs.keys()];
    let lastState = "";
    for (let i = 0; i < 400 && pending.length > 0 && Date.now() < deadline; i++) {
      const next: string[] = [];
      const states: string[] = [];
      for (const name of pending) {
        const spec = specs.get(name) as EngineServiceSpec;
        const want = "Replicated" in spec.Mode ? spec.Mode.Replicated.Replicas : 0;
        const tasks = await tasksOf(name);
        states.push(`${name}: ${tasks.map((t) => `${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ""}`).join(", ") || "no tasks"}`);
        if (!(tasks.length === want && tasks.every((t) => t.Status.State === "running"))) next.push(name);
      }
      pending = next;
      lastState = states.join("; ");
      if (pending.length > 0) await sleep(1_000);
    }
    expect(pending, `services not converged: ${lastState}\n${lab.logs(10)}`).toEqual([]);
    console.log(`services converged: ${seconds(started)} s (${[...specs.keys()].join(", ")})`);

    const all = await nodes();
    const byId = new Map(all.map((n) => [n.ID, n]));
    for (const [name, spec] of specs) {
      // The engine stored what the translator sent.
      const service = await leader().engine.get<{ Spec: EngineServiceSpec }>(`/services/${name}`);
      expect(service.Spec.TaskTemplate.Resources).toEqual(spec.TaskTemplate.Resources);
      expect(service.Spec.TaskTemplate.Placement?.Constraints).toEqual(spec.TaskTemplate.Placement?.Constraints);
      expect(service.Spec.EndpointSpec?.Mode).toBe(spec.EndpointSpec.Mode);
      expect(service.Spec.Labels).toEqual(spec.Labels);

      for (const task of await tasksOf(name)) {
        // Placement: on a node that satisfies every constraint the program declared.
        const node = byId.get(task.NodeID ?? "") as SwarmNode;
        expect(node, `${name} task ${task.ID} has a node`).toBeDefined();
        for (const constraint of spec.TaskTemplate.Placement?.Constraints ?? []) expect(satisfies(node, constraint), `${name} on ${node.Description.Hostname}: ${constraint}`).toBe(true);
        // The task carries the declared limits and reservations (reservations are what the
        // scheduler books on the node) ...
        expect(task.Spec.Resources).toEqual(spec.TaskTemplate.Resources);
        // ... its container runs with the declared limits ...
        const host = lab.host(node.Description.Hostname);
        const containerId = task.Status.ContainerStatus?.ContainerID as string;
        const container = await host.engine.get<{ State: { Health?: { Status: string } }; HostConfig: { NanoCpus: number; Memory: number } }>(`/containers/${containerId}/json`);
        const limits = spec.TaskTemplate.Resources?.Limits;
        expect([container.HostConfig.NanoCpus, container.HostConfig.Memory]).toEqual([limits?.NanoCPUs, limits?.MemoryBytes]);
        if (spec.TaskTemplate.ContainerSpec.Healthcheck) expect(container.State.Health?.Status).toBe("healthy");
        // ... and the kernel enforces them (cgroup v1 hierarchies are shared with the lab hosts).
        const cg = (controller: string, file: string) => `/sys/fs/cgroup/${controller}/mnlab-${host.name}/${containerId}/${file}`;
        if (existsSync(cg("memory", "memory.limit_in_bytes"))) {
          expect(Number(readFileSync(cg("memory", "memory.limit_in_bytes"), "utf8"))).toBe(limits?.MemoryBytes);
          const quota = Number(readFileSync(cg("cpu", "cpu.cfs_quota_us"), "utf8"));
          const period = Number(readFileSync(cg("cpu", "cpu.cfs_period_us"), "utf8"));
          expect(Math.round((quota / period) * 1e9)).toBe(limits?.NanoCPUs);
        }
        // Secrets arrive as files with the recorded content and mode.
        for (const secret of spec.TaskTemplate.ContainerSpec.Secrets ?? []) {
          const read = await host.engine.exec(containerId, ["sh", "-c", `stat -c %a ${secret.File.Name} && cat ${secret.File.Name}`]);
          expect(read.code).toBe(0);
          expect(read.output).toBe(`${secret.File.Mode.toString(8)}\n${secretValues.get(secret.SecretName)}`);
        }
      }
    }
    // Where the lab stack's labels put them: frontend/backend on the compute worker, workers on the processing node.
    const placed = async (name: string) => [...new Set((await tasksOf(name)).map((t) => byId.get(t.NodeID ?? "")?.Description.Hostname))].sort();
    const labelled = (key: string) => hostEntries.filter((h) => {
      const v = h.labels?.type;
      return Array.isArray(v) ? v.includes(key) : v === key;
    });
    expect(await placed("medianest-frontend")).toEqual(labelled("compute").filter((h) => h.role === "worker").map((h) => h.name));
    expect(await placed("medianest-backend")).toEqual(labelled("compute").filter((h) => h.role === "worker").map((h) => h.name));
    expect(await placed("medianest-worker")).toEqual(labelled("processing").map((h) => h.name));
    const frontend = await leader().engine.get<{ Spec: EngineServiceSpec }>("/services/medianest-frontend");
    console.log(`frontend placement preferences as stored by the engine: ${JSON.stringify(frontend.Spec.TaskTemplate.Placement?.Preferences ?? [])}`);
    done.add("services");
  });

  it("removing a host drains and removes it (its node-config's delete: node-remove.sh, then its join's delete: leave.sh)", async () => {
    requireStep("swarm");
    // The processing manager: removal demotes it, and (after the services step) drains a task.
    const host = hostEntries.find((h) => h.role === "manager" && h.name !== leader().name && (h.labels?.type === "processing")) ?? hostEntries[hostEntries.length - 1];
    const nodeId = nodeIdOf.get(host.name) as string;
    const nodeConfig = commands.find((c) => c.phase === "node-config" && c.name.endsWith(`-${host.name}`)) as RecordedCommand;
    const join = commands.find((c) => c.phase.startsWith("join") && c.name.endsWith(`-${host.name}`)) as RecordedCommand;
    expect(nodeConfig.delete).toBeDefined();
    expect(join.delete).toBeDefined();

    const removed = await runCommand(nodeConfig, substitutePlaceholders(nodeConfig.delete as string, placeholders, real), "");
    expect(removed.stdout).toContain(`changed: node ${nodeId} drained`);
    if (host.role === "manager") expect(removed.stdout).toContain(`changed: node ${nodeId} demoted`);
    expect(removed.stdout).toContain(`changed: node ${nodeId} removed`);
    const left = await runCommand(join, substitutePlaceholders(join.delete as string, placeholders, real), "");
    expect(left.stdout).toMatch(/^(changed: left swarm|ok: not in a swarm)/m);

    const remaining = await nodes();
    expect(remaining.map((n) => n.ID)).not.toContain(nodeId);
    expect(remaining).toHaveLength(hostEntries.length - 1);
    const info = await lab.host(host.name).engine.get<{ Swarm: { LocalNodeState: string } }>("/info");
    expect(info.Swarm.LocalNodeState).toBe("inactive");
    if (done.has("services")) {
      const tasks = await leader().engine.get<SwarmTask[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ "desired-state": ["running"] }))}`);
      expect(tasks.filter((t) => t.NodeID === nodeId)).toEqual([]);
    }
  });
});
