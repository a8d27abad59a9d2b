// Each stack under Pulumi's mocks: exactly its hosts, one init on the leader,
// joins ordered after it, the configured labels, the five overlay networks, and
// secrets that stay secret.
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { mockedRun, isSecretValue, stackFileConfig, testConfig, STACKS, FAKE_SSH_KEY, REPO_ROOT, type MockedRun, type RecordedResource, type StackName } from "./support/mocked-run";
import { parseStdin } from "../scripts/loader";
import { parseScriptCommand } from "../scripts/interfaces";

interface HostEntry {
  name: string;
  address: string;
  role: "manager" | "worker";
  labels?: Record<string, string | string[]>;
}

const hostsOf = (stack: StackName): HostEntry[] => stackFileConfig(stack)["medianest:hosts"] as HostEntry[];
const commandType = (stack: StackName): string => (stack === "local" ? "command:local:Command" : "command:remote:Command");

/** Everything a resource sends to the engine, with secret values removed. */
function plainText(resource: RecordedResource): string {
  return JSON.stringify(resource.rawInputs, (_key, value: unknown) => (isSecretValue(value) ? "[secret]" : value));
}

const runs = new Map<StackName, MockedRun>();
async function runOf(stack: StackName): Promise<MockedRun> {
  let run = runs.get(stack);
  if (!run) {
    run = await mockedRun(stack);
    runs.set(stack, run);
  }
  return run;
}

