// Guards over every declared resource of every stack, so a new service or command cannot
// bring back what the real providers punish (see docker-provider-model.ts for the model):
// commands without replace-on-change triggers and without secrets in their command line;
// services with networks by id, durations in the stored form, no sticky tmpfs mode, at
// most one Env entry, images in familiar form and pinned; no computed-only inputs. And a
// changed script plans an update, never a replace, for exactly the commands that ship it.
import { afterEach, describe, expect, it, vi } from "vitest";
import { NETWORK_IGNORE_CHANGES } from "../components/networks";
import { SERVICE_IGNORE_CHANGES } from "../components/swarm-service";
import { SCRIPT_NAMES, loadScript, parseStdin } from "../scripts/loader";
import { providerDuration } from "../domain/durations";
import { familiarImage, hasDigest } from "../domain/images";
import { planCommandDiff } from "./support/docker-provider-model";
import { STACKS, mockedRun, type MockedRun, type RecordedResource, type StackName } from "./support/mocked-run";

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const runs = new Map<StackName, MockedRun>();
async function runOf(stack: StackName): Promise<MockedRun> {
  if (!runs.has(stack)) runs.set(stack, await mockedRun(stack));
  return runs.get(stack) as MockedRun;
}
const commands = (run: MockedRun) => run.resources.filter((r) => r.type === "command:remote:Command" || r.type === "command:local:Command");

/** Every duration input of a docker.Service, by path. */
function durations(inputs: Obj): [string, unknown][] {
  const task = o(inputs.taskSpec);
  const container = o(task.containerSpec);
  const out: [string, unknown][] = [];
  for (const block of ["updateConfig", "rollbackConfig"]) for (const f of ["delay", "monitor"]) out.push([`${block}.${f}`, o(inputs[block])[f]]);
  for (const f of ["interval", "timeout", "startPeriod"]) out.push([`healthcheck.${f}`, o(container.healthcheck)[f]]);
  for (const f of ["delay", "window"]) out.push([`restartPolicy.${f}`, o(task.restartPolicy)[f]]);
  out.push(["containerSpec.stopGracePeriod", container.stopGracePeriod]);
  return out.filter(([, v]) => v !== undefined);
}

/**
 * Attributes each provider computes and rejects as inputs ("Value for unconfigurable
 * attribute"), from the upstream schemas: terraform-provider-minio v1.20.1
 * resource_minio_ilm_policy.go (rule.status), resource_minio_s3_bucket.go (arn,
 * bucket_domain_name); terraform-provider-docker v4.5.0 resource_docker_network.go (scope);
 * cloudflare v5 zone_setting (editable, modified_on, time_remaining).
 */
const COMPUTED_ONLY: Readonly<Record<string, (inputs: Obj) => string[]>> = {
  "minio:index/ilmPolicy:IlmPolicy": (i) => a(i.rules).flatMap((r, n) => ("status" in o(r) ? [`rules[${n}].status`] : [])),
  "minio:index/s3Bucket:S3Bucket": (i) => ["arn", "bucketDomainName"].filter((k) => k in i),
  "docker:index/network:Network": (i) => ["scope"].filter((k) => k in i),
  "cloudflare:index/zoneSetting:ZoneSetting": (i) => ["editable", "modifiedOn", "timeRemaining"].filter((k) => k in i),
};

