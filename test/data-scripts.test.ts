// The data-tier container scripts (scripts/postgres, scripts/redis, scripts/backup) run for
// real here, outside Docker, against Debian's postgresql-15, redis-server and
// redis-sentinel packages (none of their system services is used). Every server runs in a
// throwaway network namespace that only has loopback, so `listen_addresses = '*'` and
// `bind 0.0.0.0` reach nothing but this test. The scripts run as root and drop to the
// postgres/redis users themselves, exactly as in a container; the password files are
// root-only 0600 files, as Docker secrets are.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataHarness, sleep, type ScriptProcess } from "./support/data-harness";
import { WAL_RETENTION_SQL, walRetentionMb } from "./support/wal-retention";

const SCRIPTS = path.resolve(__dirname, "..", "scripts");
const PG_BIN = "/usr/lib/postgresql/15/bin";
const PRIMARY_PORT = 55432;
const REPLICA_PORT = 55433;
const REDIS_MASTER_PORT = 56379;
const REDIS_REPLICA_PORT = 56380;
const REDIS_LATE_PORT = 56381;
const SENTINEL_PORT = 56390;
const REDIS_PROXY_PORT = 56391;
// The election after a full restart: two data nodes, a sentinel port nothing listens on, a late sentinel.
const ELECTION_MASTER_PORT = 56382;
const ELECTION_REPLICA_PORT = 56383;
const QUIET_SENTINEL_PORT = 56398;
// The election among three data nodes where two cannot see each other (each sees the third).
const PARTITION_PORTS = { fresh: 56384, cutOff: 56385, bridge: 56386 } as const;
const LATE_SENTINEL_PORT = 56392;
const CLOCK_KEY = "__medianest_clock";
// Characters that need escaping in .pgpass, SQL, redis.conf and URLs.
const APP_PASSWORD = `app:pw\\ 'q"$x`;
const ROTATED_APP_PASSWORD = "rotated:app-pw";
const REPLICATION_PASSWORD = "repl:pw\\1";
const REDIS_PASSWORD = `r"e\\dis pw`;
const SENTINEL_PASSWORD = `s"en\\tinel pw`;

function works(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore", timeout: 10_000 }).status === 0;
}

const isRoot = process.getuid?.() === 0;
const haveBinaries =
  isRoot &&
  existsSync(`${PG_BIN}/postgres`) &&
  works("redis-server", ["--version"]) &&
  works("redis-sentinel", ["--version"]) &&
  works("redis-cli", ["--version"]) &&
  works("haproxy", ["-v"]) &&
  works("id", ["haproxy"]) &&
  works("id", ["postgres"]) &&
  works("id", ["redis"]) &&
  works("ip", ["netns", "list"]);
// CI sets this where the packages are installed, so a missing binary fails instead of skipping.
const required = process.env.REQUIRE_DATA_SCRIPT_TESTS === "1";

