// The lab's hosts: one network namespace per host on the bridge mnlab0 (198.18.0.1/24 in
// the root namespace), each host's process tree in its own mount, UTS and PID namespace
// (host-init.sh is its PID 1) running sshd and Debian's dockerd. Everything lives under
// /tmp/mnlab-<runid>; cleanup.sh removes it all (also what a crashed run left behind),
// and a detached watchdog runs it should this process die without cleaning up.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync, closeSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { Engine } from "./engine";

export const BRIDGE = "mnlab0";
export const BRIDGE_ADDRESS = "198.18.0.1";
const PREFIX_LENGTH = 24;
const HOST_INIT = path.join(__dirname, "host-init.sh");
export const CLEANUP_SCRIPT = path.join(__dirname, "cleanup.sh");
/** The watchdog gives up waiting for this process after this long and cleans up anyway. */
const WATCHDOG_MAX_SECONDS = 1800;

export interface LabHostSpec {
  readonly name: string;
  readonly address: string;
}

export interface LabHost extends LabHostSpec {
  /** The host's SSH host key ("ssh-ed25519 AAAA..."): the lab pins it in the stack config. */
  readonly hostKey: string;
  readonly netns: string;
  readonly dir: string;
  readonly engine: Engine;
  readonly init: ChildProcess;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function sh(command: string, args: string[], timeout = 30_000): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}): ${result.stderr || result.error?.message || ""}`);
  return result.stdout;
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (the lab creates network namespaces, mounts and daemons)";
  if (spawnSync("ip", ["netns", "list"], { stdio: "ignore", timeout: 10_000 }).status !== 0) return "no `ip netns` (apt-get install iproute2)";
  const missing = [
    ["dockerd", "docker.io"],
    ["sshd", "openssh-server"],
    ["ssh", "openssh-client"],
    ["ssh-keygen", "openssh-client"],
    ["busybox", "busybox-static"],
    ["iptables", "iptables"],
    ["unshare", "util-linux"],
    ["tar", "tar"],
  ].filter(([bin]) => spawnSync("sh", ["-c", `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: "ignore" }).status !== 0);
  if (missing.length > 0) return `missing ${missing.map(([b]) => b).join(", ")} (apt-get install ${[...new Set(missing.map(([, p]) => p))].join(" ")})`;
  return undefined;
}

/** The mount points host-init.sh bind-mounts per host (its BINDS list is the one source). */
export function hostBindTargets(): string[] {
  const text = readFileSync(HOST_INIT, "utf8");
  const block = /^BINDS=\(\n([\s\S]*?)\n\)$/m.exec(text);
  if (!block) throw new Error("host-init.sh: no BINDS=( ... ) block");
  return block[1]
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => line.split(":")[0]);
}

/** Runs cleanup.sh (synchronously, so it also works from a signal handler). */
export function cleanupLab(): string {
  const result = spawnSync("bash", [CLEANUP_SCRIPT], { encoding: "utf8", timeout: 120_000 });
  return `${result.stdout}${result.stderr}`;
}

/**
 * Lab runs whose test process is still alive (the `--after-pid` of their watchdog): the
 * lab is one per machine, and a live run's hosts are not leftovers to remove.
 */
export function liveLabRuns(): { dir: string; pid: number }[] {
  const live: { dir: string; pid: number }[] = [];
  for (const name of readdirSync("/tmp").filter((d) => /^mnlab-[a-z0-9]+$/.test(d))) {
    const dir = `/tmp/${name}`;
    try {
      const watchdog = readFileSync(path.join(dir, "watchdog.pid"), "utf8").trim();
      const cmdline = readFileSync(`/proc/${watchdog}/cmdline`, "utf8").split("\0");
      const at = cmdline.indexOf("--after-pid");
      const pid = Number(cmdline[at + 1]);
      if (at >= 0 && cmdline.some((w) => w.endsWith("cleanup.sh")) && Number.isInteger(pid) && pid !== process.pid && existsSync(`/proc/${pid}`)) live.push({ dir, pid });
    } catch {
      // No watchdog (any more): not a live run.
    }
  }
  return live;
}

/** What the lab may have left behind; empty when the machine is clean. */
export function labLeftovers(): string[] {
  const found: string[] = [];
  const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.startsWith("mnlab-"));
  found.push(...netns.map((n) => `netns ${n}`));
  const links = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout.split("\n").map((l) => l.split(": ")[1]?.split("@")[0] ?? "");
  found.push(...links.filter((l) => l === BRIDGE || l.startsWith("mnv-")).map((l) => `link ${l}`));
  const rules = spawnSync("iptables", ["-w", "-S", "FORWARD"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.includes("--comment mnlab"));
  found.push(...rules.map((r) => `iptables ${r}`));
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue;
    }
    if (cmdline.includes("/tmp/mnlab-") || (cmdline.includes("cleanup.sh") && cmdline.includes("--after-pid"))) found.push(`process ${pid}: ${cmdline.trim()}`);
    else {
      // A chroot'ed child of the data image's debootstrap.
      let root = "";
      try {
        root = readlinkSync(`/proc/${pid}/root`);
      } catch {
        // Gone, or not ours to read.
      }
      if (root.startsWith("/tmp/mnlab-")) found.push(`process ${pid} (root ${root}): ${cmdline.trim()}`);
    }
  }
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => (l.split(" ")[4] ?? "").startsWith("/tmp/mnlab-"));
  found.push(...mounts.map((m) => `mount ${m.split(" ")[4]}`));
  found.push(...readdirSync("/tmp").filter((d) => d.startsWith("mnlab-")).map((d) => `dir /tmp/${d}`));
  if (existsSync("/sys/fs/cgroup")) {
    for (const h of readdirSync("/sys/fs/cgroup")) {
      const dir = path.join("/sys/fs/cgroup", h);
      try {
        found.push(...readdirSync(dir).filter((d) => d.startsWith("mnlab-")).map((d) => `cgroup ${path.join(dir, d)}`));
      } catch {
        // Not a directory.
      }
    }
  }
  return found;
}

function tcpOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port, timeout: 1_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * The lab host's sshd (key-only, root with a key). Like Debian's own sshd_config it
 * includes sshd_config.d first and leaves MaxStartups (10:30:100) and MaxSessions (10) at
 * their defaults: a kinder sshd would hide the dropped connections the docker provider
 * meets under parallel load (the program's sshd-sessions step raises MaxSessions itself).
 */
function sshdConfig(address: string): string {
  return [
    "Include /etc/ssh/sshd_config.d/*.conf",
    "Port 22",
    `ListenAddress ${address}`,
    "HostKey /etc/ssh/ssh_host_ed25519_key",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "AuthorizedKeysFile /root/.ssh/authorized_keys",
    "PermitUserEnvironment no",
    "X11Forwarding no",
    "PidFile /run/sshd.pid",
    "",
  ].join("\n");
}

export class Lab {
  readonly runId = randomBytes(4).toString("hex");
  readonly runDir = `/tmp/mnlab-${this.runId}`;
  readonly keyFile = path.join(this.runDir, "id_ed25519");
  readonly hosts: LabHost[] = [];
  privateKey = "";
  private readonly onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nlab: ${signal}: cleaning up\n`);
    process.stderr.write(cleanupLab());
    process.exit(signal === "SIGINT" ? 130 : 143);
  };

  /**
   * Brings up every host (sshd and dockerd answering), after removing whatever an earlier
   * (crashed) run left; on failure everything is removed again. Refuses to start while
   * another run's test process is alive (it would remove that run's hosts).
   */
  static async up(specs: readonly LabHostSpec[], timeoutMs = 90_000): Promise<Lab> {
    const live = liveLabRuns();
    if (live.length > 0) {
      throw new Error(`another lab run is in progress (${live.map((r) => `${r.dir}, test process ${r.pid}`).join("; ")}): the lab is one per machine; wait for it to end (or stop it: bash test/lab/cleanup.sh)`);
    }
    const leftovers = labLeftovers();
    if (leftovers.length > 0) {
      const shown = leftovers.slice(0, 6).join("; ") + (leftovers.length > 6 ? `; … (${leftovers.length - 6} more)` : "");
      process.stderr.write(`lab: removing leftovers of an earlier run: ${shown}\n${cleanupLab()}`);
      const still = labLeftovers();
      if (still.length > 0) throw new Error(`lab: could not remove leftovers of an earlier run: ${still.join("; ")}`);
    }
    const lab = new Lab();
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, lab.onSignal);
    try {
      await lab.start(specs, timeoutMs);
    } catch (error) {
      const logs = lab.logs();
      lab.down();
      throw new Error(`${(error as Error).message}\n${logs}`);
    }
    return lab;
  }

  host(name: string): LabHost {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no lab host ${name}`);
    return host;
  }

  byAddress(address: string): LabHost {
    const host = this.hosts.find((h) => h.address === address);
    if (!host) throw new Error(`no lab host at ${address}`);
    return host;
  }

  /** The last lines of every host's logs (for failure messages). */
  logs(lines = 15): string {
    return this.hosts
      .flatMap((h) =>
        ["init.log", "dockerd.log", "sshd.log"].map((f) => {
          const file = path.join(h.dir, f);
          const text = existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(none)";
          return `--- ${h.name} ${f}\n${text}`;
        }),
      )
      .join("\n");
  }

  /** Copies every host's logs to `dir` (LAB_LOG_DIR), for a look after the lab is gone. */
  keepLogs(dir: string): void {
    for (const h of this.hosts) {
      mkdirSync(path.join(dir, h.name), { recursive: true });
      for (const f of ["init.log", "dockerd.log", "sshd.log"]) {
        if (existsSync(path.join(h.dir, f))) copyFileSync(path.join(h.dir, f), path.join(dir, h.name, f));
      }
    }
  }

  /** Removes everything (all lab leftovers, not only this run's); returns cleanup.sh's log. */
  down(): string {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(signal, this.onSignal);
    const keep = process.env.LAB_LOG_DIR;
    if (keep && !keep.startsWith("/tmp/mnlab-")) this.keepLogs(keep);
    return cleanupLab();
  }

  private async start(specs: readonly LabHostSpec[], timeoutMs: number): Promise<void> {
    const conflict = spawnSync("ip", ["-o", "addr", "show", "to", `${BRIDGE_ADDRESS}/${PREFIX_LENGTH}`], { encoding: "utf8" }).stdout.trim();
    if (conflict !== "") throw new Error(`198.18.0.0/24 is already in use on this machine: ${conflict}`);
    mkdirSync(this.runDir, { mode: 0o755 });
    // The watchdog cleans up if this process dies without doing so (SIGKILL, crash).
    const watchdog = spawn("bash", [CLEANUP_SCRIPT, "--after-pid", String(process.pid), String(WATCHDOG_MAX_SECONDS)], { detached: true, stdio: "ignore" });
    watchdog.unref();
    writeFileSync(path.join(this.runDir, "watchdog.pid"), `${watchdog.pid}\n`);

    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `mnlab-${this.runId}`, "-f", this.keyFile]);
    this.privateKey = readFileSync(this.keyFile, "utf8");
    const publicKey = readFileSync(`${this.keyFile}.pub`, "utf8");

    // Mount points the hosts bind over: create the missing ones (recorded, removed by cleanup.sh).
    const created = path.join(this.runDir, "created-mountpoints");
    writeFileSync(created, "");
    for (const target of hostBindTargets()) {
      const missing: string[] = [];
      for (let dir = target; !existsSync(dir); dir = path.dirname(dir)) missing.unshift(dir);
      for (const dir of missing) {
        appendFileSync(created, `${dir}\n`);
        mkdirSync(dir, { mode: 0o755 });
      }
    }

    sh("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    sh("ip", ["addr", "add", `${BRIDGE_ADDRESS}/${PREFIX_LENGTH}`, "dev", BRIDGE]);
    sh("ip", ["link", "set", BRIDGE, "up"]);
    // A Docker daemon in the root namespace may leave FORWARD at DROP: let the bridge through.
    sh("iptables", ["-w", "-I", "FORWARD", "1", "-i", BRIDGE, "-o", BRIDGE, "-m", "comment", "--comment", "mnlab", "-j", "ACCEPT"]);

    for (const spec of specs) {
      const netns = `mnlab-${spec.name}`;
      const veth = `mnv-${spec.name}`;
      if (veth.length > 15) throw new Error(`host name ${spec.name} too long for an interface name`);
      const dir = path.join(this.runDir, spec.name);
      const etcSsh = path.join(dir, "fs", "etc-ssh");
      const rootSsh = path.join(dir, "fs", "root-ssh");
      mkdirSync(etcSsh, { recursive: true, mode: 0o755 });
      mkdirSync(rootSsh, { recursive: true, mode: 0o700 });
      chmodSync(rootSsh, 0o700);
      sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${spec.name}-host`, "-f", path.join(etcSsh, "ssh_host_ed25519_key")]);
      const hostKey = readFileSync(path.join(etcSsh, "ssh_host_ed25519_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
      writeFileSync(path.join(etcSsh, "sshd_config"), sshdConfig(spec.address), { mode: 0o644 });
      mkdirSync(path.join(etcSsh, "sshd_config.d"), { mode: 0o755 });
      writeFileSync(path.join(rootSsh, "authorized_keys"), publicKey, { mode: 0o600 });

      sh("ip", ["netns", "add", netns]);
      sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
      sh("ip", ["link", "set", veth, "master", BRIDGE, "up"]);
      sh("ip", ["-n", netns, "addr", "add", `${spec.address}/${PREFIX_LENGTH}`, "dev", "eth0"]);
      sh("ip", ["-n", netns, "link", "set", "eth0", "up"]);
      sh("ip", ["-n", netns, "link", "set", "lo", "up"]);

      const log = openSync(path.join(dir, "init.log"), "a");
      const init = spawn(
        "ip",
        ["netns", "exec", netns, "unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private", "bash", HOST_INIT, this.runDir, spec.name, spec.address],
        { detached: true, stdio: ["ignore", log, log] },
      );
      closeSync(log);
      init.unref();
      this.hosts.push({ ...spec, hostKey, netns, dir, engine: new Engine(path.join(dir, "docker.sock"), spec.name), init });
    }

    const deadline = Date.now() + timeoutMs;
    const exited = new Map<string, number | null>();
    for (const h of this.hosts) h.init.once("exit", (code) => exited.set(h.name, code));
    const pending = new Set(this.hosts.map((h) => h.name));
    for (let attempt = 0; attempt < 400 && pending.size > 0; attempt++) {
      for (const h of this.hosts.filter((x) => pending.has(x.name))) {
        if (exited.has(h.name)) throw new Error(`lab host ${h.name} exited (${String(exited.get(h.name))}) while starting`);
        if ((await h.engine.ping()) && (await tcpOpen(h.address, 22))) pending.delete(h.name);
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) throw new Error(`lab hosts not up after ${timeoutMs} ms: ${[...pending].join(", ")}`);
      await sleep(250);
    }
    if (pending.size > 0) throw new Error(`lab hosts not up: ${[...pending].join(", ")}`);
  }
}