describe.each(STACKS)("stack %s", (stack) => {
  const hosts = hostsOf(stack);
  const leader = hosts.find((h) => h.role === "manager") as HostEntry;

  it("declares exactly the configured hosts, each prepared by its own scripts in order", async () => {
    const run = await runOf(stack);
    const hostComponents = run.ofType("medianest:host:Host");
    expect(hostComponents.map((h) => h.name).sort()).toEqual(hosts.map((h) => h.name).sort());
    for (const host of hostComponents) {
      const steps = run.ofType(commandType(stack)).filter((c) => c.parent === host.urn);
      expect(steps.length).toBeGreaterThanOrEqual(1);
      // Each step after the first depends on the one before it.
      steps.slice(1).forEach((step, index) => expect(step.dependencies).toContain(steps[index].urn));
    }
    expect(run.ofType(stack === "local" ? "command:remote:Command" : "command:local:Command")).toEqual([]);
  });

  it("runs one swarm init, on the leader, with explicit advertise and listen addresses", async () => {
    const run = await runOf(stack);
    const members = run.ofType(commandType(stack)).filter((r) => r.name.startsWith("swarm-member-"));
    // One membership resource per host, named by the host only: a leader change renames nothing.
    expect(members.map((r) => r.name).sort()).toEqual(hosts.map((h) => `swarm-member-${h.name}`).sort());
    const inits = members.filter((r) => parseStdin(String(r.inputs.stdin)).script === "swarm/init.sh");
    expect(inits.map((r) => r.name)).toEqual([`swarm-member-${leader.name}`]);
    const args = parseScriptCommand("swarm/init.sh", String(inits[0].inputs.create));
    expect([args.owner, args.advertiseAddress, args.listenAddress]).toEqual([`swarm-member-${leader.name}`, leader.address, leader.address]);
    const autolock = (stackFileConfig(stack)["medianest:swarm"] as { autolock?: boolean } | undefined)?.autolock ?? stack === "production";
    expect(args.autolock).toBe(autolock);
    if (stack !== "local") expect((inits[0].inputs.connection as { host: string }).host).toBe(leader.address);
  });

  it("joins every other host after the init, managers one by one before the workers", async () => {
    const run = await runOf(stack);
    const init = run.named(`swarm-member-${leader.name}`);
    const others = hosts.filter((h) => h !== leader);
    const joins = run.resources.filter((r) => r.name.startsWith("swarm-member-") && r !== init);
    expect(joins.map((j) => j.name).sort()).toEqual(others.map((h) => `swarm-member-${h.name}`).sort());
    for (const host of others) {
      const join = run.named(`swarm-member-${host.name}`);
      expect(parseStdin(String(join.inputs.stdin)).script).toBe("swarm/join.sh");
      expect(run.dependsOnTransitively(join, init)).toBe(true);
      const args = parseScriptCommand("swarm/join.sh", String(join.inputs.create));
      expect([args.owner, args.role, args.leaderAddress, args.advertiseAddress]).toEqual([`swarm-member-${host.name}`, host.role, leader.address, host.address]);
      // The delete makes the host leave, for this owner only.
      expect(String(join.inputs.delete)).toMatch(/bash -s -- --owner swarm-member-[A-Za-z0-9-]+$/);
    }
    const managers = others.filter((h) => h.role === "manager").map((h) => run.named(`swarm-member-${h.name}`));
    managers.slice(1).forEach((join, index) => expect(join.dependencies).toContain(managers[index].urn));
    for (const worker of others.filter((h) => h.role === "worker")) {
      const join = run.named(`swarm-member-${worker.name}`);
      for (const manager of managers) expect(join.dependencies).toContain(manager.urn);
    }
  });

  it("applies exactly the configured labels to every node, from the leader", async () => {
    const run = await runOf(stack);
    const multi = new Set(hosts.flatMap((h) => Object.entries(h.labels ?? {}).filter(([, v]) => Array.isArray(v)).map(([k]) => k)));
    for (const host of hosts) {
      const nodeConfig = run.named(`swarm-node-${host.name}`);
      const args = parseScriptCommand("swarm/node-config.sh", String(nodeConfig.inputs.create));
      const expected = Object.entries(host.labels ?? {})
        .flatMap(([k, v]) => (multi.has(k) ? [v].flat().map((item) => `${k}.${item}=true`) : [`${k}=${String(v)}`]))
        .sort();
      expect(args.owner).toBe(`swarm-node-${host.name}`);
      expect([args.role, args.availability]).toEqual([host.role, "active"]);
      expect([...args.labels].sort()).toEqual(expected);
      if (stack !== "local") expect((nodeConfig.inputs.connection as { host: string }).host).toBe(leader.address);
      // Removing a host from config drains and removes it; the leader is never removed that way.
      if (host === leader) expect(nodeConfig.inputs.delete).toBeUndefined();
      else expect(String(nodeConfig.inputs.delete)).toContain(`bash -s -- --owner swarm-node-${host.name} `);
    }
  });

  it("creates the five overlay networks with the spec's subnets, database-net internal", async () => {
    const run = await runOf(stack);
    const networks = run.ofType("docker:index/network:Network");
    // Production, and any stack of more than one host that does not turn it off (the lab does).
    const encrypted = stack === "production" || stack === "cluster";
    expect(
      networks.map((n) => [n.inputs.name, (n.inputs.ipamConfigs as { subnet: string }[])[0].subnet, n.inputs.internal, n.inputs.driver]),
    ).toEqual([
      ["frontend-net", "10.0.1.0/24", false, "overlay"],
      ["backend-net", "10.0.2.0/24", false, "overlay"],
      ["database-net", "10.0.3.0/24", true, "overlay"],
      ["storage-net", "10.0.4.0/24", false, "overlay"],
      ["monitor-net", "10.0.5.0/24", false, "overlay"],
    ]);
    for (const network of networks) {
      expect(network.inputs.options ?? {}).toEqual(encrypted ? { encrypted: "" } : {});
      const attachable = (stackFileConfig(stack)["medianest:network"] as { attachable?: string[] } | undefined)?.attachable ?? [];
      expect(network.inputs.attachable).toBe(attachable.includes(String(network.inputs.name).replace(/-net$/, "")));
      expect(network.provider).toContain("pulumi:providers:docker::leader-docker");
      // After every node is configured, so the swarm exists.
      for (const host of hosts) expect(run.dependsOnTransitively(network, run.named(`swarm-node-${host.name}`))).toBe(true);
    }
  });

  it("points the docker provider at the leader", async () => {
    const run = await runOf(stack);
    const [provider] = run.ofType("pulumi:providers:docker");
    const user = (hosts[0] as { sshUser?: string }).sshUser ?? "root";
    expect(provider.inputs.host).toBe(stack === "local" ? "unix:///var/run/docker.sock" : `ssh://${user}@${leader.address}:22`);
  });

  it("keeps the SSH key, join tokens and unlock key secret", async () => {
    const run = await runOf(stack);
    for (const key of ["workerJoinToken", "managerJoinToken", "swarmUnlockKey"]) expect(run.secretExports).toContain(key);
    for (const resource of run.resources) {
      const text = plainText(resource);
      // The mocks' fake key, tokens and unlock key must only ever travel as secrets.
      expect(text).not.toContain(FAKE_SSH_KEY.split("\n")[1]);
      expect(text).not.toContain("SWMTKN-1-test-");
      expect(text).not.toContain("SWMKEY-1-test-unlock");
    }
    if (stack !== "local") {
      const command = run.named(`${leader.name}-data-dirs`);
      const connection = command.rawInputs.connection as Record<string, unknown>;
      expect(isSecretValue(connection) || isSecretValue(connection.privateKey)).toBe(true);
      expect(JSON.stringify(command.inputs.connection)).toContain(FAKE_SSH_KEY.split("\n")[1]);
    }
    // The join token travels on stdin (a secret), never in the command line or the environment.
    const joins = run.resources.filter((r) => r.name.startsWith("swarm-member-") && parseStdin(String(r.inputs.stdin)).script === "swarm/join.sh");
    expect(joins.length).toBe(hosts.length - 1);
    for (const join of joins) {
      expect(isSecretValue(join.rawInputs.stdin)).toBe(true);
      expect(parseStdin(String(join.inputs.stdin)).secrets.MEDIANEST_JOIN_TOKEN).toMatch(/^SWMTKN-1-test-(manager|worker)$/);
      expect(isSecretValue(join.rawInputs.create)).toBe(false);
      expect(String(join.inputs.create)).not.toContain("SWMTKN");
      expect(join.inputs.environment).toBeUndefined();
    }
    // No command sends its previous (secret) output back as environment.
    for (const command of run.ofType(commandType(stack))) expect(command.inputs.addPreviousOutputInEnv, command.name).toBe(false);
  });

  it("sends the script files themselves: stdin is the file, delete commands embed the file", async () => {
    const run = await runOf(stack);
    const { loadScript, SCRIPT_NAMES } = await import("../scripts/loader");
    const contents = new Map(SCRIPT_NAMES.map((name) => [loadScript(name).content, name]));
    for (const command of run.ofType(commandType(stack))) {
      const { script, secrets } = parseStdin(String(command.inputs.stdin));
      expect(String(command.inputs.stdin).endsWith(loadScript(script).content), `${command.name} stdin ends with the script file`).toBe(true);
      if (Object.keys(secrets).length === 0) expect(contents.has(String(command.inputs.stdin)), `${command.name} stdin is a script file`).toBe(true);
      // A changed script or argument is an update (runs `update` in place); `triggers` would make it a replace.
      expect(command.inputs.update).toEqual(command.inputs.create);
      expect(command.inputs.triggers, `${command.name} has no triggers`).toBeUndefined();
      if (command.inputs.delete !== undefined) {
        const encoded = /printf '%s' '?([A-Za-z0-9+/=]+)'? \| base64 -d/.exec(String(command.inputs.delete))?.[1];
        expect(contents.has(Buffer.from(encoded ?? "", "base64").toString("utf8")), `${command.name} delete embeds a script`).toBe(true);
      }
    }
  });

  it("parents every resource to a MediaNest component", async () => {
    const run = await runOf(stack);
    const components = new Set(run.resources.filter((r) => r.type.startsWith("medianest:")).map((r) => r.urn));
    for (const resource of run.resources.filter((r) => r.name !== "medianest")) {
      expect(components.has(resource.parent), `${resource.type} ${resource.name} has a MediaNest parent`).toBe(true);
    }
  });
});