describe.each([...STACKS])("the %s stack's declared resources", (stack) => {
  it("commands: no triggers, no previous output as env, update = create, no secret on a command line", async () => {
    const run = await runOf(stack);
    expect(commands(run).length).toBeGreaterThan(3);
    for (const c of commands(run)) {
      expect(c.inputs.triggers, c.name).toBeUndefined();
      expect(c.inputs.addPreviousOutputInEnv, c.name).toBe(false);
      expect(c.inputs.update, c.name).toEqual(c.inputs.create);
      expect(c.inputs.environment, c.name).toBeUndefined();
      for (const line of [c.inputs.create, c.inputs.update, c.inputs.delete].filter((x) => x !== undefined)) {
        expect(String(line), c.name).not.toMatch(/SWMTKN|SWMKEY|PRIVATE KEY/);
      }
      const { secrets } = parseStdin(String(c.inputs.stdin));
      if (Object.keys(secrets).length > 0) expect(c.rawInputs.stdin, `${c.name} stdin with secrets is a secret`).toSatisfy(isSecret);
    }
  });

  it("services: networks by id, stored-form durations, no tmpfs mode, at most one Env entry, familiar pinned images, platforms left to the provider", async () => {
    const run = await runOf(stack);
    const services = run.ofType("docker:index/service:Service");
    for (const s of services) {
      const task = o(s.inputs.taskSpec);
      const container = o(task.containerSpec);
      // By id (never the deprecated name); aliases only where a DNS name must move with a role.
      for (const n of a(task.networksAdvanceds)) expect(Object.keys(o(n)).filter((k) => k !== "aliases"), `${s.name} attaches by id`).toEqual(["id"]);
      for (const [path, value] of durations(s.inputs)) expect(value, `${s.name} ${path}`).toBe(providerDuration(String(value)));
      for (const m of a(container.mounts).map(o).filter((m) => m.type === "tmpfs")) expect(o(m.tmpfsOptions).mode, `${s.name} tmpfs ${String(m.target)}`).toBeUndefined();
      expect(Object.keys(o(container.env)).length, `${s.name} Env entries`).toBeLessThanOrEqual(1);
      const image = String(container.image);
      expect(image, s.name).toBe(familiarImage(image));
      if (stack !== "lab") expect(hasDigest(image), `${s.name} ${image} pinned by digest`).toBe(true);
      expect(s.ignoreChanges, s.name).toEqual([...SERVICE_IGNORE_CHANGES]);
      expect(o(s.inputs.updateConfig).maxFailureRatio, s.name).toBe("0.0");
    }
    for (const n of run.ofType("docker:index/network:Network")) expect(n.ignoreChanges, n.name).toEqual([...NETWORK_IGNORE_CHANGES]);
  });

  it("no computed-only attribute is given as an input", async () => {
    const run = await runOf(stack);
    for (const r of run.resources) {
      const check = COMPUTED_ONLY[r.type];
      if (check) expect(check(r.inputs), `${r.type} ${r.name}`).toEqual([]);
    }
  });
});

function isSecret(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.values(value as Obj).includes("1b47061264138c4ac30d75fd1eb44270");
}

describe("an edited script is an update of exactly the commands that ship it, never a replace", () => {
  afterEach(() => {
    vi.doUnmock("node:fs");
  });

  /** A mocked run in which each of `scripts` has one more line (read through a mocked node:fs). */
  async function runWithEdited(stack: StackName, scripts: readonly (typeof SCRIPT_NAMES)[number][]): Promise<MockedRun> {
    vi.doMock("node:fs", async (importOriginal) => {
      const fs = await importOriginal<typeof import("node:fs")>();
      const readFileSync = ((file: unknown, ...rest: unknown[]) => {
        const content = (fs.readFileSync as (...args: unknown[]) => unknown)(file, ...rest);
        return scripts.some((script) => String(file).endsWith(`/scripts/${script}`)) ? `${String(content)}# edited\n` : content;
      }) as typeof fs.readFileSync;
      return { ...fs, readFileSync, default: { ...fs, readFileSync } };
    });
    return mockedRun(stack, { cache: false });
  }

  // One run per stack edits several scripts at once (a mocked run costs ~1.5 s): every
  // command that ships one of them must be an update, and nothing else may change.
  it.each([
    ["production", ["swarm/join.sh", "swarm/init.sh", "swarm/node-config.sh", "host/firewall.sh"]],
    ["cluster", ["host/nfs-mount.sh"]],
  ] as const)("%s: %s", async (stack, scripts) => {
    const before = await runOf(stack);
    const after = await runWithEdited(stack, scripts);
    const byName = (run: MockedRun) => new Map(commands(run).map((c) => [c.name, c]));
    const was = byName(before);
    const now = byName(after);
    expect([...now.keys()].sort()).toEqual([...was.keys()].sort());
    // A command ships a script on stdin (create/update) or embedded in its delete step.
    const shipsScript = (c: RecordedResource, script: (typeof scripts)[number]) => {
      const editedContent = `${loadScript(script).content}# edited\n`;
      const edited = Buffer.from(editedContent, "utf8").toString("base64");
      return String(c.inputs.stdin).endsWith(editedContent) || String(c.inputs.delete ?? "").includes(edited);
    };
    const changed: string[] = [];
    for (const [name, command] of now) {
      const plan = planCommandDiff(was.get(name)?.inputs ?? {}, command.inputs);
      expect(plan.replaces.map((c) => c.path), name).toEqual([]);
      if (plan.updates.length > 0) changed.push(name);
    }
    // Each edited script is shipped by some command, so no edit goes unseen.
    for (const script of scripts) expect([...now.values()].filter((c) => shipsScript(c, script)).map((c) => c.name), script).not.toEqual([]);
    const shipping = [...now.values()].filter((c) => scripts.some((script) => shipsScript(c, script))).map((c) => c.name);
    expect(changed.sort()).toEqual(shipping.sort());
  });
});

