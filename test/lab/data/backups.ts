// The lab, part 2: the backup pipeline on the real hosts. A restore drill: the program's own
// postgres-backup service writes a dump with its checksum, and the README's restore
// procedures, run as written over SSH on the backup's host, restore it into the live
// database and into a fresh one; every table's content hash matches the source. And the
// pre-deploy backup refuses a rollout while the backup service is scaled to 0.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { expect, it } from "vitest";
import { mockedRun, REPO_ROOT } from "../../support/mocked-run";
import { runOverSsh } from "../commands";
import type { LabHost } from "../lab-hosts";
import { since, sleep, until } from "./probes";
import { BACKUP, type DataLabSession } from "./session";

/** The bash block that follows `marker` in the README: the procedure as an operator reads it. */
export function readmeBlock(marker: string): string {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README has no "${marker}"`);
  const block = /```bash\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README has no bash block after "${marker}"`);
  return block[1];
}

// The same per-table hash as restore.sh's print_hashes (the rows as text, sorted, md5), computed
// here on the source independently of the script.
const TABLES_SQL = "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";
const hashSql = (table: string) => `SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), 'empty') FROM ${table} r`;
const hashLines = (output: string) => output.split("\n").filter((l) => l.startsWith("hash: ")).sort();

export function backupScenarios(s: DataLabSession): void {
  const sshTarget = (host: LabHost) => ({ address: host.address, user: "root", port: 22, keyFile: s.lab.keyFile });
  const ssh = async (host: LabHost, command: string, timeoutMs = 300_000) => {
    const out = await runOverSsh(sshTarget(host), "bash -s", command, timeoutMs);
    if (out.code !== 0) throw new Error(`on ${host.name}: exited ${String(out.code)}: ${out.stderr.trim().slice(-400)}`);
    return out.stdout;
  };
  const PSQL = 'exec psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U medianest -d medianest -c "$1"';
  const sql = async (statement: string): Promise<string> => {
    const t = await s.one("postgres-primary");
    const result = await t.host.engine.exec(t.containerId, ["bash", "-c", `PGPASSWORD="$(cat /run/secrets/postgres-password)" ${PSQL}`, "psql", statement]);
    if (result.code !== 0) throw new Error(`psql exited ${result.code}: ${result.output}`);
    return result.output.trim();
  };
  const sourceHashes = async () => {
    const tables = (await sql(TABLES_SQL)).split("\n").filter((t) => t !== "");
    const lines: string[] = [];
    for (const table of tables) lines.push(`hash: ${table} ${await sql(hashSql(table))}`);
    return lines.sort();
  };

  it("restore drill: the backup service's dump, restored by the README's procedures into the live database and a fresh one, matches every table", async () => {
    const { requireStep, check, one, done } = s;
    requireStep("postgres");
    await check("restore drill: postgres-backup's dump + checksum, README procedure into the live db and a fresh one, every table's hash equal", async () => {
      await sql("CREATE TABLE IF NOT EXISTS lab_restore (id int PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())");
      await sql("INSERT INTO lab_restore (id, payload) SELECT i, md5(i::text) FROM generate_series(1, 20000) i ON CONFLICT DO NOTHING");
      const source = await sourceHashes();
      expect(source.some((l) => l.startsWith("hash: public.lab_restore 20000 "))).toBe(true);

      // The service's own round: restarting its task makes it dump at once.
      const host = (await one(BACKUP)).host;
      const newest = `ls -1 ${"/mnt/backup"}/medianest-*.dump.sha256 2>/dev/null | tail -n 1`;
      const before = (await ssh(host, newest)).trim();
      const restarted = Date.now();
      await ssh(s.lab.host(s.managerName), `docker service update --force --detach ${BACKUP} >/dev/null`);
      const { value: checksum } = await until("postgres-backup writes a new dump with its checksum", 180_000, 1_000, async () => {
        const latest = (await ssh(host, newest)).trim();
        return latest !== "" && latest !== before ? latest : undefined;
      });
      const dumpFile = checksum.replace(/\.sha256$/, "");
      const logLine = (await ssh(host, `docker logs "$(docker ps -q -f label=com.docker.swarm.service.name=${BACKUP} | head -n 1)" 2>&1 | grep '^backup: ' | tail -n 1`)).trim();
      const m = /^backup: \S+ (\d+) bytes in (\d+) s$/.exec(logLine);
      expect(m, `the service's log line: ${logLine}`).not.toBeNull();
      const [bytes, dumpSeconds] = [Number(m?.[1]), Number(m?.[2])];
      expect((await ssh(host, `cd /mnt/backup && sha256sum -c ${path.basename(checksum)}`)).trim()).toBe(`${path.basename(dumpFile)}: OK`);
      // A row written after the dump: restoring into the live database removes it again.
      await sql("INSERT INTO lab_restore (id, payload) VALUES (99999999, 'after the dump')");

      // The README's procedures, as written (they take the newest dump: the one just written).
      const live = readmeBlock("**Restore a dump into the live database**");
      let started = Date.now();
      const liveOut = await ssh(host, `set -euo pipefail\n${live}`);
      const liveSeconds = since(started);
      expect(liveOut).toContain(`restored: /backup/${path.basename(dumpFile)} into medianest in `);
      expect(hashLines(liveOut)).toEqual(source);
      expect(await sourceHashes()).toEqual(source);
      expect(await sql("SELECT count(*) FROM lab_restore WHERE id = 99999999")).toBe("0");

      const fresh = readmeBlock("**Restore drill into a fresh database**");
      started = Date.now();
      const freshOut = await ssh(host, `set -euo pipefail\n${fresh}`);
      const freshSeconds = since(started);
      expect(freshOut).toContain(`restored: /backup/${path.basename(dumpFile)} into a fresh database medianest in `);
      expect(hashLines(freshOut)).toEqual(source);
      done.add("restore-drill");
      return `dump ${dumpSeconds} s (written ${since(restarted).toFixed(0)} s after the restart), ${(bytes / 1024).toFixed(0)} KiB; restore into live ${liveSeconds.toFixed(1)} s, into a fresh db ${freshSeconds.toFixed(1)} s; ${source.length} tables' hashes equal`;
    });
  }, 420_000);

  it("pre-deploy backup: with postgres-backup scaled to 0 an image change's rollout is refused", async () => {
    const { requireStep, check, converge } = s;
    requireStep("rolling");
    await check("pre-deploy backup refuses the rollout with the backup service scaled to 0 (and runs again once it is back)", async () => {
      const images = s.config["medianest:images"] as Record<string, string>;
      const run = await mockedRun("lab", { config: { ...s.config, "medianest:images": { ...images, backend: "medianest-lab/standin:refused" } } });
      const commands = run.resources.filter((r) => r.type === "command:remote:Command" && r.parent.includes("$medianest:deploy:PreDeployBackup::"));
      expect(commands.length).toBeGreaterThan(0);
      const manager = s.lab.host(s.managerName);
      await ssh(manager, `docker service scale ${BACKUP}=0 >/dev/null`);
      const outputs: string[] = [];
      try {
        await until("the backup task is gone", 120_000, 1_000, async () => ((await s.tasks(BACKUP)).some((t) => t.Status.State === "running") ? undefined : true));
        for (const r of commands) {
          const host = s.lab.host(r.name.replace(/^predeploy-backup-/, ""));
          const started = Date.now();
          const out = await runOverSsh(sshTarget(host), String(r.inputs.create), String(r.inputs.stdin), 300_000);
          expect(out.code, `${r.name} must refuse: ${out.stdout}`).toBe(1);
          expect(out.stderr).toMatch(/the rollout stops here without a fresh backup/);
          outputs.push(`${host.name} refused in ${since(started).toFixed(0)} s: ${out.stderr.trim().split("\n").pop()?.replace(/^error: /, "").slice(0, 90) ?? ""}`);
        }
      } finally {
        await ssh(manager, `docker service scale ${BACKUP}=1 >/dev/null`);
        await converge([BACKUP], 180_000);
      }
      await sleep(1_000);
      // Back up: the same command takes a backup again.
      const [first] = commands;
      const again = await runOverSsh(sshTarget(s.lab.host(first.name.replace(/^predeploy-backup-/, ""))), String(first.inputs.create), String(first.inputs.stdin), 300_000);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/^changed: pre-deploy backup \S+ taken in postgres-backup/m);
      return outputs.join("; ");
    });
  }, 480_000);
}