describe("stack files", () => {
  it("use documentation-range addresses only", () => {
    // The lab's hosts live on the benchmarking range 198.18.0.0/15, created by the lab itself.
    for (const stack of STACKS.filter((s) => s !== "local" && s !== "lab")) {
      for (const host of hostsOf(stack)) expect(host.address).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\./);
    }
  });

  it("production matches the spec's cluster", () => {
    const hosts = hostsOf("production") as (HostEntry & { cpus: number; memoryGb: number })[];
    const summary = hosts.map((h) => [h.role, h.cpus, h.memoryGb, h.labels?.type ?? "-", h.labels?.storage ?? "-"]);
    expect(summary).toEqual([
      ["manager", 4, 8, "-", "-"],
      ["manager", 4, 8, "-", "-"],
      ["manager", 4, 8, "-", "-"],
      ["worker", 8, 16, "compute", "-"],
      ["worker", 8, 16, "compute", "-"],
      ["worker", 8, 32, "processing", "-"],
      ["worker", 4, 16, "database", "ssd"],
    ]);
    expect(new Set(hosts.map((h) => h.labels?.az)).size).toBe(3);
  });

  it("Pulumi.yaml declares a TypeScript nodejs program", () => {
    const project = parse(readFileSync(`${REPO_ROOT}/Pulumi.yaml`, "utf8")) as { name: string; runtime: { name: string; options: { typescript: boolean } } };
    expect(project.name).toBe("medianest");
    expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
  });
});

