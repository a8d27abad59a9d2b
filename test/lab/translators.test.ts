// The lab's pure parts, without root: the strict translators (against every service,
// network, secret and config of every sample stack), the placeholder substitution, the
// component order of the recorded commands, and the stand-in image's `node` shim.
import { spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STACKS, mockedRun, testConfig, type MockedRun } from "../support/mocked-run";
import { hostAndSwarmCommands, mockPlaceholders, realInvocation, shellWords, substitutePlaceholders, type RecordedCommand } from "./commands";
import { parseScriptCommand } from "../../scripts/interfaces";
import { hostBindTargets } from "./lab-hosts";
import { networkCreateBody } from "./network-spec";
import { configCreateBody, isSwarmSpreadDescriptor, secretCreateBody, serviceSpec, stubRefs } from "./service-spec";
import { UnmappedFieldError, goDurationNs } from "./strict";
import { parseDebianMirror } from "./data-image";
import { replayInEngineOrder } from "./engine-order";
import { diffPaths } from "./lab-swarm";
import { STANDIN_IMAGE, STANDIN_NO_HEALTH, STANDIN_V2 } from "./standin-image";
import { MONITORING_IMAGES, REDIS_EXPORTER_IMAGE } from "./monitoring-image";
import { MONITORING } from "./data/monitoring";
import { validatedStackConfig } from "../support/stack-config";

const refsFor = stubRefs;

function dockerService(run: MockedRun, name: string) {
  const found = run.ofType("docker:index/service:Service").find((r) => r.name === name);
  if (!found) throw new Error(`no docker service ${name}`);
  return found;
}

