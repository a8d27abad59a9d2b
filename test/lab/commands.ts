// The program's Host and Swarm steps as a mocked run records them (command:remote:Command
// resources: `create` is the command line, `stdin` the script), in component order, and
// how the lab runs them over real SSH. The mocked run's stand-ins for values only a real
// swarm knows (join tokens, cluster id, node ids) are replaced with the real ones.
import { spawn } from "node:child_process";
import { parseScriptCommand } from "../../scripts/interfaces";
import { parseStdin, type ScriptName } from "../../scripts/loader";

export { shellWords } from "../../scripts/command-line";
import type { MockedRun, RecordedResource } from "../support/mocked-run";

export type Phase = "host" | "init" | "join-manager" | "join-worker" | "node-config";
const PHASES: readonly Phase[] = ["host", "init", "join-manager", "join-worker", "node-config"];

export interface RecordedCommand {
  readonly resource: RecordedResource;
  readonly name: string;
  readonly script: ScriptName;
  readonly phase: Phase;
  /** Where it runs: the connection's host address and user. */
  readonly address: string;
  readonly user: string;
  readonly port: number;
  readonly privateKey: string;
  readonly create: string;
  readonly update: string | undefined;
  readonly delete: string | undefined;
  /** The script with any secret assignments ahead of it (placeholders not yet replaced). */
  readonly stdin: string;
}

function str(inputs: Record<string, unknown>, key: string, what: string): string {
  const value = inputs[key];
  if (typeof value !== "string") throw new Error(`${what}: input ${key} is not a string (${JSON.stringify(value)})`);
  return value;
}

function phaseOf(resource: RecordedResource, script: ScriptName, create: string): Phase {
  if (resource.parent.includes("$medianest:host:Host::") && script.startsWith("host/")) return "host";
  if (!resource.parent.includes("$medianest:swarm:Swarm::")) throw new Error(`${resource.name}: not a Host or Swarm step`);
  if (script === "swarm/init.sh") return "init";
  if (script === "swarm/join.sh") return parseScriptCommand(script, create).role === "manager" ? "join-manager" : "join-worker";
  if (script === "swarm/node-config.sh") return "node-config";
  throw new Error(`${resource.name}: unexpected swarm script ${script}`);
}

/**
 * The Host and Swarm components' commands in component order; their recorded dependencies
 * are checked. `identify` tells which script a stdin carries (a run with an edited script
 * passes its own).
 */
export function hostAndSwarmCommands(run: MockedRun, identify: (stdin: string) => { readonly script: ScriptName } = parseStdin): RecordedCommand[] {
  const commands = run
    .ofType("command:remote:Command")
    .filter((r) => r.parent.includes("$medianest:host:Host::") || r.parent.includes("$medianest:swarm:Swarm::"))
    .map((resource, index) => {
      const inputs = resource.inputs;
      const stdin = str(inputs, "stdin", resource.name);
      const { script } = identify(stdin);
      const create = str(inputs, "create", resource.name);
      const connection = inputs.connection as Record<string, unknown> | undefined;
      if (!connection) throw new Error(`${resource.name}: no connection`);
      const command: RecordedCommand = {
        resource,
        name: resource.name,
        script,
        phase: phaseOf(resource, script, create),
        address: str(connection, "host", `${resource.name}.connection`),
        user: str(connection, "user", `${resource.name}.connection`),
        port: Number(connection.port ?? 22),
        privateKey: str(connection, "privateKey", `${resource.name}.connection`),
        create,
        update: typeof inputs.update === "string" ? inputs.update : undefined,
        delete: typeof inputs.delete === "string" ? inputs.delete : undefined,
        stdin,
      };
      return { command, index };
    });
  const ordered = commands
    .sort((a, b) => PHASES.indexOf(a.command.phase) - PHASES.indexOf(b.command.phase) || a.index - b.index)
    .map((c) => c.command);
  // Component order must also be an order the engine could have used: every recorded
  // dependency on another of these commands comes earlier.
  const position = new Map(ordered.map((c, i) => [c.resource.urn, i]));
  ordered.forEach((c, i) => {
    for (const dep of c.resource.dependencies) {
      const at = position.get(dep);
      if (at !== undefined && at >= i) throw new Error(`${c.name} depends on ${ordered[at].name}, which would run later`);
    }
  });
  return ordered;
}

/**
 * Values a mocked run invents for outputs only a real swarm has, taken from its exports:
 * join tokens, unlock key, cluster id and each node's id.
 */
export function mockPlaceholders(run: MockedRun): Map<string, string> {
  const e = run.exports as Record<string, unknown>;
  const out = new Map<string, string>();
  const add = (key: string, value: unknown) => {
    if (typeof value !== "string" || value === "") throw new Error(`mocked export ${key} is not a string`);
    out.set(key, value);
  };
  add("workerToken", e.workerJoinToken);
  add("managerToken", e.managerJoinToken);
  add("unlockKey", e.swarmUnlockKey);
  add("clusterId", e.clusterId);
  for (const [host, id] of Object.entries((e.nodeIds ?? {}) as Record<string, unknown>)) add(`nodeId:${host}`, id);
  return out;
}