describe.runIf(haveBinaries || required)("data-tier container scripts on Debian's packages", () => {
  const h = new DataHarness();
  const services = h.processes;
  const file = (name: string) => h.file(name);
  const inNs = (command: string, args: string[], extraEnv: Record<string, string> = {}, timeout = 20_000) => h.inNs(command, args, extraEnv, timeout);
  const runScript = (name: string, args: string[]) => h.runScript(name, args);
  const start = (name: string, scriptName: string, args: string[]) => h.start(name, scriptName, args);
  const stop = (service: ScriptProcess, signal: NodeJS.Signals, timeoutMs: number) => h.stop(service, signal, timeoutMs);
  const waitFor = (what: string, check: () => boolean, timeoutMs: number, watched: ScriptProcess[] = []) => h.waitFor(what, check, timeoutMs, watched);
  const writeSecret = (name: string, value: string) => h.writeSecret(name, value);
  const pgpass = (name: string, user: string, password: string) => h.pgpass(name, user, password);

  function psql(port: number, sql: string, passfile = file("app.pgpass"), db = "medianest"): SpawnSyncReturns<string> {
    return inNs(`${PG_BIN}/psql`, ["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "app", "-d", db, "-c", sql], {
      PGPASSFILE: passfile,
      PGCONNECT_TIMEOUT: "3",
    });
  }

  // The superuser only logs in by peer auth on the Unix socket, as the postgres OS user.
  function superuserSql(sql: string): SpawnSyncReturns<string> {
    return spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/psql`, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-p", String(PRIMARY_PORT), "-d", "postgres", "-c", sql], {
      encoding: "utf8",
      timeout: 20_000,
      cwd: "/",
    });
  }

  function redisCli(port: number, args: string[], auth = true): SpawnSyncReturns<string> {
    return inNs("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], auth ? { REDISCLI_AUTH: REDIS_PASSWORD } : {}, 10_000);
  }

  // Sentinels have their own password.
  function sentinelCli(port: number, args: string[], auth = true): SpawnSyncReturns<string> {
    return inNs("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), "--raw", ...args], auth ? { REDISCLI_AUTH: SENTINEL_PASSWORD } : {}, 10_000);
  }

  function hbaRules(dir: string): string[] {
    return readFileSync(path.join(dir, "pg_hba.conf"), "utf8")
      .split("\n")
      .map((line) => line.trim().split(/\s+/).join(" "))
      .filter((line) => line !== "" && !line.startsWith("#"));
  }

  function sha256(target: string): string {
    return createHash("sha256").update(readFileSync(target)).digest("hex");
  }

  const primaryArgs = (data = file("pg-primary")) => [
    "primary",
    ...["--data", data, "--port", String(PRIMARY_PORT), "--hba-cidr", "127.0.0.0/8"],
    ...["--db", "medianest", "--user", "app", "--password-file", file("app.pw")],
    ...["--replication-user", "replicator", "--replication-password-file", file("replication.pw")],
    ...["--slots", "replica_1", "--run-as", "postgres", "--max-connections", "150"],
  ];
  const redisArgs = (port: number, roleHint: string, sentinelHost: string) => [
    ...["--role-hint", roleHint, "--port", String(port), "--password-file", file("redis.pw"), "--data", file(`redis-${port}`)],
    ...["--maxmemory", "64mb", "--maxmemory-policy", "noeviction", "--announce-cidr", "127.0.0.0/8"],
    ...["--master-host", "127.0.0.1", "--master-port", String(REDIS_MASTER_PORT)],
    ...["--sentinel-host", sentinelHost, "--sentinel-port", String(SENTINEL_PORT), "--master-name", "medianest", "--run-as", "redis"],
    ...(sentinelHost === "" ? [] : ["--sentinel-password-file", file("sentinel.pw"), "--peer-host", "", "--nodes", "3", "--clock-key", CLOCK_KEY]),
  ];
  // A data node of the election test: the other node is the peer (same host, its own port).
  const electionArgs = (port: number, roleHint: "master" | "replica") => [
    ...["--role-hint", roleHint, "--port", String(port), "--password-file", file("redis.pw"), "--data", file(`redis-${port}`)],
    ...["--maxmemory", "64mb", "--maxmemory-policy", "noeviction", "--announce-cidr", "127.0.0.0/8"],
    ...["--master-host", "127.0.0.1", "--master-port", String(ELECTION_MASTER_PORT)],
    ...["--sentinel-host", "127.0.0.1", "--sentinel-port", String(QUIET_SENTINEL_PORT), "--master-name", "election", "--run-as", "redis"],
    ...["--sentinel-password-file", file("sentinel.pw"), "--peer-host", "127.0.0.1", "--peer-port", String(ELECTION_REPLICA_PORT)],
    ...["--nodes", "2", "--clock-key", CLOCK_KEY],
  ];
  // A data node of the partition test: it sees itself, --master-port and --peer-port only.
  const partitionArgs = (port: number, sees: [number, number], nodes: number) => [
    ...["--role-hint", "replica", "--port", String(port), "--password-file", file("redis.pw"), "--data", file(`redis-${port}`)],
    ...["--maxmemory", "64mb", "--maxmemory-policy", "noeviction", "--announce-cidr", "127.0.0.0/8"],
    ...["--master-host", "127.0.0.1", "--master-port", String(sees[0])],
    ...["--sentinel-host", "127.0.0.1", "--sentinel-port", String(QUIET_SENTINEL_PORT), "--master-name", "partition", "--run-as", "redis"],
    ...["--sentinel-password-file", file("sentinel.pw"), "--peer-host", "127.0.0.1", "--peer-port", String(sees[1])],
    ...["--nodes", String(nodes), "--clock-key", CLOCK_KEY],
  ];
  const sentinelArgs = (port: number, masterName: string, masterPort: number, data: string, extra: string[] = []) => [
    ...["--port", String(port), "--password-file", file("redis.pw"), "--sentinel-password-file", file("sentinel.pw"), "--master-name", masterName],
    ...["--master-host", "127.0.0.1", "--redis-port", String(masterPort), "--quorum", "1", ...extra],
    ...["--announce-cidr", "127.0.0.0/8", "--peer-host", "127.0.0.1", "--data", file(data), "--run-as", "redis"],
  ];
  const expectedHba = [
    "local all all peer",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host medianest app 127.0.0.0/8 scram-sha-256",
    "host replication replicator 127.0.0.0/8 scram-sha-256",
    "host postgres replicator 127.0.0.0/8 scram-sha-256",
  ];
  const postgresUid = () => Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
  const redisUid = () => Number(spawnSync("id", ["-u", "redis"], { encoding: "utf8" }).stdout.trim());
  const allOutput = () => services.map((s) => s.output).join("\n");

  beforeAll(() => {
    h.setUp();
    writeSecret("app.pw", `${APP_PASSWORD}\n`);
    writeSecret("replication.pw", REPLICATION_PASSWORD);
    writeSecret("redis.pw", `${REDIS_PASSWORD}\n`);
    writeSecret("sentinel.pw", `${SENTINEL_PASSWORD}\n`);
    pgpass("app.pgpass", "app", APP_PASSWORD);
  });

  afterAll(async () => {
    await h.tearDown(["pg-primary", "pg-replica"], [PRIMARY_PORT, REPLICA_PORT], (name) => (name.startsWith("postgres") ? "SIGINT" : "SIGTERM"));
  }, 90_000);

  describe("postgres/entrypoint.sh and the backup scripts", () => {
    it("refuses a non-empty directory that is no cluster and deletes nothing", () => {
      mkdirSync(file("pg-foreign"));
      writeFileSync(file("pg-foreign/precious.txt"), "keep me\n");
      const result = runScript("postgres/entrypoint.sh", primaryArgs(file("pg-foreign")));
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^error: .*pg-foreign' is not empty but has no PG_VERSION/m);
      expect(readFileSync(file("pg-foreign/precious.txt"), "utf8")).toBe("keep me\n");
    });

    it("primary: initialises an empty directory (wiping an interrupted bootstrap) and admits only the planned clients", async () => {
      // What a killed first start leaves behind: our staging dir, files moved out of it, no PG_VERSION.
      mkdirSync(file("pg-primary/.medianest-bootstrap/data"), { recursive: true });
      mkdirSync(file("pg-primary/base"));
      writeFileSync(file("pg-primary/base/leftover"), "");
      const primary = start("postgres-primary", "postgres/entrypoint.sh", primaryArgs());
      await waitFor("the primary to accept the app role over TCP", () => psql(PRIMARY_PORT, "SELECT 1").stdout.trim() === "1", 40_000, [primary]);
      expect(primary.output).toContain("removing the remains of an interrupted bootstrap");
      expect(existsSync(file("pg-primary/base/leftover"))).toBe(false);
      // The exec chain leaves the postmaster itself as the spawned process, running as postgres.
      expect(statSync(`/proc/${primary.child.pid}`).uid).toBe(postgresUid());
      expect(readFileSync(`/proc/${primary.child.pid}/cmdline`, "utf8").split("\0")[0]).toBe(`${PG_BIN}/postgres`);

      const dir = statSync(file("pg-primary"));
      expect([dir.mode & 0o777, dir.uid]).toEqual([0o700, postgresUid()]);
      expect(readFileSync(file("pg-primary/PG_VERSION"), "utf8").trim()).toBe("15");
      expect(existsSync(file("pg-primary/.medianest-bootstrap"))).toBe(false);
      expect(hbaRules(file("pg-primary"))).toEqual(expectedHba);
      const created = psql(PRIMARY_PORT, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'hello')");
      expect(created.stderr).toBe("");
      expect(created.status).toBe(0);
      // The app role owns its database and is nothing more.
      expect(psql(PRIMARY_PORT, "SELECT rolsuper, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = 'app'").stdout.trim()).toBe("f|f|f");
      expect(allOutput()).toContain("created replication slot replica_1");
      // --max-connections reaches the server (the app's Prisma pools are sized against it).
      expect(psql(PRIMARY_PORT, "SHOW max_connections").stdout.trim()).toBe("150");
    }, 60_000);

    it("replica: clones the primary with pg_basebackup, follows it through its slot and stays read-only", async () => {
      const replica = start("postgres-replica", "postgres/entrypoint.sh", [
        "replica",
        ...["--data", file("pg-replica"), "--port", String(REPLICA_PORT), "--primary-host", "127.0.0.1"],
        ...["--primary-port", String(PRIMARY_PORT), "--slot", "replica_1"],
        ...["--replication-user", "replicator", "--replication-password-file", file("replication.pw"), "--run-as", "postgres"],
        // A hot standby needs at least the primary's max_connections.
        ...["--max-connections", "150"],
      ]);
      await waitFor("the replica to serve the primary's row", () => psql(REPLICA_PORT, "SELECT v FROM t WHERE id = 1").stdout.trim() === "hello", 40_000, [replica]);

      expect(psql(PRIMARY_PORT, "INSERT INTO t VALUES (2, 'streamed')").status).toBe(0);
      await waitFor("a new row to stream to the replica", () => psql(REPLICA_PORT, "SELECT v FROM t WHERE id = 2").stdout.trim() === "streamed", 15_000, [replica]);

      const write = psql(REPLICA_PORT, "INSERT INTO t VALUES (3, 'nope')");
      expect(write.status).not.toBe(0);
      expect(write.stderr).toContain("read-only");
      await waitFor(
        "slot replica_1 to be active on the primary",
        () => psql(PRIMARY_PORT, "SELECT slot_name, active FROM pg_replication_slots").stdout.trim() === "replica_1|t",
        15_000,
        [replica],
      );
      expect(existsSync(file("pg-replica/standby.signal"))).toBe(true);
      const passfile = statSync(file("pg-replica/medianest-replication.pgpass"));
      expect([passfile.mode & 0o777, passfile.uid]).toEqual([0o600, postgresUid()]);
      const auto = readFileSync(file("pg-replica/postgresql.auto.conf"), "utf8");
      expect(auto.match(/^primary_conninfo = /gm)?.length).toBe(1);
      expect(auto).toMatch(/^primary_slot_name = 'replica_1'$/m);
      expect(auto).not.toContain(REPLICATION_PASSWORD);
    }, 60_000);

    it("pg-dump.sh --once writes a dump with a valid .sha256 and prunes only expired files of its database, never the newest --keep-last", () => {
      const backups = file("backups");
      mkdirSync(backups, { mode: 0o700 });
      const old = new Date(Date.now() - 30 * 86_400_000);
      const stale = ["medianest-20200101T000000Z.dump", "medianest-20200101T000000Z.dump.sha256", "medianest-20200101T000000Z.dump.partial", "medianest-20200102T000000Z.dump.sha256"];
      // After an outage: the newest good dump before this one is years old, and stays (--keep-last 2).
      const kept = ["medianest-20200103T000000Z.dump", "medianest-20200103T000000Z.dump.sha256"];
      const foreign = "otherdb-20200101T000000Z.dump";
      for (const name of [...stale, ...kept, foreign]) {
        writeFileSync(path.join(backups, name), "old\n");
        utimesSync(path.join(backups, name), old, old);
      }

      const args = ["--host", "127.0.0.1", "--port", String(PRIMARY_PORT), "--db", "medianest", "--user", "app"];
      mkdirSync(file("metrics"));
      args.push("--password-file", file("app.pw"), "--dir", backups, "--interval-seconds", "3600", "--retention-days", "7", "--keep-last", "2", "--metrics-dir", file("metrics"), "--once");
      const result = runScript("backup/pg-dump.sh", args);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      const match = /^backup: (\S+) (\d+) bytes in \d+ s$/m.exec(result.stdout);
      expect(match).not.toBeNull();
      const dump = match?.[1] ?? "";
      expect(path.dirname(dump)).toBe(backups);
      expect(path.basename(dump)).toMatch(/^medianest-\d{8}T\d{6}Z\.dump$/);
      const stat = statSync(dump);
      expect(stat.size).toBe(Number(match?.[2]));
      expect(stat.mode & 0o777).toBe(0o600);
      expect(readFileSync(`${dump}.sha256`, "utf8")).toBe(`${sha256(dump)}  ${path.basename(dump)}\n`);
      expect(readFileSync(dump).subarray(0, 5).toString("latin1")).toBe("PGDMP");

      const left = readdirSync(backups).sort();
      expect(left).toEqual([foreign, ...kept, path.basename(dump), `${path.basename(dump)}.sha256`].sort());
      const prom = readFileSync(file("metrics/medianest_backup_medianest.prom"), "utf8");
      expect(prom).toMatch(/^medianest_backup_last_success_timestamp_seconds\{database="medianest"\} \d+$/m);
      expect(prom).toContain(`medianest_backup_last_size_bytes{database="medianest"} ${stat.size}\n`);
      expect(statSync(file("metrics/medianest_backup_medianest.prom")).mode & 0o777).toBe(0o644);
      for (const name of stale) expect(result.stdout).toContain(`pruned: ${path.join(backups, name)}`);
      expect(result.stdout).not.toContain(APP_PASSWORD);
    }, 60_000);

    it("restore.sh refuses a damaged dump and a run without --yes, then restores into a fresh database", () => {
      const backups = file("backups");
      const dump = path.join(backups, readdirSync(backups).filter((n) => n.startsWith("medianest-") && n.endsWith(".dump")).sort().reverse()[0]);
      expect(superuserSql("CREATE DATABASE restored OWNER app").status).toBe(0);
      const args = (target: string, yes: boolean) => [
        ...["--file", target, "--host", "127.0.0.1", "--port", String(PRIMARY_PORT)],
        ...["--db", "restored", "--user", "app", "--password-file", file("app.pw")],
        ...(yes ? ["--yes"] : []),
      ];
      const tableInRestored = () => psql(PRIMARY_PORT, "SELECT to_regclass('public.t') IS NOT NULL", file("app.pgpass"), "restored").stdout.trim();

      const dryRun = runScript("backup/restore.sh", args(dump, false));
      expect(dryRun.status).toBe(1);
      expect(dryRun.stdout).toMatch(/^would restore: .* into database restored/m);
      expect(dryRun.stderr).toMatch(/^error: refusing to restore without --yes/m);
      expect(tableInRestored()).toBe("f");

      const damaged = file("damaged.dump");
      writeFileSync(damaged, Buffer.concat([readFileSync(dump), Buffer.from("x")]));
      copyFileSync(`${dump}.sha256`, `${damaged}.sha256`);
      const refused = runScript("backup/restore.sh", args(damaged, true));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/^error: sha256 mismatch/m);
      expect(tableInRestored()).toBe("f");

      const restored = runScript("backup/restore.sh", args(dump, true));
      expect(restored.stderr).toBe("");
      expect(restored.status).toBe(0);
      expect(restored.stdout).toMatch(new RegExp(`^restored: ${dump.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} into restored in \\d+ s$`, "m"));
      expect(psql(PRIMARY_PORT, "SELECT v FROM t ORDER BY id", file("app.pgpass"), "restored").stdout.trim()).toBe("hello\nstreamed");

      // The restore drill: a fresh throwaway server, nothing live touched, the same table hashes.
      const live = runScript("backup/restore.sh", [...args(dump, true), "--hashes"]);
      // Below a directory the server's postgres user can enter (the test's root is 0700).
      const scratch = mkdtempSync(path.join(os.tmpdir(), "mn-drill-"));
      chmodSync(scratch, 0o755);
      const drill = runScript("backup/restore.sh", ["--file", dump, "--scratch", "--scratch-dir", scratch, "--hashes"]);
      expect(drill.stderr).toBe("");
      expect(drill.status).toBe(0);
      expect(drill.stdout).toMatch(/^restored: .* into a fresh database medianest in \d+ s$/m);
      const hashes = (out: string) => out.split("\n").filter((l) => l.startsWith("hash: "));
      expect(hashes(drill.stdout)).toContain(`hash: public.t 2 ${createHash("md5").update("(1,hello)\n(2,streamed)").digest("hex")}`);
      expect(hashes(drill.stdout)).toEqual(hashes(live.stdout));
      expect(readdirSync(scratch)).toEqual([]);
      rmSync(scratch, { recursive: true, force: true });
    }, 60_000);

    it("primary: a restart on the existing directory changes nothing but re-applies a rotated password", async () => {
      const first = services.find((s) => s.name === "postgres-primary");
      expect(first).toBeDefined();
      if (first) expect(await stop(first, "SIGINT", 20_000)).toBe(true);
      expect(first?.exitCode).toBe(0);

      writeSecret("app.pw", ROTATED_APP_PASSWORD);
      pgpass("rotated.pgpass", "app", ROTATED_APP_PASSWORD);
      const again = start("postgres-primary-restarted", "postgres/entrypoint.sh", primaryArgs());
      await waitFor("the restarted primary to accept the rotated password", () => psql(PRIMARY_PORT, "SELECT 1", file("rotated.pgpass")).stdout.trim() === "1", 40_000, [again]);

      const stale = psql(PRIMARY_PORT, "SELECT 1");
      expect(stale.status).not.toBe(0);
      expect(stale.stderr).toContain("password authentication failed");
      expect(psql(PRIMARY_PORT, "SELECT count(*) FROM t", file("rotated.pgpass")).stdout.trim()).toBe("2");
      expect(hbaRules(file("pg-primary"))).toEqual(expectedHba);
      const conf = readFileSync(file("pg-primary/postgresql.conf"), "utf8");
      expect(conf.match(/^include_dir = 'conf\.d'$/gm)?.length).toBe(1);
      expect(again.output).not.toMatch(/initialising|created (role|database|replication slot)/);
      expect(psql(PRIMARY_PORT, "SELECT slot_name FROM pg_replication_slots", file("rotated.pgpass")).stdout.trim()).toBe("replica_1");
      for (const secret of [APP_PASSWORD, ROTATED_APP_PASSWORD, REPLICATION_PASSWORD]) expect(allOutput()).not.toContain(secret);
    }, 60_000);

    it("primary: a slot no configured replica uses is dropped at start; WAL kept for an absent replica is bounded", async () => {
      // What a replica removed from config leaves behind: a slot that would hold WAL forever.
      const created = superuserSql("SELECT pg_create_physical_replication_slot('replica_9') IS NOT NULL");
      expect(created.status, created.stderr).toBe(0);
      const running = services.find((s) => s.name === "postgres-primary-restarted");
      expect(running).toBeDefined();
      if (running) expect(await stop(running, "SIGINT", 20_000)).toBe(true);
      // The smallest bound the program gives (services.postgres.maxSlotWalKeepSizeMb's minimum).
      const boundMb = 256;
      const again = start("postgres-primary-bounded", "postgres/entrypoint.sh", [...primaryArgs(), "--max-slot-wal-keep-size", String(boundMb)]);
      const rotated = file("rotated.pgpass");
      await waitFor("the primary to come back", () => psql(PRIMARY_PORT, "SELECT 1", rotated).stdout.trim() === "1", 40_000, [again]);
      expect(again.output).toContain("postgres-entrypoint: dropped replication slots no replica is configured for: replica_9");
      expect(psql(PRIMARY_PORT, "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots", rotated).stdout.trim()).toBe("replica_1");
      expect(psql(PRIMARY_PORT, "SHOW max_slot_wal_keep_size", rotated).stdout.trim()).toBe(`${boundMb}MB`);
      // Slotless WAL kept for rejoins stays within the bound too, or it would be the real bound.
      expect(psql(PRIMARY_PORT, "SHOW wal_keep_size", rotated).stdout.trim()).toBe(`${boundMb}MB`);

      // The replica is away (stopped) while the primary writes more WAL than the bound:
      // one row and a segment switch at a time, 16 MB of WAL position each.
      const replica = services.find((s) => s.name === "postgres-replica");
      if (replica) expect(await stop(replica, "SIGINT", 20_000)).toBe(true);
      const sql = (query: string) => {
        const r = superuserSql(query);
        expect(r.status, r.stderr).toBe(0);
        return r.stdout.trim();
      };
      const slot = () => sql("SELECT active || ' ' || coalesce(wal_status, '-') || ' ' || coalesce(pg_size_pretty(pg_current_wal_lsn() - restart_lsn), '-') FROM pg_replication_slots WHERE slot_name = 'replica_1'");
      expect(slot()).toMatch(/^false (reserved|extended) /);
      sql("CREATE TABLE IF NOT EXISTS wal_fill (n int)");
      const segments = Math.ceil((boundMb * 1.5) / 16);
      for (let i = 0; i < segments; i++) sql(`INSERT INTO wal_fill VALUES (${i}); SELECT pg_switch_wal()`);
      sql("CHECKPOINT");
      // Past the bound the slot is invalidated (the replica needs a fresh clone) and its WAL removed.
      const after = slot();
      const [keptMb, recycledMb] = walRetentionMb(sql(WAL_RETENTION_SQL));
      const maxWalMb = Number(sql("SELECT setting::int FROM pg_settings WHERE name = 'max_wal_size'"));
      console.log(`postgres WAL bound ${boundMb} MB: ${segments * 16} MB of WAL written with replica_1 stopped; slot after a checkpoint: ${after}; pg_wal keeps ${keptMb.toFixed(0)} MB of WAL, plus ${recycledMb.toFixed(0)} MB of recycled segments (reused, never more than max_wal_size ${maxWalMb} MB)`);
      expect(after).toMatch(/^false lost /);
      // The bound, plus the segment being written.
      expect(keptMb).toBeLessThanOrEqual(boundMb + 16);
      expect(keptMb + recycledMb).toBeLessThanOrEqual(boundMb + maxWalMb);

      // README, "A replica that fell too far behind": its directory emptied, it clones again.
      // PostgreSQL 15 lets pg_basebackup -S take over the invalidated slot (it reserves WAL afresh).
      for (const entry of readdirSync(file("pg-replica"))) rmSync(path.join(file("pg-replica"), entry), { recursive: true, force: true });
      const recloned = start("postgres-replica-recloned", "postgres/entrypoint.sh", [
        "replica",
        ...["--data", file("pg-replica"), "--port", String(REPLICA_PORT), "--primary-host", "127.0.0.1"],
        ...["--primary-port", String(PRIMARY_PORT), "--slot", "replica_1"],
        ...["--replication-user", "replicator", "--replication-password-file", file("replication.pw"), "--run-as", "postgres", "--max-connections", "150"],
      ]);
      await waitFor("the re-cloned replica to serve", () => psql(REPLICA_PORT, "SELECT 1", rotated).stdout.trim() === "1", 60_000, [recloned]);
      expect(psql(PRIMARY_PORT, "INSERT INTO t VALUES (100, 'after the re-clone')", rotated).status).toBe(0);
      await waitFor("the re-cloned replica to stream a new row", () => psql(REPLICA_PORT, "SELECT v FROM t WHERE id = 100", rotated).stdout.trim() === "after the re-clone", 30_000, [recloned]);
      let slotNow = "";
      await waitFor("slot replica_1 active and reserved again", () => (slotNow = slot()).startsWith("true reserved"), 30_000, [recloned]).catch((error: Error) => {
        throw new Error(`${error.message}; slot: ${slotNow}`);
      });
      console.log(`postgres WAL bound: the re-cloned replica streams, slot ${slotNow}`);
      expect(await stop(recloned, "SIGINT", 20_000)).toBe(true);
    }, 180_000);
  });

  describe("redis/entrypoint.sh and redis/sentinel-entrypoint.sh", () => {
    it("a master requires the password and keeps its generated config private", async () => {
      const master = start("redis-master", "redis/entrypoint.sh", redisArgs(REDIS_MASTER_PORT, "master", ""));
      await waitFor("the master to answer an authenticated PING", () => redisCli(REDIS_MASTER_PORT, ["PING"]).stdout.trim() === "PONG", 20_000, [master]);

      expect(redisCli(REDIS_MASTER_PORT, ["PING"], false).stdout).toContain("NOAUTH");
      const info = redisCli(REDIS_MASTER_PORT, ["INFO", "server"]).stdout;
      const configFile = /^config_file:(.+?)\r?$/m.exec(info)?.[1] ?? "";
      expect(configFile.startsWith(h.runDir)).toBe(true);
      const stat = statSync(configFile);
      expect([stat.mode & 0o777, stat.uid]).toEqual([0o600, redisUid()]);
      expect(statSync(path.dirname(configFile)).mode & 0o777).toBe(0o700);
      expect(readFileSync(configFile, "utf8")).not.toMatch(/^replicaof /m);
      expect(redisCli(REDIS_MASTER_PORT, ["INFO", "replication"]).stdout).toMatch(/^role:master\r?$/m);
      expect(master.output).not.toContain(REDIS_PASSWORD);
    }, 30_000);

    it("a replica with --role-hint replica replicates the master", async () => {
      const replica = start("redis-replica", "redis/entrypoint.sh", redisArgs(REDIS_REPLICA_PORT, "replica", ""));
      await waitFor(
        "the replica's link to the master",
        () => {
          const info = redisCli(REDIS_REPLICA_PORT, ["INFO", "replication"]).stdout;
          return /^role:slave\r?$/m.test(info) && /^master_link_status:up\r?$/m.test(info);
        },
        20_000,
        [replica],
      );
      expect(redisCli(REDIS_MASTER_PORT, ["SET", "medianest:test", "replicated"]).stdout.trim()).toBe("OK");
      await waitFor("the key on the replica", () => redisCli(REDIS_REPLICA_PORT, ["GET", "medianest:test"]).stdout.trim() === "replicated", 10_000, [replica]);
      expect(redisCli(REDIS_REPLICA_PORT, ["SET", "medianest:test", "x"]).stdout).toContain("READONLY");
    }, 30_000);

    it("a sentinel monitors --master-host, and a sentinel's answer outranks --role-hint", async () => {
      const sentinel = start("redis-sentinel", "redis/sentinel-entrypoint.sh", sentinelArgs(SENTINEL_PORT, "medianest", REDIS_MASTER_PORT, "sentinel"));
      const masterAddress = () => sentinelCli(SENTINEL_PORT, ["SENTINEL", "get-master-addr-by-name", "medianest"]).stdout.trim();
      await waitFor("the sentinel to name the master", () => masterAddress() === `127.0.0.1\n${REDIS_MASTER_PORT}`, 20_000, [sentinel]);
      const conf = statSync(file("sentinel/sentinel.conf"));
      expect([conf.mode & 0o777, conf.uid]).toEqual([0o600, redisUid()]);
      // Sentinel commands need the Sentinel password (not the data password).
      expect(sentinelCli(SENTINEL_PORT, ["SENTINEL", "get-master-addr-by-name", "medianest"], false).stdout).toContain("NOAUTH");
      const wrong = inNs("redis-cli", ["-h", "127.0.0.1", "-p", String(SENTINEL_PORT), "--raw", "PING"], { REDISCLI_AUTH: REDIS_PASSWORD });
      expect(wrong.stdout + wrong.stderr).toMatch(/WRONGPASS|NOAUTH/);
      expect(wrong.stdout).not.toContain("PONG");
      // The password must work for the sentinel too: it sees the master's replica.
      await waitFor(
        "the sentinel to discover the replica",
        () => sentinelCli(SENTINEL_PORT, ["SENTINEL", "replicas", "medianest"]).stdout.includes(String(REDIS_REPLICA_PORT)),
        20_000,
        [sentinel],
      );

      const late = start("redis-late", "redis/entrypoint.sh", redisArgs(REDIS_LATE_PORT, "master", "127.0.0.1"));
      await waitFor(
        "the late node to follow the sentinel's master",
        () => {
          const info = redisCli(REDIS_LATE_PORT, ["INFO", "replication"]).stdout;
          return /^role:slave\r?$/m.test(info) && new RegExp(`^master_port:${REDIS_MASTER_PORT}\\r?$`, "m").test(info);
        },
        20_000,
        [late],
      );
      expect(late.output).toContain(`names 127.0.0.1:${REDIS_MASTER_PORT} as master of medianest`);
      expect(allOutput()).not.toContain(REDIS_PASSWORD);
    }, 60_000);

    it("redis/proxy-entrypoint.sh: the proxy reaches only the master, and after a Sentinel failover writes succeed again", async () => {
      const proxy = start("redis-proxy", "redis/proxy-entrypoint.sh", [
        ...["--port", String(REDIS_PROXY_PORT), "--password-file", file("redis.pw"), "--redis-port", String(REDIS_MASTER_PORT)],
        ...["--server", "127.0.0.1", "--server", `127.0.0.1:${REDIS_REPLICA_PORT}`, "--server", `127.0.0.1:${REDIS_LATE_PORT}`, "--slots", "2"],
      ]);
      const viaProxy = (args: string[]) => redisCli(REDIS_PROXY_PORT, args).stdout.trim();
      await waitFor("a write through the proxy", () => viaProxy(["SET", "medianest:proxy", "before"]) === "OK", 20_000, [proxy]);
      expect(redisCli(REDIS_MASTER_PORT, ["GET", "medianest:proxy"]).stdout.trim()).toBe("before");
      // Every request lands on the master, never on a replica (no READONLY among many).
      for (let i = 0; i < 20; i++) expect(viaProxy(["SET", `medianest:proxy:${i}`, "x"])).toBe("OK");
      // Its configuration holds the password: private, the haproxy user's, in the tmpfs.
      const confDir = readdirSync(h.runDir).find((d) => d.startsWith("medianest-redis-proxy."));
      expect(confDir).toBeDefined();
      const conf = statSync(path.join(h.runDir, confDir ?? "", "haproxy.cfg"));
      const haproxyUid = Number(spawnSync("id", ["-u", "haproxy"], { encoding: "utf8" }).stdout.trim());
      expect([conf.mode & 0o777, conf.uid]).toEqual([0o600, haproxyUid]);

      // A failover (as Sentinel runs it when the master dies): a replica is promoted.
      expect(sentinelCli(SENTINEL_PORT, ["SENTINEL", "FAILOVER", "medianest"], false).stdout).toContain("NOAUTH");
      expect(sentinelCli(SENTINEL_PORT, ["SENTINEL", "FAILOVER", "medianest"]).stdout.trim()).toBe("OK");
      const started = Date.now();
      let newMaster = "";
      await waitFor(
        "the sentinel to name a new master",
        () => {
          newMaster = sentinelCli(SENTINEL_PORT, ["SENTINEL", "get-master-addr-by-name", "medianest"]).stdout.trim().split("\n")[1] ?? "";
          return newMaster !== "" && newMaster !== String(REDIS_MASTER_PORT);
        },
        30_000,
        [proxy],
      );
      const named = (Date.now() - started) / 1000;
      await waitFor("a write through the proxy to the new master", () => viaProxy(["SET", "medianest:proxy", "after"]) === "OK" && redisCli(Number(newMaster), ["GET", "medianest:proxy"]).stdout.trim() === "after", 30_000, [proxy]);
      const seconds = (Date.now() - started) / 1000;
      console.log(`redis proxy: the sentinel names the new master (port ${newMaster}) ${named.toFixed(1)} s and writes reach it ${seconds.toFixed(1)} s after SENTINEL FAILOVER\n${proxy.output.split("\n").filter((l) => /is (UP|DOWN)/.test(l)).join("\n")}`);
      // The old master is a replica now: the proxy took it out.
      await waitFor("the old master to be a replica", () => /^role:slave\r?$/m.test(redisCli(REDIS_MASTER_PORT, ["INFO", "replication"]).stdout), 30_000, [proxy]);
      for (let i = 0; i < 20; i++) expect(viaProxy(["SET", `medianest:proxy:${i}`, "y"])).toBe("OK");
      // HAProxy reports the demoted master on stderr; the line can reach us a moment later.
      await waitFor("the proxy to report the old master down", () => /redis-1 is DOWN/.test(proxy.output), 10_000, [proxy]);
      expect(allOutput()).not.toContain(REDIS_PASSWORD);
    }, 90_000);

    it("a sentinel started again on its directory keeps its identity and epochs", async () => {
      const sentinel = services.find((s) => s.name === "redis-sentinel");
      if (!sentinel) throw new Error("the sentinel of the earlier test is not running");
      const myid = sentinelCli(SENTINEL_PORT, ["SENTINEL", "MYID"]).stdout.trim();
      expect(myid).toMatch(/^[0-9a-f]{40}$/);
      // The failover of the proxy test raised the epoch (Sentinel wrote it to its config).
      const epochOf = () => Number(/^sentinel current-epoch (\d+)$/m.exec(readFileSync(file("sentinel/sentinel.conf"), "utf8"))?.[1] ?? "0");
      await waitFor("the failover's epoch in sentinel.conf", () => epochOf() >= 1, 10_000, [sentinel]);
      const epoch = epochOf();
      expect(await stop(sentinel, "SIGTERM", 10_000)).toBe(true);
      const again = start("redis-sentinel-again", "redis/sentinel-entrypoint.sh", sentinelArgs(SENTINEL_PORT, "medianest", REDIS_MASTER_PORT, "sentinel", ["--data-host", `127.0.0.1:${REDIS_REPLICA_PORT}`, "--data-host", `127.0.0.1:${REDIS_LATE_PORT}`]));
      await waitFor("the sentinel to answer again", () => /^[0-9a-f]{40}$/.test(sentinelCli(SENTINEL_PORT, ["SENTINEL", "MYID"]).stdout.trim()), 30_000, [again]);
      expect(sentinelCli(SENTINEL_PORT, ["SENTINEL", "MYID"]).stdout.trim()).toBe(myid);
      // Sentinel rewrites its config at start: the epoch it holds, not 0.
      await waitFor("the sentinel to rewrite its config", () => readFileSync(file("sentinel/sentinel.conf"), "utf8").includes("# Generated by CONFIG REWRITE"), 10_000, [again]);
      expect(epochOf()).toBe(epoch);
      expect(allOutput()).not.toContain(SENTINEL_PASSWORD);
    }, 60_000);

    it("after a full restart the freshest dataset wins, not the redis-master task's stale one, and a new sentinel monitors it", async () => {
      const infoOf = (port: number) => redisCli(port, ["INFO", "replication"]).stdout;
      const isMaster = (port: number) => /^role:master\r?$/m.test(infoOf(port));
      const follows = (port: number, master: number) => /^role:slave\r?$/m.test(infoOf(port)) && new RegExp(`^master_port:${master}\\r?$`, "m").test(infoOf(port)) && /^master_link_status:up\r?$/m.test(infoOf(port));
      // First start, every data node empty: the redis-master task (--role-hint master) wins.
      let master = start("election-master", "redis/entrypoint.sh", electionArgs(ELECTION_MASTER_PORT, "master"));
      let replica = start("election-replica", "redis/entrypoint.sh", electionArgs(ELECTION_REPLICA_PORT, "replica"));
      await waitFor("the first election", () => isMaster(ELECTION_MASTER_PORT) && follows(ELECTION_REPLICA_PORT, ELECTION_MASTER_PORT), 60_000, [master, replica]);
      expect(master.output).toContain("electing the master among 2 data nodes");
      // Written on the master, stamped (as its healthcheck does), replicated.
      expect(redisCli(ELECTION_MASTER_PORT, ["SET", "queue:before", "1"]).stdout.trim()).toBe("OK");
      expect(redisCli(ELECTION_MASTER_PORT, ["SET", CLOCK_KEY, "100"]).stdout.trim()).toBe("OK");
      await waitFor("the replica to have both keys", () => redisCli(ELECTION_REPLICA_PORT, ["GET", CLOCK_KEY]).stdout.trim() === "100", 10_000, [master, replica]);
      // The master dies; the replica is promoted (as Sentinel does) and takes more writes.
      expect(await stop(master, "SIGTERM", 15_000)).toBe(true);
      expect(redisCli(ELECTION_REPLICA_PORT, ["REPLICAOF", "NO", "ONE"]).stdout.trim()).toBe("OK");
      expect(redisCli(ELECTION_REPLICA_PORT, ["SET", "queue:after-failover", "2"]).stdout.trim()).toBe("OK");
      expect(redisCli(ELECTION_REPLICA_PORT, ["SET", CLOCK_KEY, "200"]).stdout.trim()).toBe("OK");
      expect(await stop(replica, "SIGTERM", 15_000)).toBe(true);

      // Every data node starts at once: the redis-master task has the stale dataset.
      master = start("election-master-again", "redis/entrypoint.sh", electionArgs(ELECTION_MASTER_PORT, "master"));
      replica = start("election-replica-again", "redis/entrypoint.sh", electionArgs(ELECTION_REPLICA_PORT, "replica"));
      await waitFor("the second election", () => isMaster(ELECTION_REPLICA_PORT) && follows(ELECTION_MASTER_PORT, ELECTION_REPLICA_PORT), 90_000, [master, replica]);
      // The replica elects itself; the redis-master task elects it too or finds it master already.
      expect(replica.output).toContain(`elected 127.0.0.1:${ELECTION_REPLICA_PORT} (dataset clock 200`);
      expect(master.output).toMatch(new RegExp(`elected 127\\.0\\.0\\.1:${ELECTION_REPLICA_PORT} |127\\.0\\.0\\.1:${ELECTION_REPLICA_PORT} is already master`));
      for (const port of [ELECTION_MASTER_PORT, ELECTION_REPLICA_PORT]) {
        await waitFor(`every key on :${port}`, () => redisCli(port, ["MGET", "queue:before", "queue:after-failover"]).stdout.trim() === "1\n2", 20_000, [master, replica]);
      }

      // A sentinel with no peer to ask monitors the elected master, not --master-host.
      const sentinel = start("election-sentinel", "redis/sentinel-entrypoint.sh", sentinelArgs(LATE_SENTINEL_PORT, "election", ELECTION_MASTER_PORT, "sentinel-late", ["--data-host", `127.0.0.1:${ELECTION_REPLICA_PORT}`]));
      await waitFor("the late sentinel to name the elected master", () => sentinelCli(LATE_SENTINEL_PORT, ["SENTINEL", "get-master-addr-by-name", "election"]).stdout.trim() === `127.0.0.1\n${ELECTION_REPLICA_PORT}`, 40_000, [sentinel]);
      expect(allOutput()).not.toContain(REDIS_PASSWORD);
      expect(allOutput()).not.toContain(SENTINEL_PASSWORD);
    }, 240_000);

    it("after a full restart two data nodes that cannot see each other never both become master: only the one the third votes for does", async () => {
      const { fresh, cutOff, bridge } = PARTITION_PORTS;
      const roleOf = (port: number) => redisCli(port, ["ROLE"]).stdout.split("\n")[0].trim();
      // Each dataset gets its clock from a one-node election (it is master at once), then stops.
      for (const [port, clock] of [[fresh, 300], [cutOff, 200], [bridge, 100]] as const) {
        const seed = start(`partition-seed-${port}`, "redis/entrypoint.sh", partitionArgs(port, [port, port], 1));
        await waitFor(`:${port} master on its own`, () => roleOf(port) === "master", 30_000, [seed]);
        expect(redisCli(port, ["MSET", `partition:${port}`, "1", CLOCK_KEY, String(clock)]).stdout.trim()).toBe("OK");
        expect(await stop(seed, "SIGTERM", 15_000)).toBe(true);
      }
      // fresh and cutOff each see only bridge; bridge sees both. Under a rule that let a node
      // win on a majority of answers, fresh ({fresh, bridge}) and cutOff ({cutOff, bridge})
      // would both become master after 60 s.
      const nodes = {
        fresh: start("partition-fresh", "redis/entrypoint.sh", partitionArgs(fresh, [bridge, bridge], 3)),
        cutOff: start("partition-cut-off", "redis/entrypoint.sh", partitionArgs(cutOff, [bridge, bridge], 3)),
        bridge: start("partition-bridge", "redis/entrypoint.sh", partitionArgs(bridge, [fresh, cutOff], 3)),
      };
      const watched = Object.values(nodes);
      await waitFor("the freshest node elected with the bridge's vote", () => roleOf(fresh) === "master", 60_000, watched);
      expect(nodes.fresh.output).toContain(`elected 127.0.0.1:${fresh} (dataset clock 300; 2 of 3 data nodes vote for it)`);
      expect(nodes.bridge.output).toContain(`elected 127.0.0.1:${fresh} (dataset clock 300; 3 of 3 data nodes answered): voting for it`);
      await waitFor("the bridge to follow it", () => /^slave\n127\.0\.0\.1\n/.test(redisCli(bridge, ["ROLE"]).stdout) && redisCli(bridge, ["ROLE"]).stdout.split("\n")[2] === String(fresh), 30_000, watched);
      // Past the cut-off node's 60 s majority time: it holds its dataset and waits for votes.
      const until = Date.now() + 70_000;
      let checks = 0;
      for (; Date.now() < until && checks < 200; checks++) {
        expect(roleOf(cutOff), "the cut-off node's role").not.toBe("master");
        expect(roleOf(fresh)).toBe("master");
        await sleep(1_000);
      }
      expect(nodes.cutOff.output).toContain("waiting for a majority's votes (1 of 3)");
      expect(redisCli(bridge, ["GET", `partition:${fresh}`]).stdout.trim()).toBe("1");
      for (const node of watched) expect(await stop(node, "SIGTERM", 15_000)).toBe(true);
      expect(allOutput()).not.toContain(REDIS_PASSWORD);
    }, 240_000);
  });
});

const DATA_SCRIPTS = [
  "postgres/entrypoint.sh",
  "redis/entrypoint.sh",
  "redis/sentinel-entrypoint.sh",
  "redis/proxy-entrypoint.sh",
  "backup/pg-dump.sh",
  "backup/upload.sh",
  "backup/restore.sh",
] as const;

describe("data-tier scripts: shape and argument checks", () => {
  it.each(DATA_SCRIPTS)("%s has the house shape: bash shebang, strict mode, main \"$@\" last", (name) => {
    const lines = readFileSync(path.join(SCRIPTS, name), "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe("#!/usr/bin/env bash");
    expect(lines).toContain("set -euo pipefail");
    expect(lines[lines.length - 1]).toBe('main "$@"');
  });

  const shellcheck = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
  it.runIf(shellcheck.status === 0 || process.env.REQUIRE_SHELLCHECK === "1")("all pass shellcheck -x", () => {
    const result = spawnSync("shellcheck", ["-x", "--severity=style", ...DATA_SCRIPTS.map((n) => path.join(SCRIPTS, n))], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  const refused: [string, string[]][] = [
    ["postgres/entrypoint.sh", []],
    ["postgres/entrypoint.sh", ["standby"]],
    ["postgres/entrypoint.sh", ["primary", "--data", "/nonexistent/pg"]],
    ["postgres/entrypoint.sh", ["replica", "--data", "relative", "--port", "5432", "--primary-host", "db", "--primary-port", "5432", "--slot", "r1", "--replication-user", "repl", "--replication-password-file", "/nonexistent"]],
    ["redis/entrypoint.sh", []],
    ["redis/entrypoint.sh", ["--role-hint", "boss", "--port", "6379"]],
    ["redis/sentinel-entrypoint.sh", ["--port", "0"]],
    ["redis/proxy-entrypoint.sh", ["--port", "6379", "--password-file", "/run/secrets/x", "--redis-port", "6379", "--server", "10.0.0.1:99999", "--slots", "2"]],
    ["redis/proxy-entrypoint.sh", ["--port", "6379", "--password-file", "/run/secrets/x", "--redis-port", "6379", "--server", "tasks.redis-master", "--slots", "0"]],
    ["backup/pg-dump.sh", ["--host", "db"]],
    ["backup/upload.sh", ["--dir", "/backups", "--offsite-endpoint", "https://s3.example.net"]],
    ["backup/restore.sh", ["--file"]],
  ];
  it.each(refused)("%s %j is refused with a usage message (exit 2)", (name, args) => {
    const result = spawnSync("bash", [path.join(SCRIPTS, name), ...args], { encoding: "utf8", timeout: 10_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^usage: /m);
    expect(result.stdout).toBe("");
  });
});

// quay.io/minio/mc is not a Debian package: a stand-in `mc` records what upload.sh hands it.
describe("backup/upload.sh with a stand-in mc", () => {
  let root = "";
  const file = (name: string) => path.join(root, name);
  const ACCESS_KEY = "AKIA/EXAMPLE";
  const SECRET_KEY = "s3cr3t+/:@%";
  const encodedSecret = "s3cr3t%2B%2F%3A%40%25";

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "mn-upload-"));
    mkdirSync(file("bin"));
    mkdirSync(file("tmp"));
    writeFileSync(
      file("bin/mc"),
      [
        "#!/usr/bin/env bash",
        `{ printf 'argv:'; printf ' %s' "$@"; printf '\\n'; env | grep '^MC_HOST_' | sort; } >>'${file("mc.log")}'`,
        `if [ -e '${file("fail")}' ]; then echo 'mc: <ERROR> Unable to connect' >&2; exit 1; fi`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    mkdirSync(file("backups"));
    mkdirSync(file("backups/lost+found"));
    for (const name of ["medianest-20250101T000000Z.dump", "medianest-20250101T000000Z.dump.sha256", "medianest-20250102T000000Z.dump.partial", "notes.txt"]) {
      writeFileSync(file(`backups/${name}`), `${name}\n`);
    }
    for (const [name, value] of [["access", ACCESS_KEY], ["secret", SECRET_KEY], ["offsite-access", "OFFSITE"], ["offsite-secret", "offsite secret"]]) {
      writeFileSync(file(name), `${value}\n`, { mode: 0o600 });
    }
  });

  afterAll(() => {
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  const args = (extra: string[]) => [
    path.join(SCRIPTS, "backup/upload.sh"),
    ...["--dir", file("backups"), "--endpoint", "http://minio:9000", "--bucket", "backups", "--prefix", "postgres"],
    ...["--db", "medianest", "--access-key-file", file("access"), "--secret-key-file", file("secret")],
    ...["--retention-days", "7", "--keep-last", "7", "--poll-seconds", "3600"],
    ...extra,
  ];
  const env = () => ({ ...process.env, PATH: `${file("bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, TMPDIR: file("tmp") });

  it("mirrors only the dumps and checksums to both targets, keys only in MC_HOST_*", () => {
    rmSync(file("mc.log"), { force: true });
    const offsite = ["--offsite-endpoint", "https://s3.example.net", "--offsite-bucket", "offsite-bucket"];
    offsite.push("--offsite-access-key-file", file("offsite-access"), "--offsite-secret-key-file", file("offsite-secret"));
    const result = spawnSync("bash", args([...offsite, "--once"]), { encoding: "utf8", env: env(), timeout: 20_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const bytes = ["medianest-20250101T000000Z.dump", "medianest-20250101T000000Z.dump.sha256"].reduce((sum, n) => sum + n.length + 1, 0);
    expect(result.stdout).toBe(
      `uploaded: 2 files (${bytes} bytes) from ${file("backups")} to medianest/backups/postgres/\n` +
        `uploaded: 2 files (${bytes} bytes) from ${file("backups")} to offsite/offsite-bucket/postgres/\n`,
    );
    const log = readFileSync(file("mc.log"), "utf8");
    const calls = log.split("\n").filter((line) => line.startsWith("argv:") && line.includes(" mirror "));
    expect(calls).toHaveLength(2);
    // After each mirror, the target is listed for pruning (nothing listed here, nothing removed).
    expect(log.split("\n").filter((line) => / ls --json /.test(line))).toHaveLength(2);
    expect(log).not.toMatch(/ rm /);
    for (const call of calls) {
      expect(call).toContain(" mirror --overwrite ");
      for (const exclude of ["*.partial", "notes.txt", "lost+found/*", "medianest-20250102T000000Z.dump.partial"]) expect(call).toContain(`--exclude ${exclude} `);
      expect(call).not.toMatch(/--exclude medianest-20250101T000000Z/);
      expect(call).not.toContain("AKIA");
      expect(call).not.toContain("s3cr3t");
      expect(call).not.toContain("OFFSITE");
    }
    expect(calls[0]).toMatch(new RegExp(`${file("backups")}/ medianest/backups/postgres/$`));
    expect(calls[1]).toMatch(new RegExp(`${file("backups")}/ offsite/offsite-bucket/postgres/$`));
    expect(log).toContain(`MC_HOST_medianest=http://AKIA%2FEXAMPLE:${encodedSecret}@minio:9000\n`);
    expect(log).toContain("MC_HOST_offsite=https://OFFSITE:offsite%20secret@s3.example.net\n");
    expect(readdirSync(file("tmp"))).toEqual([]);
  });

  it("exits non-zero when mc fails, and a looping run stops promptly on SIGTERM", async () => {
    writeFileSync(file("fail"), "");
    const failed = spawnSync("bash", args(["--once"]), { encoding: "utf8", env: env(), timeout: 20_000 });
    rmSync(file("fail"));
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^error: mc mirror from .* failed/m);

    const child = spawn("bash", args([]), { env: env(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      for (let attempt = 0; attempt < 100 && !output.includes("uploaded:"); attempt++) await sleep(100);
      expect(output).toContain("uploaded: 2 files");
      child.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(5_000).then(() => "timeout")]);
      expect(code).toBe(143);
      expect(output).toContain("upload: stopped");
      expect(readdirSync(file("tmp"))).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 20_000);
});