describe("lab translators", () => {
  const runs = new Map<string, MockedRun>();
  beforeAll(async () => {
    for (const stack of STACKS) runs.set(stack, await mockedRun(stack, { config: testConfig(stack) }));
  }, 120_000);

  it.each([...STACKS])("maps every service, network, secret and config input of the %s stack", (stack) => {
    const run = runs.get(stack) as MockedRun;
    const refs = refsFor(run);
    const services = run.ofType("docker:index/service:Service");
    expect(services.length).toBeGreaterThan(0);
    for (const s of services) {
      const { spec } = serviceSpec(s.inputs, refs, s.name);
      expect(spec.Name).toBe(s.inputs.name);
      for (const n of spec.TaskTemplate.Networks ?? []) expect(n.Target).toMatch(/^real-/);
      for (const sec of spec.TaskTemplate.ContainerSpec.Secrets ?? []) expect([sec.SecretID, sec.SecretName]).toEqual([expect.stringMatching(/^real-/), expect.stringMatching(/^real-name-/)]);
      // Every service declares limits and reservations (SwarmService enforces it).
      expect(spec.TaskTemplate.Resources?.Limits?.NanoCPUs).toBeGreaterThan(0);
      expect(spec.TaskTemplate.Resources?.Reservations?.MemoryBytes).toBeGreaterThan(0);
    }
    for (const n of run.ofType("docker:index/network:Network")) expect(networkCreateBody(n.inputs, n.name).Driver).toBe("overlay");
    for (const s of run.ofType("docker:index/secret:Secret")) expect(secretCreateBody(s.inputs, `${s.name}-auto`, s.name).Name).toBe(`${s.name}-auto`);
    for (const c of run.ofType("docker:index/serviceConfig:ServiceConfig")) expect(configCreateBody(c.inputs, c.name).Name).toBe(c.inputs.name);
  });

  it("translates the lab backend field by field", () => {
    const run = runs.get("lab") as MockedRun;
    const backend = dockerService(run, "medianest-backend");
    type Inputs = {
      taskSpec: { resources: { limits: { nanoCpus: number; memoryBytes: number }; reservation: { nanoCpus: number; memoryBytes: number } }; placement: { constraints: string[] } };
      mode: { replicated: { replicas: number } };
    };
    const inputs = backend.inputs as unknown as Inputs;
    const { spec, converge } = serviceSpec(backend.inputs, refsFor(run), "medianest-backend");
    expect(spec.Mode).toEqual({ Replicated: { Replicas: inputs.mode.replicated.replicas } });
    expect(spec.EndpointSpec).toEqual({ Mode: "dnsrr", Ports: [] });
    const { limits, reservation } = inputs.taskSpec.resources;
    expect(spec.TaskTemplate.Resources).toEqual({
      Limits: { NanoCPUs: limits.nanoCpus, MemoryBytes: limits.memoryBytes },
      Reservations: { NanoCPUs: reservation.nanoCpus, MemoryBytes: reservation.memoryBytes },
    });
    expect(spec.TaskTemplate.Placement?.Constraints).toEqual(inputs.taskSpec.placement.constraints);
    expect(spec.TaskTemplate.Networks?.map((n) => n.Target)).toEqual(["real-frontend-net", "real-backend-net", "real-database-net"]);
    expect(spec.TaskTemplate.ContainerSpec.Healthcheck).toMatchObject({ Interval: 10e9, Timeout: 5e9, StartPeriod: 30e9, Retries: 3 });
    // The image's user owns its secret files (domain/app-contract.ts uid 1001), read-only to it.
    expect(spec.TaskTemplate.ContainerSpec.Secrets?.[0].File).toEqual({ Name: "/run/secrets/database_url", UID: "1001", GID: "1001", Mode: 0o400 });
    expect(spec.TaskTemplate.RestartPolicy).toEqual({ Condition: "any", Delay: 5e9, MaxAttempts: 0, Window: 120e9 });
    expect(spec.UpdateConfig).toEqual({ Parallelism: 1, Delay: 5e9, FailureAction: "rollback", Monitor: 30e9, MaxFailureRatio: 0, Order: "start-first" });
    expect(spec.Labels["com.medianest.role"]).toBe("backend");
    expect(converge).toEqual({ delayNs: 7e9, timeoutNs: 300e9 });
  });

  it("fails on any input field it does not map, and on unknown references", () => {
    const run = runs.get("lab") as MockedRun;
    const refs = refsFor(run);
    type Editable = Record<string, unknown> & { taskSpec: Record<string, unknown> & { containerSpec: Record<string, unknown> } };
    const inputs = structuredClone(dockerService(run, "medianest-worker").inputs) as Editable;
    inputs.taskSpec.containerSpec.privileges = { seLinuxContext: { disable: true } };
    inputs.auth = { serverAddress: "registry.example" };
    expect(() => serviceSpec(inputs, refs)).toThrow(UnmappedFieldError);
    expect(() => serviceSpec(inputs, refs)).toThrow(/service\.taskSpec\.containerSpec\.privileges.*service\.auth|service\.auth.*privileges/);
    const network = { ...run.named("frontend-net").inputs, scope: "swarm" };
    expect(() => networkCreateBody(network)).toThrow(/network\.scope/);
    const unknown = structuredClone(dockerService(run, "medianest-worker").inputs) as Editable;
    unknown.taskSpec.networksAdvanceds = [{ name: "no-such-net-id" }];
    expect(() => serviceSpec(unknown, refs)).toThrow(/network id "no-such-net-id" is not one the lab created/);
    expect(() => secretCreateBody({ data: "not base64!" }, "x")).toThrow(/base64/);
  });

  // The docker provider passes each `prefs` string verbatim as the SpreadDescriptor
  // (terraform-provider-docker stringSetToPlacementPrefs), and swarmkit only understands
  // "node.labels.<key>" / "engine.labels.<key>". The lab found the program sending
  // "spread=node.labels.az" (spread silently ignored); this guards the fix.
  it("placement preferences reach swarm as spread descriptors it understands", () => {
    for (const stack of STACKS) {
      const run = runs.get(stack) as MockedRun;
      for (const s of run.ofType("docker:index/service:Service")) {
        const { spec } = serviceSpec(s.inputs, refsFor(run), s.name);
        for (const pref of spec.TaskTemplate.Placement?.Preferences ?? []) expect(isSwarmSpreadDescriptor(pref.Spread.SpreadDescriptor), `${stack}/${s.name}: ${pref.Spread.SpreadDescriptor}`).toBe(true);
      }
    }
  });

  it("parses Go durations like the provider", () => {
    expect(goDurationNs("10s", "x")).toBe(10e9);
    expect(goDurationNs("1m30s", "x")).toBe(90e9);
    expect(goDurationNs("500ms", "x")).toBe(5e8);
    expect(goDurationNs("0s", "x")).toBe(0);
    expect(() => goDurationNs("10", "x")).toThrow(/Go duration/);
    expect(() => goDurationNs("5 m", "x")).toThrow(/Go duration/);
  });

  it("orders the recorded Host and Swarm commands by component and checks their dependencies", () => {
    const commands = hostAndSwarmCommands(runs.get("lab") as MockedRun);
    const hostSteps = commands.filter((c) => c.phase === "host").map((c) => c.name).sort();
    expect(hostSteps).toEqual(
      [
        ...["lab-1", "lab-2", "lab-3", "lab-4"].flatMap((h) => [`${h}-data-dirs`, `${h}-firewall`]),
        // The managers' sshd multiplexes the docker provider's API calls.
        ...["lab-1", "lab-2", "lab-3"].map((h) => `${h}-sshd-sessions`),
      ].sort(),
    );
    expect(commands.filter((c) => c.phase !== "host").map((c) => c.name)).toEqual([
      "swarm-member-lab-1", "swarm-member-lab-2", "swarm-member-lab-3", "swarm-member-lab-4",
      "swarm-node-lab-1", "swarm-node-lab-2", "swarm-node-lab-3", "swarm-node-lab-4",
    ]);
    expect(commands.map((c) => c.phase)).toEqual([...Array(11).fill("host"), "init", "join-manager", "join-manager", "join-worker", ...Array(4).fill("node-config")]);
    expect(parseScriptCommand("swarm/init.sh", commands[11].create)).toEqual({ owner: "swarm-member-lab-1", advertiseAddress: "198.18.0.11", listenAddress: "198.18.0.11", autolock: true });
    expect(commands.filter((c) => c.phase === "node-config").every((c) => c.address === "198.18.0.11")).toBe(true);
  });

  it("substitutes the mocked run's placeholders with real values and fails on leftovers", () => {
    const run = runs.get("lab") as MockedRun;
    const placeholders = mockPlaceholders(run);
    expect(placeholders.get("clusterId")).toBe("cluster-0001");
    expect(placeholders.get("nodeId:lab-2")).toBe("node-swarm-member-lab-2");
    const commands = hostAndSwarmCommands(run);
    const join = commands.find((c) => c.name === "swarm-member-lab-4") as RecordedCommand;
    const real = new Map([
      ["workerToken", "SWMTKN-1-realworker"],
      ["managerToken", "SWMTKN-1-realmanager"],
      ["clusterId", "abc123"],
      ["unlockKey", "SWMKEY-1-real"],
      ["nodeId:lab-1", "n1"],
      ["nodeId:lab-2", "n2"],
      ["nodeId:lab-3", "n3"],
      ["nodeId:lab-4", "n4"],
    ]);
    // The token goes into stdin (ahead of the script), never into the command line.
    const invocation = realInvocation(join, join.create, placeholders, real);
    expect(invocation.line).toBe("bash -s -- --owner swarm-member-lab-4 --role worker --leader-addr 198.18.0.11 --advertise-addr 198.18.0.14 --listen-addr 198.18.0.14 --cluster-id abc123");
    expect(invocation.stdin.startsWith("MEDIANEST_JOIN_TOKEN='SWMTKN-1-realworker'\n#!/usr/bin/env bash\n")).toBe(true);
    const remove = commands.find((c) => c.name === "swarm-node-lab-2")?.delete ?? "";
    expect(substitutePlaceholders(remove, placeholders, real)).toMatch(/ \| base64 -d \| bash -s -- --owner swarm-node-lab-2 --node-id n2 --drain-timeout 300 --stateful postgres-primary --stateful postgres-replica-1 --stateful postgres-replica-2 --stateful redis-master --stateful prometheus --stateful alertmanager --stateful grafana$/);
    // Whole tokens only; a placeholder without a real value, or one left behind, fails.
    expect(substitutePlaceholders("x n-2x n-2", new Map([["a", "n-2"]]), new Map([["a", "real"]]))).toBe("x n-2x real");
    expect(() => substitutePlaceholders("bash -s -- cluster-0001", placeholders, new Map())).toThrow(/no real value for placeholder clusterId/);
    expect(() => substitutePlaceholders("bash -s -- SWMTKN-1-test-other", placeholders, real)).toThrow(/mock placeholder left/);
  });

  it("replays the graph in engine order: dependencies first, independent steps at once, a forgotten dependency fails", async () => {
    const run = runs.get("lab") as MockedRun;
    const replayWith = async (graph: MockedRun) => {
      const commands = hostAndSwarmCommands(graph);
      const placeholders = mockPlaceholders(graph);
      const real = new Map<string, string>([["workerToken", "SWMTKN-1-w"], ["managerToken", "SWMTKN-1-m"], ["unlockKey", "k"]]);
      let concurrent = 0;
      let peak = 0;
      const steps = await replayInEngineOrder(graph, async (r) => {
        const c = commands.find((x) => x.resource.urn === r.urn);
        if (!c) return "skipped";
        concurrent++;
        peak = Math.max(peak, concurrent);
        try {
          // What a real run needs: the values earlier steps reported.
          realInvocation(c, c.create, placeholders, real);
          await new Promise((resolve) => setTimeout(resolve, 5));
          const host = c.address.split(".").pop() as string;
          if (c.phase === "init") real.set("clusterId", "c1");
          if (c.phase === "init" || c.phase.startsWith("join")) real.set(`nodeId:lab-${Number(host) - 10}`, `n${host}`);
          return "done";
        } finally {
          concurrent--;
        }
      });
      return { steps, peak };
    };
    const { steps, peak } = await replayWith(run);
    expect(steps.filter((s) => s.outcome === "done")).toHaveLength(hostAndSwarmCommands(run).length);
    // The hosts are prepared at the same time, not one after another.
    expect(peak).toBeGreaterThan(1);
    // node-config without its dependency on the join: it runs before the node id exists.
    const forgetful = {
      ...run,
      resources: run.resources.map((r) => (r.name === "swarm-node-lab-4" ? { ...r, dependencies: r.dependencies.filter((d) => !d.endsWith("swarm-member-lab-4")) } : r)),
    } as MockedRun;
    const joinUrn = run.resources.find((r) => r.name === "swarm-member-lab-4")?.urn as string;
    expect(forgetful.resources.find((r) => r.name === "swarm-node-lab-4")?.dependencies).not.toContain(joinUrn);
    await expect(replayWith(forgetful)).rejects.toThrow(/swarm-node-lab-4: no real value for placeholder nodeId:lab-4/);
  });

  it("splits command lines as shellQuote writes them", () => {
    expect(shellWords("bash -s -- a '' 'b c' 'it'\\''s' x=y")).toEqual(["bash", "-s", "--", "a", "", "b c", "it's", "x=y"]);
    expect(() => shellWords("bash -s -- $(x)")).toThrow(/unsupported character/);
  });

  it("diffs specs by path (what the lab's update checks compare)", () => {
    expect(diffPaths({ a: 1, b: { c: [1, { d: "x" }] } }, { a: 1, b: { c: [1, { d: "y" }] } })).toEqual(["b.c[1].d"]);
    expect(diffPaths({ Labels: { x: "1" } }, { Labels: { x: "1", y: "2" } })).toEqual(["Labels.y"]);
    expect(diffPaths([1], [1, 2])).toEqual(["(root)"]);
    expect(diffPaths({ a: [1] }, { a: [1] })).toEqual([]);
    // The update checks' premise: a new backend image changes exactly the image.
    const run = runs.get("lab") as MockedRun;
    const backend = dockerService(run, "medianest-backend");
    const changed = structuredClone(backend.inputs) as { taskSpec: { containerSpec: { image: string } } };
    changed.taskSpec.containerSpec.image = "medianest-lab/standin:2";
    expect(diffPaths(serviceSpec(backend.inputs, refsFor(run)).spec, serviceSpec(changed, refsFor(run)).spec)).toEqual(["TaskTemplate.ContainerSpec.Image"]);
  });

  it("finds the Debian mirror for debootstrap in deb822 and one-line apt sources", () => {
    const deb822 = "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\n";
    expect(parseDebianMirror([{ file: "/etc/apt/sources.list.d/debian.sources", text: deb822 }], "bookworm")).toBe("http://deb.example/debian");
    expect(parseDebianMirror([{ file: "/etc/apt/sources.list.d/debian.sources", text: `Enabled: no\n${deb822}` }], "bookworm")).toBeUndefined();
    const oneLine = "# comment\ndeb [arch=amd64] https://mirror.example/debian bookworm main contrib\n";
    expect(parseDebianMirror([{ file: "/etc/apt/sources.list", text: oneLine }], "bookworm")).toBe("https://mirror.example/debian");
    expect(parseDebianMirror([{ file: "/etc/apt/sources.list", text: oneLine }], "trixie")).toBeUndefined();
  });

  it("the stand-in's update versions: v2 names its version, the no-health version has no /api/health", () => {
    expect(STANDIN_V2.files?.["www/api/health"]).toContain('"version":"2"');
    expect(STANDIN_NO_HEALTH.omit).toContain("www/api/health");
    expect(new Set([STANDIN_IMAGE, STANDIN_V2.image, STANDIN_NO_HEALTH.image]).size).toBe(3);
  });

  it("the lab stack's monitoring images are the ones the lab builds, and the data lab runs every monitoring service they serve", () => {
    const images = validatedStackConfig("lab").images;
    const built: Record<string, string> = { ...Object.fromEntries(Object.entries(MONITORING_IMAGES).map(([key, { image }]) => [key, image])), redisExporter: REDIS_EXPORTER_IMAGE.image };
    for (const [key, image] of Object.entries(built)) expect(images[key as keyof typeof images], `images.${key}`).toBe(image);
    const run = runs.get("lab") as MockedRun;
    const imageOf = (r: { inputs: Record<string, unknown> }) => (r.inputs.taskSpec as { containerSpec?: { image?: string } } | undefined)?.containerSpec?.image ?? "";
    const served = run.ofType("docker:index/service:Service").filter((r) => Object.values(built).includes(imageOf(r)));
    expect(served.map((r) => r.name).sort()).toEqual([...MONITORING].sort());
  });

  it("bind-mounts every path the host scripts write to", () => {
    const targets = hostBindTargets();
    for (const p of ["/var/lib/docker", "/etc/docker", "/var/lib/containerd", "/etc/ssh", "/root/.ssh", "/mnt/media", "/mnt/backup", "/opt/medianest", "/etc/medianest", "/usr/local/lib/medianest"]) {
      expect(targets).toContain(p);
    }
  });
});

