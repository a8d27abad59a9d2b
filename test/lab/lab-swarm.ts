// Shared by the lab suites: forming the swarm with the program's own recorded Host and Swarm
// commands (as lab.test.ts checks them in detail), and applying the recorded networks,
// secrets, configs and services to it through the strict translators.
import { randomBytes } from "node:crypto";
import type { ConstraintSubject } from "../../domain/scheduling";
import type { MockedRun } from "../support/mocked-run";
import { hostAndSwarmCommands, mockPlaceholders, realInvocation, runOverSsh, type RecordedCommand, type SshResult } from "./commands";
import { replayInEngineOrder } from "./engine-order";
import type { Engine } from "./engine";
import type { Lab } from "./lab-hosts";
import { networkCreateBody } from "./network-spec";
import { configCreateBody, secretCreateBody, serviceSpec, type EngineServiceSpec, type ServiceTranslation, type SwarmRefs } from "./service-spec";

export interface InitResult {
  clusterId: string;
  nodeId: string;
  workerToken: string;
  managerToken: string;
  unlockKey: string;
}

export interface SwarmNode {
  ID: string;
  Spec: { Role: string; Availability: string; Labels: Record<string, string> };
  Description: { Hostname: string };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
}

/** A real node as placement constraints see it. */
export function nodeSubject(node: SwarmNode): ConstraintSubject {
  return { role: node.Spec.Role, hostname: node.Description.Hostname, id: node.ID, labels: node.Spec.Labels };
}

export interface SwarmTask {
  ID: string;
  NodeID?: string;
  ServiceID: string;
  DesiredState: string;
  Slot?: number;
  CreatedAt: string;
  Spec: { ContainerSpec?: { Image: string }; Resources?: EngineServiceSpec["TaskTemplate"]["Resources"] };
  Status: { State: string; Err?: string; Timestamp?: string; ContainerStatus?: { ContainerID?: string } };
  NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
}

export interface EngineService {
  ID: string;
  Version: { Index: number };
  Spec: EngineServiceSpec;
  PreviousSpec?: EngineServiceSpec;
  UpdateStatus?: { State: string; StartedAt?: string; CompletedAt?: string; Message?: string };
}

export interface FormedSwarm {
  readonly commands: RecordedCommand[];
  readonly placeholders: Map<string, string>;
  readonly real: Map<string, string>;
  readonly nodeIdOf: Map<string, string>;
  readonly init: InitResult;
}

