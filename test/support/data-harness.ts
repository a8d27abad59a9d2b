// Runs the data-tier container scripts as real processes outside Docker, in a throwaway
// network namespace that only has loopback: so `listen_addresses = '*'` reaches nothing but
// the test. Scripts run as root and drop privileges themselves, as in a container; secrets
// are root-only 0600 files, as Docker secrets are. Every wait is bounded in time and count.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const SCRIPTS = path.resolve(__dirname, "..", "..", "scripts");
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** Local ports for client connections in the test's namespace: below every port a test server listens on. */
const EPHEMERAL_PORTS = "20000 29999";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function works(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore", timeout: 10_000 }).status === 0;
}

/** Root, Debian's postgresql-15 and `ip netns`: what the Postgres script tests need. */
export const havePostgresHost = (): boolean =>
  process.getuid?.() === 0 && existsSync(`${PG_BIN}/postgres`) && works("id", ["postgres"]) && works("ip", ["netns", "list"]);

export interface ScriptProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output: string;
  exitCode: number | null | undefined;
}

export class DataHarness {
  readonly ns = `mn-data-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly processes: ScriptProcess[] = [];
  root = "";
  runDir = "";

  file(name: string): string {
    return path.join(this.root, name);
  }

  setUp(): void {
    this.root = mkdtempSync(path.join(os.tmpdir(), "mn-data-"));
    // The server users must traverse the root to reach their directories.
    chmodSync(this.root, 0o711);
    this.runDir = this.file("run");
    mkdirSync(this.runDir);
    chmodSync(this.runDir, 0o1777);
    if (spawnSync("ip", ["netns", "add", this.ns]).status !== 0) throw new Error(`ip netns add ${this.ns} failed`);
    spawnSync("ip", ["-n", this.ns, "link", "set", "lo", "up"]);
    // The servers' ports (55432-56398) lie in Linux's default ephemeral range (32768-60999):
    // a client connection that got one as its local port makes a later listen on it fail
    // with "Address already in use" (seen in CI). The range is per network namespace.
    const range = spawnSync("ip", ["netns", "exec", this.ns, "sh", "-c", `echo "${EPHEMERAL_PORTS}" > /proc/sys/net/ipv4/ip_local_port_range`]);
    if (range.status !== 0) throw new Error(`setting ip_local_port_range in ${this.ns} failed: ${String(range.stderr)}`);
  }

  /** Stops every process (its signal, then SIGKILL), removes the namespace and the files. */
  async tearDown(postgresDirs: readonly string[] = [], ports: readonly number[] = [], signalOf: (name: string) => NodeJS.Signals = () => "SIGINT"): Promise<void> {
    for (const p of this.processes) {
      if (!(await this.stop(p, signalOf(p.name), 15_000))) await this.stop(p, "SIGKILL", 5_000);
    }
    // A postmaster that outlived its group (it should not): stop it by its pid file.
    for (const dir of postgresDirs) {
      const pidFile = this.file(`${dir}/postmaster.pid`);
      if (this.root === "" || !existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
      if (pid > 1 && cmdline.includes(this.file(dir))) process.kill(pid, "SIGKILL");
    }
    for (const port of ports) {
      rmSync(`/var/run/postgresql/.s.PGSQL.${port}`, { force: true });
      rmSync(`/var/run/postgresql/.s.PGSQL.${port}.lock`, { force: true });
    }
    spawnSync("ip", ["netns", "del", this.ns]);
    if (this.root !== "") rmSync(this.root, { recursive: true, force: true });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const result: NodeJS.ProcessEnv = { ...process.env, TMPDIR: this.runDir };
    // Only what a call passes explicitly may authenticate it.
    delete result.REDISCLI_AUTH;
    delete result.PGPASSWORD;
    delete result.PGPASSFILE;
    return { ...result, ...extra };
  }

  inNs(command: string, args: string[], extraEnv: Record<string, string> = {}, timeout = 20_000): SpawnSyncReturns<string> {
    return spawnSync("ip", ["netns", "exec", this.ns, command, ...args], { encoding: "utf8", env: this.env(extraEnv), timeout });
  }

  runScript(name: string, args: string[], timeout = 60_000): SpawnSyncReturns<string> {
    return this.inNs("bash", [path.join(SCRIPTS, name), ...args], {}, timeout);
  }

  start(name: string, scriptName: string, args: string[]): ScriptProcess {
    const child = spawn("ip", ["netns", "exec", this.ns, "bash", path.join(SCRIPTS, scriptName), ...args], {
      env: this.env(),
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: the servers it starts are in it too, so one kill reaches all.
      detached: true,
    });
    const p: ScriptProcess = {
      name,
      child,
      output: "",
      exitCode: undefined,
      exited: new Promise<void>((resolve) => {
        child.once("exit", (code) => {
          p.exitCode = code;
          resolve();
        });
        child.once("error", () => {
          p.exitCode = null;
          resolve();
        });
      }),
    };
    const append = (chunk: Buffer) => {
      p.output = (p.output + chunk.toString("utf8")).slice(-64_000);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    this.processes.push(p);
    return p;
  }

  async stop(p: ScriptProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
    if (p.exitCode !== undefined) return true;
    const pid = p.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, signal);
      } catch {
        // Already gone.
      }
    }
    return Promise.race([p.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  }

  /** Polls check() until it returns true: at most timeoutMs and 400 attempts; fails early when a watched process exits. */
  async waitFor(what: string, check: () => boolean, timeoutMs: number, watched: ScriptProcess[] = []): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 400; attempt++) {
      if (check()) return;
      const dead = watched.find((s) => s.exitCode !== undefined);
      if (dead) throw new Error(`${dead.name} exited (${String(dead.exitCode)}) while waiting for ${what}:\n${dead.output}`);
      if (Date.now() >= deadline) break;
      await sleep(250);
    }
    const logs = watched.map((s) => `--- ${s.name}\n${s.output}`).join("\n");
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${logs}`);
  }

  writeSecret(name: string, value: string): string {
    const target = this.file(name);
    writeFileSync(target, value, { mode: 0o600 });
    chmodSync(target, 0o600);
    return target;
  }

  pgpass(name: string, user: string, password: string): string {
    return this.writeSecret(name, `*:*:*:${user}:${password.replace(/\\/g, "\\\\").replace(/:/g, "\\:")}\n`);
  }

  /** One statement as the app role over TCP (passfile, never a password argument). */
  psql(port: number, sql: string, passfile: string, user = "app", db = "medianest", timeout = 20_000): SpawnSyncReturns<string> {
    return this.inNs(`${PG_BIN}/psql`, ["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-c", sql], {
      PGPASSFILE: passfile,
      PGCONNECT_TIMEOUT: "3",
    }, timeout);
  }

  /** The superuser logs in by peer auth on the Unix socket only, as the postgres OS user. */
  superuserSql(port: number, sql: string): SpawnSyncReturns<string> {
    return spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/psql`, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(port), "-d", "postgres", "-c", sql], {
      encoding: "utf8",
      timeout: 20_000,
      cwd: "/",
    });
  }
}
