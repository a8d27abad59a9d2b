// One docker.Provider for the swarm leader, used by every docker resource. Over
// SSH the provider shells out to `ssh`, which needs the key as a file: it is
// written to a private 0700 directory for the run and removed when the program exits.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { PlannedNode } from "../topology/plan";

export const LOCAL_DOCKER_HOST = "unix:///var/run/docker.sock";

export interface LeaderDockerProviderArgs {
  readonly connection: "ssh" | "local";
  readonly leader: PlannedNode;
  readonly sshPrivateKey?: pulumi.Output<string>;
  /** Distinguishes concurrent programs on one machine (the stack name). */
  readonly scope: string;
}

export function dockerHostUrl(leader: PlannedNode): string {
  const address = leader.address.includes(":") ? `[${leader.address}]` : leader.address;
  return `ssh://${leader.ssh.user}@${address}:${leader.ssh.port}`;
}

/** The ssh options the provider uses; host-key checking is strict when the config pins the key. */
export function dockerSshOptions(leader: PlannedNode, dir: string): string[] {
  return [
    "-i", path.join(dir, "id"),
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=15",
    "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
    "-o", `StrictHostKeyChecking=${leader.ssh.hostKey ? "yes" : "accept-new"}`,
  ];
}

// One exit hook for the whole process, however often the program is evaluated in it.
const cleanupKey = Symbol.for("medianest.ssh-key-dirs");
function removeAtExit(dir: string): void {
  const registry = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  let dirs = registry[cleanupKey];
  if (!dirs) {
    const created = new Set<string>();
    registry[cleanupKey] = created;
    process.once("exit", () => created.forEach((d) => rmSync(d, { recursive: true, force: true })));
    dirs = created;
  }
  dirs.add(dir);
}

/** Removes the key files written so far (the exit hook does it at the end of a real run; tests call it). */
export function removeSshKeyFiles(): void {
  const dirs = (globalThis as unknown as Record<symbol, Set<string> | undefined>)[cleanupKey];
  dirs?.forEach((d) => rmSync(d, { recursive: true, force: true }));
  dirs?.clear();
}

function writeSshFiles(dir: string, leader: PlannedNode, key: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileSync(path.join(dir, "id"), key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
  const hostPattern = leader.ssh.port === 22 ? leader.address : `[${leader.address}]:${leader.ssh.port}`;
  writeFileSync(path.join(dir, "known_hosts"), leader.ssh.hostKey ? `${hostPattern} ${leader.ssh.hostKey}\n` : "", { mode: 0o600 });
  removeAtExit(dir);
}

export function leaderDockerProvider(name: string, args: LeaderDockerProviderArgs, opts: pulumi.CustomResourceOptions): docker.Provider {
  if (args.connection === "local") return new docker.Provider(name, { host: LOCAL_DOCKER_HOST }, opts);
  if (!args.sshPrivateKey) throw new Error("the ssh connection needs medianest:sshPrivateKey");
  const leader = args.leader;
  // A stable path keeps the provider's inputs identical between runs (no spurious diffs).
  const digest = createHash("sha256").update(`${args.scope}/${leader.name}/${leader.address}`).digest("hex").slice(0, 16);
  const dir = path.join(os.tmpdir(), `medianest-ssh-${digest}`);
  const sshOpts = args.sshPrivateKey.apply((key) => {
    writeSshFiles(dir, leader, key);
    return dockerSshOptions(leader, dir);
  });
  return new docker.Provider(name, { host: dockerHostUrl(leader), sshOpts: pulumi.unsecret(sshOpts) }, opts);
}