function lastJson<T>(result: SshResult, what: string): T {
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what}: no JSON result line: ${result.stdout}\n${result.stderr}`);
  }
}

/** The lab stack's config for a lab: its SSH key (a secret) and every host's host key pinned. */
export function labStackConfig(lab: Lab, base: Record<string, unknown>): Record<string, unknown> {
  const hosts = (base["medianest:hosts"] as Record<string, unknown>[]).map((h) => ({ ...h, hostKey: lab.host(String(h.name)).hostKey }));
  return { ...base, "medianest:hosts": hosts, "medianest:sshPrivateKey": lab.privateKey };
}

/**
 * Runs the recorded Host and Swarm commands over SSH (their create line, or `update`), with
 * the mocks' placeholders replaced by the real values as the commands report them.
 */
export class CommandRunner {
  readonly commands: RecordedCommand[];
  readonly placeholders: Map<string, string>;
  readonly real = new Map<string, string>();
  readonly nodeIdOf = new Map<string, string>();
  init?: InitResult;

  constructor(
    private readonly lab: Lab,
    run: MockedRun,
    private readonly timeoutMs = 240_000,
  ) {
    this.commands = hostAndSwarmCommands(run);
    this.placeholders = mockPlaceholders(run);
  }

  command(urn: string): RecordedCommand | undefined {
    return this.commands.find((c) => c.resource.urn === urn);
  }

  async run(c: RecordedCommand, line: string = c.create, stdin?: string): Promise<SshResult> {
    const real = realInvocation(c, line, this.placeholders, this.real);
    const result = await runOverSsh({ address: c.address, user: c.user, port: c.port, keyFile: this.lab.keyFile }, real.line, stdin ?? real.stdin, this.timeoutMs);
    if (result.code !== 0) throw new Error(`${c.name} (${c.script}) on ${c.address} exited ${String(result.code)}:\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n${this.lab.logs(10)}`);
    const host = this.lab.byAddress(c.address).name;
    // Only create and update report the JSON result (a delete step prints ok:/changed: lines).
    if (line !== c.create && line !== c.update) return result;
    if (c.phase === "init") {
      this.init = lastJson<InitResult>(result, c.name);
      this.real.set("workerToken", this.init.workerToken);
      this.real.set("managerToken", this.init.managerToken);
      this.real.set("unlockKey", this.init.unlockKey);
      this.real.set("clusterId", this.init.clusterId);
      this.real.set(`nodeId:${host}`, this.init.nodeId);
      this.nodeIdOf.set(host, this.init.nodeId);
    } else if (c.phase === "join-manager" || c.phase === "join-worker") {
      const { nodeId } = lastJson<{ nodeId: string }>(result, c.name);
      this.real.set(`nodeId:${host}`, nodeId);
      this.nodeIdOf.set(host, nodeId);
    }
    return result;
  }

  formed(): FormedSwarm {
    if (!this.init) throw new Error("the recorded commands have no swarm init, or it did not run");
    return { commands: this.commands, placeholders: this.placeholders, real: this.real, nodeIdOf: this.nodeIdOf, init: this.init };
  }
}

/** Forms the swarm with the mocked run's Host and Swarm commands, replayed in engine order. */
export async function formSwarm(lab: Lab, run: MockedRun, commandTimeoutMs = 240_000): Promise<FormedSwarm> {
  const runner = new CommandRunner(lab, run, commandTimeoutMs);
  await replayInEngineOrder(run, async (r) => {
    const c = runner.command(r.urn);
    if (!c) return "skipped";
    await runner.run(c);
    return "done";
  });
  return runner.formed();
}

/** The real objects the translators resolve references to, plus the secrets' values. */
export interface AppliedObjects {
  readonly refs: SwarmRefs & { [K in keyof SwarmRefs]: Map<string, string> };
  /** Secret values by the recorded resource name ("postgres-password"). */
  readonly secretValues: Map<string, string>;
}

/** Creates the mocked run's networks, secrets and configs through the translators. */
export async function applyObjects(engine: Engine, run: MockedRun): Promise<AppliedObjects> {
  const refs: AppliedObjects["refs"] = { networkIds: new Map(), secretIds: new Map(), secretNames: new Map(), configIds: new Map(), configNames: new Map() };
  const secretValues = new Map<string, string>();
  for (const r of run.ofType("docker:index/network:Network")) {
    const created = await engine.post<{ Id: string }>("/networks/create", networkCreateBody(r.inputs, r.name));
    refs.networkIds.set(`${r.name}-id`, created.Id);
  }
  for (const s of run.ofType("docker:index/secret:Secret")) {
    const body = secretCreateBody(s.inputs, `${s.name}-${randomBytes(4).toString("hex").slice(0, 7)}`, s.name);
    const created = await engine.post<{ ID: string }>("/secrets/create", body);
    refs.secretIds.set(`${s.name}-id`, created.ID);
    refs.secretNames.set(String(s.inputs.name ?? `${s.name}-mock`), body.Name);
    secretValues.set(s.name, Buffer.from(body.Data, "base64").toString("utf8"));
  }
  for (const c of run.ofType("docker:index/serviceConfig:ServiceConfig")) {
    const body = configCreateBody(c.inputs, c.name);
    const created = await engine.post<{ ID: string }>("/configs/create", body);
    refs.configIds.set(`${c.name}-id`, created.ID);
    refs.configNames.set(body.Name, body.Name);
  }
  return { refs, secretValues };
}

/**
 * Creates the configs of a later mocked run that the swarm does not have yet (a changed
 * script gets a new content-addressed name), as `pulumi up` would.
 */
export async function applyNewConfigs(engine: Engine, run: MockedRun, objects: AppliedObjects): Promise<void> {
  for (const c of run.ofType("docker:index/serviceConfig:ServiceConfig")) {
    const body = configCreateBody(c.inputs, c.name);
    if (objects.refs.configNames.has(body.Name)) continue;
    const created = await engine.post<{ ID: string }>("/configs/create", body);
    objects.refs.configIds.set(`${c.name}-id`, created.ID);
    objects.refs.configNames.set(body.Name, body.Name);
  }
}

/** The translation of one recorded service (as the provider sends it), and its arguments. */
export function recordedSpec(run: MockedRun, name: string, refs: SwarmRefs): ServiceTranslation & { args: string[] } {
  const recorded = run.ofType("docker:index/service:Service").find((s) => s.name === name);
  if (!recorded) throw new Error(`the mocked run has no service ${name}`);
  const translation = serviceSpec(recorded.inputs, refs, name);
  return { ...translation, args: translation.spec.TaskTemplate.ContainerSpec.Args ?? [] };
}

/** The value after `--flag` in a script's arguments. */
export function flagValue(args: readonly string[], flag: string): string {
  const i = args.indexOf(flag);
  if (i < 0 || i + 1 >= args.length) throw new Error(`no ${flag} in ${args.join(" ")}`);
  return args[i + 1];
}

/** Paths (a.b[2].c) where two JSON values differ. */
export function diffPaths(a: unknown, b: unknown, at = ""): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.flatMap((v, i) => diffPaths(v, b[i], `${at}[${i}]`));
  if (isObj(a) && isObj(b) && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffPaths(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return [at || "(root)"];
}

export const taskFilter = (filters: Record<string, string[]>): string => `/tasks?filters=${encodeURIComponent(JSON.stringify(filters))}`;
