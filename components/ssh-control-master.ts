// The SSH connection the docker provider multiplexes over. The provider (kreuzwerker
// terraform-provider-docker v4.5.0, internal/provider/config.go MakeClient) runs
// `ssh <sshOpts> <host> docker system dial-stdio` (docker/cli connhelper) for every HTTP
// connection it opens; under the engine's parallelism that is one SSH handshake per
// request, and sshd's MaxStartups (10:30:100) drops them at random (kreuzwerker#262).
// With ControlMaster/ControlPersist in sshOpts they all become sessions on one
// connection (sshd's MaxSessions: the sshd-sessions host step raises it on managers).
//
// Nothing here writes the private key to disk: to open that connection the program
// loads the key into a private, short-lived ssh-agent (`ssh-add -` reads it on stdin),
// starts the master through it, and stops the agent again. The master outlives the
// program by ControlPersist, which covers the deletes the engine runs after the program
// has finished. `pulumi destroy`/`refresh` do not run the program: use `--run-program`
// (or have the key in your own ssh-agent), see the README.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** How long the master stays after its last session (covers the deletes after the program). */
export const CONTROL_PERSIST_SECONDS = 600;
/** `~` is expanded by ssh itself, so the provider's stored inputs are the same on every machine. */
export const CONTROL_PATH = "~/.ssh/medianest-%C";

export interface SshEndpoint {
  readonly user: string;
  readonly address: string;
  readonly port: number;
  /** Pinned host key ("ssh-ed25519 AAAA..."): config requires it for every SSH host (config/rules.ts connection). */
  readonly hostKey: string;
}

/** known_hosts pattern: bare host on port 22, else [host]:port. */
export function knownHostsPattern(endpoint: SshEndpoint): string {
  return endpoint.port === 22 ? endpoint.address : `[${endpoint.address}]:${endpoint.port}`;
}

/**
 * Host key checking: the pinned key is given inline through KnownHostsCommand (OpenSSH >= 8.5),
 * so no known_hosts file has to exist on the machine that runs destroy or refresh, and no
 * other key is ever accepted (no trust on first use).
 */
export function hostKeyOptions(endpoint: SshEndpoint): string[] {
  return [
    "-o", "StrictHostKeyChecking=yes",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `KnownHostsCommand=/bin/echo ${knownHostsPattern(endpoint)} ${endpoint.hostKey}`,
  ];
}

/** The options the docker provider's ssh runs with (also the master's, so they share the socket). */
export function multiplexedSshOptions(endpoint: SshEndpoint): string[] {
  return [
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=15",
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=4",
    "-o", "ControlMaster=auto",
    "-o", `ControlPath=${CONTROL_PATH}`,
    "-o", `ControlPersist=${CONTROL_PERSIST_SECONDS}`,
    ...hostKeyOptions(endpoint),
  ];
}

export class ControlMasterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlMasterError";
  }
}

function destination(endpoint: SshEndpoint): string[] {
  return ["-p", String(endpoint.port), `${endpoint.user}@${endpoint.address}`];
}

/** Is a master for this endpoint already running (`ssh -O check`)? */
export function controlMasterRunning(endpoint: SshEndpoint, extraOptions: readonly string[] = []): boolean {
  const check = spawnSync("ssh", [...extraOptions, ...multiplexedSshOptions(endpoint), "-O", "check", ...destination(endpoint)], { stdio: "ignore", timeout: 10_000 });
  return check.status === 0;
}

function waitFor(predicate: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    spawnSync("sleep", ["0.05"]);
  }
  return predicate();
}

/**
 * Opens the control master to `endpoint`, authenticated with `privateKey`, unless one is
 * running. The key goes to a private ssh-agent on stdin and the agent is stopped before
 * this returns. Throws ControlMasterError with ssh's own message when it cannot connect.
 */
export async function openControlMaster(endpoint: SshEndpoint, privateKey: string, extraOptions: readonly string[] = []): Promise<void> {
  // ssh expands `~` from the passwd entry, not $HOME.
  mkdirSync(path.join(os.userInfo().homedir, ".ssh"), { recursive: true, mode: 0o700 });
  if (controlMasterRunning(endpoint, extraOptions)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), "medianest-agent-"));
  const socket = path.join(dir, "agent.sock");
  const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
  try {
    if (!waitFor(() => existsSync(socket), 5_000)) throw new ControlMasterError("ssh-agent did not start (is OpenSSH's ssh-agent installed?)");
    const env = { ...process.env, SSH_AUTH_SOCK: socket };
    const added = spawnSync("ssh-add", ["-q", "-"], { input: privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, env, encoding: "utf8", timeout: 10_000 });
    if (added.status !== 0) throw new ControlMasterError(`ssh-add refused medianest:sshPrivateKey: ${(added.stderr || "").trim() || `exit ${added.status}`}`);
    // -f: ssh goes to the background once authenticated; the foreground process then exits.
    const master = spawnSync(
      "ssh",
      // ssh keeps the first value of an option: ours go before the shared ones.
      [...extraOptions, "-o", "ControlMaster=yes", "-o", `IdentityAgent=${socket}`, ...multiplexedSshOptions(endpoint), "-N", "-f", ...destination(endpoint)],
      { env, encoding: "utf8", timeout: 30_000, stdio: ["ignore", "ignore", "pipe"] },
    );
    if (master.status !== 0) {
      throw new ControlMasterError(`ssh to ${endpoint.user}@${endpoint.address}:${endpoint.port} failed: ${(master.stderr || "").trim() || `exit ${master.status}`}`);
    }
  } finally {
    agent.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Closes the master (`ssh -O exit`), if one runs: for tests and the lab. */
export function closeControlMaster(endpoint: SshEndpoint, extraOptions: readonly string[] = []): void {
  spawnSync("ssh", [...extraOptions, ...multiplexedSshOptions(endpoint), "-O", "exit", ...destination(endpoint)], { stdio: "ignore", timeout: 10_000 });
}