describe("the docker provider's stored inputs work without the program (destroy, refresh)", () => {
  it.each(["homelab", "cluster", "production", "lab"] as const)("%s: sshOpts name no run-time file, multiplex one connection, and carry a pinned host key inline", async (stack) => {
    const run = await runOf(stack);
    const [provider] = run.ofType("pulumi:providers:docker");
    const raw = provider.inputs.sshOpts;
    const sshOpts = (typeof raw === "string" ? JSON.parse(raw) : raw) as string[];
    expect(sshOpts).not.toContain("-i");
    // No temporary key or known_hosts file: those are gone when destroy reads the state.
    expect(sshOpts.filter((o) => /IdentityFile|UserKnownHostsFile=\/(?!dev\/null)|\/tmp\//.test(o))).toEqual([]);
    expect(sshOpts).toEqual(expect.arrayContaining(["ControlMaster=auto", "ControlPath=~/.ssh/medianest-%C", "ControlPersist=600"]));
  });

  it("a pinned host key travels inline (KnownHostsCommand), strictly checked", async () => {
    const { testConfig } = await import("./support/mocked-run");
    const config = testConfig("homelab");
    const hosts = (config["medianest:hosts"] as Obj[]).map((h): Obj => ({ ...h, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyForTestsOnly" }));
    const run = await mockedRun("homelab", { config: { ...config, "medianest:hosts": hosts } });
    const raw = run.ofType("pulumi:providers:docker")[0].inputs.sshOpts;
    const sshOpts = (typeof raw === "string" ? JSON.parse(raw) : raw) as string[];
    expect(sshOpts).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", "UserKnownHostsFile=/dev/null", `KnownHostsCommand=/bin/echo ${String(hosts[0].address)} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyForTestsOnly`]));
  });
});

describe("changing swarm.leader renames nothing", () => {
  it("the same resources exist with either leader, so the change is updates in place, never deletes", async () => {
    const { testConfig } = await import("./support/mocked-run");
    const base = await runOf("production");
    const moved = await mockedRun("production", { config: { ...testConfig("production"), "medianest:swarm": { leader: "mgr-2" } } });
    const names = (run: MockedRun) => run.resources.map((r) => `${r.type} ${r.name}`).sort();
    expect(names(moved)).toEqual(names(base));
    const was = new Map(commands(base).map((c) => [c.name, c]));
    const changed = commands(moved).filter((c) => planCommandDiff(was.get(c.name)?.inputs ?? {}, c.inputs).updates.length > 0).map((c) => c.name);
    for (const c of commands(moved)) expect(planCommandDiff(was.get(c.name)?.inputs ?? {}, c.inputs).replaces, c.name).toEqual([]);
    // The two managers swap init and join; every node's config now runs on the new leader.
    expect(changed).toEqual(expect.arrayContaining(["swarm-member-mgr-1", "swarm-member-mgr-2", "swarm-node-mgr-1", "swarm-node-wrk-4"]));
    expect(parseStdin(String(commands(moved).find((c) => c.name === "swarm-member-mgr-2")?.inputs.stdin)).script).toBe("swarm/init.sh");
    expect(parseStdin(String(commands(moved).find((c) => c.name === "swarm-member-mgr-1")?.inputs.stdin)).script).toBe("swarm/join.sh");
  });
});
