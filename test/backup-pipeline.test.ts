// The backup pipeline that proves itself (issue 13): uploads follow each dump at once,
// retention never removes the newest backup.keepLast good dumps (on disk and in a bucket,
// one rule: lib/container-lib.sh retention_victims), the pre-deploy backup refuses a
// rollout without a fresh dump, backup-age metrics and alerts, and dumps from a replica.
// Scripts run under bash with stand-ins for mc and docker; no server is needed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config/schema";
import { SCRIPTS_DIR } from "../scripts/loader";
import { backupAgeLimitSeconds, backupAlertRules } from "../topology/backup-alert-rules";
import { dataAlertRules } from "../topology/data-alert-rules";
import { backupMetricsPath, dataDirectories } from "../topology/host-setup";
import { planStack } from "../topology/stack-plan";
import { validatedStackConfig } from "./support/stack-config";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
const lib = path.join(SCRIPTS_DIR, "lib/container-lib.sh");

function victims(keep: number, cutoff: string, names: string[]): string[] {
  const result = spawnSync("bash", ["-c", `set -euo pipefail; . ${JSON.stringify(lib)}; retention_victims ${keep} ${cutoff}`], { input: names.join("\n") + "\n", encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return result.stdout.split("\n").filter((l) => l !== "").sort();
}
const pair = (stamp: string) => [`medianest-${stamp}.dump`, `medianest-${stamp}.dump.sha256`];

describe("retention: the newest backup.keepLast good dumps always stay", () => {
  it("a long outage (every dump past retention) keeps the newest N complete pairs", () => {
    const stamps = ["20200101T000000Z", "20200102T000000Z", "20200103T000000Z", "20200104T000000Z", "20200105T000000Z"];
    const names = stamps.flatMap(pair);
    // Every file is older than the cutoff: age-only pruning removed all of them.
    expect(victims(3, "20300101T000000Z", names)).toEqual([...pair(stamps[0]), ...pair(stamps[1])].sort());
  });

  it("incomplete dumps never count as good: a dump without its checksum does not displace a good one", () => {
    const names = [...pair("20200101T000000Z"), ...pair("20200102T000000Z"), "medianest-20200103T000000Z.dump", "medianest-20200104T000000Z.dump.sha256"];
    expect(victims(2, "20300101T000000Z", names)).toEqual(["medianest-20200103T000000Z.dump", "medianest-20200104T000000Z.dump.sha256"]);
  });

  it("inside retention nothing goes; other names are never touched", () => {
    const names = [...pair("20250101T000000Z"), ...pair("20250201T000000Z"), "notes.txt", "medianest-20200101T000000Z.dump.partial"];
    expect(victims(1, "20250115T000000Z", names)).toEqual(pair("20250101T000000Z"));
    expect(victims(1, "20240101T000000Z", names)).toEqual([]);
  });

  it("utc_stamp is UTC whatever the container's TZ", () => {
    const result = spawnSync("bash", ["-c", `. ${JSON.stringify(lib)}; TZ=Pacific/Auckland; utc_stamp 86400`], { encoding: "utf8" });
    expect(result.stdout).toBe("19700102T000000Z");
  });
});

/** A stand-in mc over a directory per alias/bucket: mirror copies what is not excluded, ls prints mc's indented JSON, rm hides. */
function standInMc(root: string): string {
  const bin = path.join(root, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, "mc"),
    [
      "#!/usr/bin/env bash",
      "set -euo pipefail",
      `root=${JSON.stringify(root)}`,
      `{ printf 'argv:'; printf ' %s' "$@"; printf '\\n'; } >>"$root/mc.log"`,
      'if [ -e "$root/fail" ]; then echo "mc: <ERROR> Unable to connect" >&2; exit 1; fi',
      "while [[ \"$1\" == --* ]]; do case \"$1\" in --config-dir) shift 2 ;; *) shift ;; esac; done",
      'cmd="$1"; shift',
      'case "$cmd" in',
      "  mirror)",
      '    excludes=(); while [[ "$1" == --* ]]; do case "$1" in --exclude) excludes+=("$2"); shift 2 ;; *) shift ;; esac; done',
      '    src="$1" dst="$root/remote/$2"; mkdir -p "$dst"',
      '    for f in "$src"*; do n="${f##*/}"; [ -f "$f" ] || continue; skip=0',
      '      for e in "${excludes[@]}"; do # shellcheck disable=SC2053',
      '        if [[ "$n" == $e ]]; then skip=1; fi; done',
      '      [ "$skip" = 1 ] || cp "$f" "$dst$n"; done ;;',
      "  ls)",
      '    shift; dir="$root/remote/$1"; [ -d "$dir" ] || exit 0',
      '    for f in "$dir"*; do [ -f "$f" ] || continue',
      '      printf \'{\\n "status": "success",\\n "type": "file",\\n "lastModified": "2025-01-01T00:00:00Z",\\n "size": 1,\\n "key": "%s",\\n "etag": "x"\\n}\\n\' "${f##*/}"; done ;;',
      '  rm) rm -f "$root/remote/$1" ;;',
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return bin;
}

describe("backup/upload.sh: each new dump goes up at once; the bucket is pruned by the same rule", () => {
  const root = tempDir("mn-upload-watch-");
  const bin = standInMc(root);
  const backups = path.join(root, "backups");
  const metrics = path.join(root, "metrics");
  mkdirSync(backups);
  mkdirSync(metrics);
  mkdirSync(path.join(root, "tmp"));
  for (const [name, value] of [["access", "AK"], ["secret", "SK"]]) writeFileSync(path.join(root, name), `${value}\n`, { mode: 0o600 });
  const remote = path.join(root, "remote/medianest/backups/postgres");
  const args = (extra: string[]) => [
    path.join(SCRIPTS_DIR, "backup/upload.sh"),
    ...["--dir", backups, "--db", "medianest", "--endpoint", "http://minio:9000", "--bucket", "backups", "--prefix", "postgres"],
    ...["--access-key-file", path.join(root, "access"), "--secret-key-file", path.join(root, "secret")],
    ...["--retention-days", "7", "--keep-last", "2", "--metrics-dir", metrics],
    ...extra,
  ];
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, TMPDIR: path.join(root, "tmp") };
  const writePair = (stamp: string) => {
    writeFileSync(path.join(backups, `medianest-${stamp}.dump`), `dump ${stamp}\n`);
    writeFileSync(path.join(backups, `medianest-${stamp}.dump.sha256`), `sum ${stamp}\n`);
  };

  it("a dump that appears while it watches is in the bucket within a poll; nothing is uploaded without a change", async () => {
    writePair("20200101T000000Z");
    const child = spawn("bash", args(["--poll-seconds", "1"]), { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      for (let i = 0; i < 100 && !output.includes("uploaded: 2 files"); i++) await sleep(100);
      expect(readdirSync(remote).sort()).toEqual(pair("20200101T000000Z"));
      await sleep(2_500);
      // Three polls without a new dump: no second round.
      expect(output.match(/^uploaded:/gm)?.length).toBe(1);
      // A dump without its checksum yet is not uploaded; once the pair is complete it is, at once.
      const stamp = "20991231T000000Z";
      writeFileSync(path.join(backups, `medianest-${stamp}.dump`), "new\n");
      await sleep(1_500);
      expect(existsSync(path.join(remote, `medianest-${stamp}.dump`))).toBe(false);
      const written = Date.now();
      writeFileSync(path.join(backups, `medianest-${stamp}.dump.sha256`), "sum\n");
      for (let i = 0; i < 50 && !existsSync(path.join(remote, `medianest-${stamp}.dump.sha256`)); i++) await sleep(100);
      expect(existsSync(path.join(remote, `medianest-${stamp}.dump`))).toBe(true);
      expect(Date.now() - written).toBeLessThan(3_000);
      child.kill("SIGTERM");
      expect(await Promise.race([exited, sleep(5_000).then(() => "timeout")])).toBe(143);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    const prom = readFileSync(path.join(metrics, "medianest_backup_upload_medianest.prom"), "utf8");
    expect(prom).toMatch(/^medianest_backup_offsite_newest_dump_timestamp_seconds\{database="medianest",target="medianest"\} \d+$/m);
    expect(prom).toMatch(/^medianest_backup_upload_last_success_timestamp_seconds\{database="medianest",target="medianest"\} \d+$/m);
    expect(readdirSync(metrics)).toEqual(["medianest_backup_upload_medianest.prom"]);
  }, 30_000);

  it("in the bucket, old dumps go but the newest keepLast good ones stay however old", () => {
    rmSync(remote, { recursive: true, force: true });
    for (const name of readdirSync(backups)) rmSync(path.join(backups, name));
    // An outage: the newest dumps are years old. Only the bucket has the older ones.
    for (const stamp of ["20200101T000000Z", "20200102T000000Z", "20200103T000000Z"]) writePair(stamp);
    mkdirSync(remote, { recursive: true });
    for (const name of [...pair("20190101T000000Z"), "otherdb-20190101T000000Z.dump", "README"]) writeFileSync(path.join(remote, name), "x\n");
    const result = spawnSync("bash", args(["--poll-seconds", "30", "--once"]), { env, encoding: "utf8", timeout: 20_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(readdirSync(remote).sort()).toEqual(["README", "otherdb-20190101T000000Z.dump", ...pair("20200102T000000Z"), ...pair("20200103T000000Z")].sort());
    expect(result.stdout).toContain("pruned: medianest/backups/postgres/medianest-20190101T000000Z.dump\n");
    expect(result.stdout).toContain("pruned: medianest/backups/postgres/medianest-20200101T000000Z.dump.sha256\n");
    const log = readFileSync(path.join(root, "mc.log"), "utf8");
    expect(log).not.toContain("--remove");
  });

  it("a failed prune is a warning: the copy is up, the round succeeds", () => {
    const failing = path.join(root, "bin-ls-fails");
    mkdirSync(failing, { recursive: true });
    writeFileSync(path.join(failing, "mc"), `#!/usr/bin/env bash\nif [[ " $* " == *" ls "* ]]; then exit 1; fi\nexec ${JSON.stringify(path.join(bin, "mc"))} "$@"\n`, { mode: 0o755 });
    const result = spawnSync("bash", args(["--poll-seconds", "30", "--once"]), { env: { ...env, PATH: `${failing}:${env.PATH}` }, encoding: "utf8", timeout: 20_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^warning: could not list medianest\/backups\/postgres\/ to prune it/m);
  });
});

/** A stand-in docker: `ps` lists the running task named in $root/task, `exec` runs pg-dump's stand-in. */
function standInDocker(root: string): string {
  const bin = path.join(root, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, "docker"),
    [
      "#!/usr/bin/env bash",
      `root=${JSON.stringify(root)}`,
      `printf '%s\\n' "$*" >>"$root/docker.log"`,
      'case "$1" in',
      '  ps) [ ! -e "$root/task" ] || cat "$root/task" ;;',
      '  info) case "$*" in *ControlAvailable*) [ -e "$root/manager" ] && echo true || echo false ;; *) echo mgr-1 ;; esac ;;',
      '  service) case "$2" in inspect) [ -e "$root/service" ] ;; ps) [ ! -e "$root/service-ps" ] || cat "$root/service-ps" ;; esac ;;',
      '  exec) case "$3" in test) [ ! -e "$root/missing" ] ;; *) [ ! -e "$root/dump-fails" ] || exit 1; echo "backup: /backup/medianest-20990101T000000Z.dump 123 bytes in 1 s" ;; esac ;;',
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return bin;
}

describe("swarm/predeploy-backup.sh: no rollout without a fresh dump, except a genuine first deployment", () => {
  const run = (setup: { task?: boolean; manager?: boolean; service?: boolean; servicePs?: string; database?: boolean; dumpFails?: boolean; missing?: boolean }) => {
    const root = tempDir("mn-predeploy-");
    const bin = standInDocker(root);
    const database = path.join(root, "postgres/primary");
    mkdirSync(database, { recursive: true });
    if (setup.database) writeFileSync(path.join(database, "PG_VERSION"), "15\n");
    if (setup.task) writeFileSync(path.join(root, "task"), "abc123\n");
    if (setup.manager) writeFileSync(path.join(root, "manager"), "");
    if (setup.service) writeFileSync(path.join(root, "service"), "");
    if (setup.servicePs) writeFileSync(path.join(root, "service-ps"), setup.servicePs);
    if (setup.dumpFails) writeFileSync(path.join(root, "dump-fails"), "");
    if (setup.missing) writeFileSync(path.join(root, "missing"), "");
    const argv = ["--service", "postgres-backup", "--images", "a:1,b:2", "--database-dir", database, "--wait-seconds", "1", "--", "--dir", "/backup"];
    const result = spawnSync("bash", ["-s", "--", ...argv], {
      input: readFileSync(path.join(SCRIPTS_DIR, "swarm/predeploy-backup.sh"), "utf8").replace(/^\. "\$\(dirname[^\n]*$/m, `. ${JSON.stringify(path.join(SCRIPTS_DIR, "lib/host-lib.sh"))}`),
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
      encoding: "utf8",
      timeout: 20_000,
    });
    const log = existsSync(path.join(root, "docker.log")) ? readFileSync(path.join(root, "docker.log"), "utf8") : "";
    return { ...result, log };
  };

  it("with the task here: dumps inside it and checks the dump and its checksum", () => {
    const result = run({ task: true, database: true });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.log).toContain("exec abc123 bash /run/medianest/pg-dump.sh --dir /backup --once");
    expect(result.log).toContain("exec abc123 test -s /backup/medianest-20990101T000000Z.dump -a -s /backup/medianest-20990101T000000Z.dump.sha256");
    expect(result.stdout).toMatch(/^changed: pre-deploy backup \/backup\/medianest-20990101T000000Z\.dump taken in postgres-backup/m);
  });

  it("a failed dump or a missing dump file stops the rollout", () => {
    expect(run({ task: true, dumpFails: true }).status).toBe(1);
    const missing = run({ task: true, missing: true });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/or its checksum is missing/);
  });

  it("a worker holding the database but no running backup task (scaled to 0) refuses the rollout", () => {
    const result = run({ database: true });
    expect(result.status).toBe(1);
    expect(result.stdout).not.toMatch(/^ok:/m);
    expect(result.stderr).toMatch(/^error: a database lives on .* but no postgres-backup task runs here \(waited 1 s\); the rollout stops here without a fresh backup/m);
    expect(result.stderr).toContain("deployment.preDeployBackup");
  });

  it("a manager whose service exists with no running task refuses; one whose task runs elsewhere passes", () => {
    const stopped = run({ manager: true, service: true, database: true });
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(/service postgres-backup exists but has no running task/);
    const elsewhere = run({ manager: true, service: true, servicePs: "wrk-4 Running 2 hours ago\n" });
    expect(elsewhere.status).toBe(0);
    expect(elsewhere.stdout).toMatch(/^ok: postgres-backup runs on wrk-4; the pre-deploy backup is taken by the run on that host$/m);
  });

  it("a genuine first deployment passes and says so", () => {
    const manager = run({ manager: true });
    expect(manager.status).toBe(0);
    expect(manager.stdout).toMatch(/^ok: first deployment: service postgres-backup does not exist yet/m);
    const worker = run({});
    expect(worker.status).toBe(0);
    expect(worker.stdout).toMatch(/^ok: first deployment on .*: no database in .* and no postgres-backup task here/m);
  });
});

describe("the plan: upload follows the dump, keepLast, metrics, replica dumps", () => {
  const flag = (args: readonly string[] | undefined, name: string) => {
    const list = args ?? [];
    return list.includes(name) ? list[list.indexOf(name) + 1] : undefined;
  };

  it("the uploader watches the dump directory instead of running on its own interval", () => {
    const { upload, dump } = planStack(validatedStackConfig("production")).services.backup;
    expect(upload.args).not.toContain("--interval-seconds");
    expect(flag(upload.args, "--poll-seconds")).toBe("30");
    expect(flag(dump.args, "--interval-seconds")).toBe("86400");
    for (const spec of [dump, upload]) {
      expect(flag(spec.args, "--keep-last")).toBe("7");
      expect(flag(spec.args, "--retention-days")).toBe("14");
      expect(flag(spec.args, "--metrics-dir")).toBe("/metrics");
      expect(spec.mounts).toContainEqual({ source: "/opt/medianest/backup-metrics", target: "/metrics", readOnly: false });
    }
    expect(flag(upload.args, "--db")).toBe("medianest");
  });

  it("backup.keepLast reaches both scripts", () => {
    const { upload, dump } = planStack(validatedStackConfig("production", { backup: { keepLast: 3 } })).services.backup;
    expect([flag(dump.args, "--keep-last"), flag(upload.args, "--keep-last")]).toEqual(["3", "3"]);
  });

  it("node-exporter reads the backup metrics directory on every host", () => {
    const config = validatedStackConfig("production");
    const exporter = planStack(config).services.monitoring?.nodeExporter;
    expect(exporter?.args).toContain("--collector.textfile.directory=/host/backup-metrics");
    expect(exporter?.mounts).toContainEqual({ source: backupMetricsPath(config), target: "/host/backup-metrics", readOnly: true });
    expect(dataDirectories(config)).toContainEqual({ path: "/opt/medianest/backup-metrics", mode: "0755", owner: 0, group: 0 });
  });

  it("backup.fromReplica dumps from a member that is not the primary; without a replica it is refused naming the key", () => {
    const primary = planStack(validatedStackConfig("production")).services.backup.dump;
    expect(flag(primary.args, "--host")).toBe("tasks.postgres-rw");
    const promoted = planStack(validatedStackConfig("production", { backup: { fromReplica: true }, services: { postgres: { primary: "replica-1" } } })).services.backup.dump;
    expect(flag(promoted.args, "--host")).toBe("tasks.postgres-primary");
    const replica = planStack(validatedStackConfig("production", { backup: { fromReplica: true } })).services.backup.dump;
    expect(flag(replica.args, "--host")).toBe("tasks.postgres-replica-1");
    let error: unknown;
    try {
      validatedStackConfig("homelab", { backup: { fromReplica: true } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issue = (error as ConfigError).issues.find((i) => i.key === "medianest:backup.fromReplica");
    expect(issue?.message).toMatch(/services\.postgres\.replicas/);
  });

  it("the pre-deploy backup knows the primary's data directory on the host", () => {
    const plan = planStack(validatedStackConfig("production"));
    expect(plan.predeployBackup?.args.databaseDir).toBe("/opt/medianest/postgres/primary");
  });
});

describe("backup-age alerts", () => {
  it("BackupTooOld and OffsiteCopyTooOld follow backup.intervalHours, per upload target", () => {
    const config = validatedStackConfig("production", { backup: { intervalHours: 6, offsite: { endpoint: "https://s3.backup.example.net", bucket: "far" } }, offsiteAccessKey: "a", offsiteSecretKey: "b" });
    expect(backupAgeLimitSeconds(config)).toBe(6 * 3600 + 3 * 3600);
    const rules = backupAlertRules(config);
    const byName = (name: string) => rules.filter((r) => r.alert === name);
    expect(byName("BackupTooOld")[0]?.expr).toBe('time() - max by (database) (medianest_backup_last_success_timestamp_seconds{database="medianest"}) > 32400');
    expect(byName("OffsiteCopyTooOld").map((r) => r.expr)).toEqual([
      'time() - max by (database, target) (medianest_backup_offsite_newest_dump_timestamp_seconds{database="medianest",target="medianest"}) > 34200',
      'time() - max by (database, target) (medianest_backup_offsite_newest_dump_timestamp_seconds{database="medianest",target="offsite"}) > 34200',
    ]);
    expect(byName("BackupMetricsMissing")).toHaveLength(1);
    expect(byName("OffsiteCopyMissing")).toHaveLength(2);
  });

  it("are in the data-tier rule group of every stack, whatever the replicas", () => {
    for (const stack of ["production", "homelab"] as const) {
      const names = dataAlertRules(validatedStackConfig(stack)).map((r) => r.alert);
      expect(names).toEqual(expect.arrayContaining(["BackupTooOld", "BackupMetricsMissing", "OffsiteCopyTooOld", "OffsiteCopyMissing"]));
    }
    // Daily dumps: the alert waits a day and a half.
    expect(backupAgeLimitSeconds(validatedStackConfig("homelab"))).toBe(36 * 3600);
  });

  it("with an off-site copy, the per-target rules differ by their target label and the stack plans", () => {
    const config = validatedStackConfig("production", { backup: { offsite: { endpoint: "https://s3.backup.example.net", bucket: "far" } }, offsiteAccessKey: "a", offsiteSecretKey: "b" });
    // Same name and labels twice is what promtool's duplicate-rule lint refuses (and planning did too).
    const offsite = dataAlertRules(config).filter((r) => r.alert.startsWith("OffsiteCopy"));
    expect(offsite.map((r) => [r.alert, r.labels.target])).toEqual([
      ["OffsiteCopyTooOld", "medianest"],
      ["OffsiteCopyMissing", "medianest"],
      ["OffsiteCopyTooOld", "offsite"],
      ["OffsiteCopyMissing", "offsite"],
    ]);
    expect(planStack(config).configFiles.files["prometheus-data-rules.yml"]).toContain("target: offsite");
  });
});