/** Generic shapes of the mocks' placeholders, as a second net besides the exact values. */
const MOCK_SHAPES = /SWMTKN-1-test-|SWMKEY-1-test-|(?<![A-Za-z0-9-])cluster-0001(?![A-Za-z0-9-])|(?<![A-Za-z0-9-])node-swarm-member-/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces every mock placeholder in `text` by its real value (`real` is keyed like
 * `mockPlaceholders`). Placeholders only match as whole tokens. Fails when a placeholder
 * has no real value or any placeholder is left.
 */
export function substitutePlaceholders(text: string, placeholders: ReadonlyMap<string, string>, real: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [key, mock] of placeholders) {
    const pattern = new RegExp(`(?<![A-Za-z0-9-])${escapeRegExp(mock)}(?![A-Za-z0-9-])`, "g");
    if (!pattern.test(out)) continue;
    const value = real.get(key);
    if (value === undefined) throw new Error(`no real value for placeholder ${key} (${mock})`);
    out = out.replace(pattern, value);
  }
  const leftovers = [...placeholders.values()].filter((mock) => new RegExp(`(?<![A-Za-z0-9-])${escapeRegExp(mock)}(?![A-Za-z0-9-])`).test(out));
  const shape = MOCK_SHAPES.exec(out);
  if (leftovers.length > 0 || shape) {
    throw new Error(`mock placeholder left after substitution: ${leftovers.join(", ") || shape?.[0]} in: ${out.slice(0, 300)}`);
  }
  return out;
}

/** A recorded command as it really runs: placeholders replaced in its command line and its stdin. */
export function realInvocation(
  command: RecordedCommand,
  line: string,
  placeholders: ReadonlyMap<string, string>,
  real: ReadonlyMap<string, string>,
): { readonly line: string; readonly stdin: string } {
  return { line: substitutePlaceholders(line, placeholders, real), stdin: substitutePlaceholders(command.stdin, placeholders, real) };
}

export interface SshResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface SshTarget {
  readonly address: string;
  readonly user: string;
  readonly port: number;
  readonly keyFile: string;
}

export function sshArgs(target: SshTarget): string[] {
  return [
    "-F", "/dev/null",
    "-i", target.keyFile,
    "-p", String(target.port),
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=6",
    `${target.user}@${target.address}`,
  ];
}

/** ssh exits 255 with one of these when it never got a session (the command did not run). */
const NOT_CONNECTED = /Connection refused|Connection reset|Connection closed|kex_exchange_identification|Connection timed out|No route to host/;

/**
 * Runs `commandLine` over SSH with `stdin`, as pulumi-command's remote.Command does:
 * a connection that fails before the session starts is dialled again, up to the
 * program's dialErrorLimit (10) with growing pauses (remote/connection.go dialWithRetry);
 * once the command runs, its result stands. Bounded by timeoutMs per attempt.
 */
export async function runOverSsh(target: SshTarget, commandLine: string, stdin: string, timeoutMs: number, dialAttempts = 10): Promise<SshResult> {
  let result = await runOverSshOnce(target, commandLine, stdin, timeoutMs);
  for (let attempt = 1; attempt < dialAttempts && result.code === 255 && result.stdout === "" && NOT_CONNECTED.test(result.stderr); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** (attempt - 1), 5_000)));
    result = await runOverSshOnce(target, commandLine, stdin, timeoutMs);
  }
  return result;
}

function runOverSshOnce(target: SshTarget, commandLine: string, stdin: string, timeoutMs: number): Promise<SshResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn("ssh", [...sshArgs(target), commandLine], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => {
      stderr += `\nlab: ssh command timed out after ${timeoutMs} ms`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
  });
}

/**
 * The recorded schema migration (swarm/migrate.sh) run over SSH on a manager, as the
 * command resource runs it, with the database URL secret's real name in place of the
 * mocked one. Returns its stdout and when it finished; fails like the resource would.
 */
export async function runRecordedMigration(
  target: SshTarget,
  inputs: Readonly<Record<string, unknown>>,
  secretNames: ReadonlyMap<string, string>,
  timeoutMs: number,
): Promise<{ output: string; finishedAt: number }> {
  const create = String(inputs.create);
  const { secret } = parseScriptCommand("swarm/migrate.sh", create);
  const real = secretNames.get(secret);
  if (!real) throw new Error(`the migration names secret ${secret}, which the lab did not create`);
  const result = await runOverSsh(target, create.split(secret).join(real), String(inputs.stdin), timeoutMs);
  if (result.code !== 0) throw new Error(`the migration exited ${String(result.code)}: ${result.stderr.trim()} | ${result.stdout.trim()}`);
  return { output: result.stdout, finishedAt: Date.now() };
}