const haveBusybox = spawnSync("busybox", ["true"], { stdio: "ignore" }).status === 0;

describe.runIf(haveBusybox)("the stand-in image's node shim", () => {
  const shim = path.join(__dirname, "standin", "node.sh");
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.statusCode = req.url === "/api/health" || req.url === "/" ? 200 : 404;
      res.end("x");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const shimRun = (args: string[]) => spawnSync("busybox", ["sh", shim, ...args], { encoding: "utf8", timeout: 10_000 });
  // Asynchronous: the HTTP server it talks to runs in this process.
  const shimAsync = (args: string[]) =>
    new Promise<number | null>((resolve) => {
      const child = spawn("busybox", ["sh", shim, ...args], { stdio: "ignore" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });

  it("answers exactly the program's health checks with wget", async () => {
    const run = await mockedRun("lab", { config: testConfig("lab") });
    const tests = run.ofType("docker:index/service:Service").flatMap((s) => {
      const hc = (s.inputs.taskSpec as { containerSpec: { healthcheck?: { tests: string[] } } }).containerSpec.healthcheck;
      return hc && hc.tests[1] === "node" ? [hc.tests] : [];
    });
    expect(tests.length).toBeGreaterThanOrEqual(2);
    for (const test of tests) {
      expect(test[0]).toBe("CMD");
      const local = test.slice(2).map((a) => a.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`));
      expect(await shimAsync(local)).toBe(0);
    }
  }, 60_000);

  it("fails on an error status and refuses anything else", async () => {
    const check = (url: string) => `require('http').get('${url}',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))`;
    expect(await shimAsync(["-e", check(`http://127.0.0.1:${port}/missing`)])).toBe(1);
    expect(shimRun(["-e", "console.log(1)"]).status).toBe(2);
    expect(shimRun(["app.js"]).status).toBe(2);
    expect(shimRun(["-e", check("ftp://x/")]).status).toBe(2);
  });
});