describe("bad input", () => {
  it("fails before any resource is created, naming the key", async () => {
    const config: Record<string, unknown> = { ...stackFileConfig("production"), "medianest:sshPrivateKey": FAKE_SSH_KEY };
    const hosts = [...(config["medianest:hosts"] as HostEntry[])];
    hosts[4] = { ...hosts[4], address: "192.0.2.999" };
    config["medianest:hosts"] = hosts;
    const failure = mockedRun("production", { config });
    await expect(failure).rejects.toThrow('medianest:hosts[4].address: "192.0.2.999" is not a valid IP address');
    // A RunError: the engine prints its message alone, without the program's stack trace.
    await expect(failure).rejects.toSatisfy((error: unknown) => pulumi.RunError.isInstance(error));
  });

  it("refuses an SSH key that is not a secret", async () => {
    const config = { ...stackFileConfig("homelab"), "medianest:sshPrivateKey": FAKE_SSH_KEY };
    await expect(mockedRun("homelab", { config, secretKeys: [] })).rejects.toThrow("medianest:sshPrivateKey: must be a secret");
  });
});

describe("hosts holding single-instance data", () => {
  it("a node's delete knows the stateful services; a released host's node carries the release label", async () => {
    const config = testConfig("cluster");
    const hosts = (config["medianest:hosts"] as (HostEntry & { releaseStateful?: boolean })[]).map((h, i) => (i === 1 ? { ...h, releaseStateful: true } : h));
    config["medianest:hosts"] = hosts;
    const run = await mockedRun("cluster", { config });
    for (const [index, host] of hosts.entries()) {
      const nodeConfig = run.named(`swarm-node-${host.name}`);
      const labels = parseScriptCommand("swarm/node-config.sh", String(nodeConfig.inputs.create)).labels;
      if (index === 1) expect(labels).toContain("com.medianest.release-stateful=true");
      else expect(labels.some((l) => l.startsWith("com.medianest.release-stateful"))).toBe(false);
      if (nodeConfig.inputs.delete === undefined) continue;
      // The delete embeds its script: `printf … | base64 -d | [sudo -n] bash -s -- …`.
      const removal = parseScriptCommand("swarm/node-remove.sh", String(nodeConfig.inputs.delete).replace(/^.*\| /, ""));
      expect(removal.stateful).toEqual(["postgres-primary", "redis-master", "minio", "prometheus", "alertmanager", "grafana"]);
    }
  });
});
