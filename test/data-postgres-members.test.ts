// The Postgres members as a cluster (scripts/postgres/entrypoint.sh on Debian's
// postgresql-15, three "hosts" on loopback, each with its own identity record): synchronous
// commit, the identity guard against an empty or foreign primary, planned promotion after
// the primary's host is lost, fencing of the old primary and its rejoin with pg_rewind.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataHarness, havePostgresHost, type ScriptProcess } from "./support/data-harness";

const PORTS = { a: 55440, b: 55441, c: 55442, d: 55443 } as const;
type Host = keyof typeof PORTS;
const APP_PASSWORD = `app:pw\\ 'q"$x`;
const REPLICATION_PASSWORD = "repl:pw\\1";
// Member "a" starts as the primary; b and c are replica-1 and replica-2.
const SLOT: Readonly<Record<Host, string>> = { a: "primary", b: "replica_1", c: "replica_2", d: "primary" };
const required = process.env.REQUIRE_DATA_SCRIPT_TESTS === "1";

describe.runIf(havePostgresHost() || required)("postgres members: identity, synchronous commit, promotion, fencing, rejoin", () => {
  const h = new DataHarness();
  const dir = (host: Host) => h.file(`${host}/pg`);
  const record = (host: Host) => h.file(`${host}/cluster-id`);
  const peers = (self: Host, members: readonly Host[] = ["a", "b", "c"]) => members.filter((m) => m !== self).flatMap((m) => ["--peer", `127.0.0.1:${PORTS[m]}`]);
  const common = (host: Host) => [
    ...["--data", dir(host), "--port", String(PORTS[host]), "--cluster-record", record(host)],
    ...["--replication-user", "replicator", "--replication-password-file", h.file("replication.pw")],
    // Not the default (100): a promoted standby's private server must get it too.
    ...["--run-as", "postgres", "--max-connections", "150"],
  ];
  const primaryArgs = (host: Host, standbys: readonly Host[], withPeers = true) => [
    "primary",
    ...common(host),
    ...["--hba-cidr", "127.0.0.0/8", "--db", "medianest", "--user", "app", "--password-file", h.file("app.pw")],
    ...["--slots", standbys.map((s) => SLOT[s]).join(","), "--synchronous-standbys", standbys.map((s) => SLOT[s]).join(",")],
    ...(withPeers ? peers(host) : []),
  ];
  const replicaArgs = (host: Host, writer: Host) => [
    "replica",
    ...common(host),
    ...["--primary-host", "127.0.0.1", "--primary-port", String(PORTS[writer]), "--slot", SLOT[host]],
    ...peers(host),
  ];
  const sql = (host: Host, statement: string, timeout = 20_000) => h.psql(PORTS[host], statement, h.file("app.pgpass"), "app", "medianest", timeout);
  const value = (host: Host, statement: string) => sql(host, statement).stdout.trim();
  const running: Partial<Record<Host, ScriptProcess>> = {};
  const run = (host: Host, args: string[]) => (running[host] = h.start(`member-${host}`, "postgres/entrypoint.sh", args));
  // pg_stat_replication shows sync_state to privileged roles only.
  const quorum = (host: Host) => h.superuserSql(PORTS[host], "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'quorum'").stdout.trim();
  const inRecovery = (host: Host) => value(host, "SELECT pg_is_in_recovery()");

  beforeAll(() => {
    h.setUp();
    for (const host of Object.keys(PORTS)) mkdirSync(h.file(host), { mode: 0o755 });
    h.writeSecret("app.pw", `${APP_PASSWORD}\n`);
    h.writeSecret("replication.pw", REPLICATION_PASSWORD);
    h.pgpass("app.pgpass", "app", APP_PASSWORD);
  });

  afterAll(async () => {
    await h.tearDown((Object.keys(PORTS) as Host[]).map((host) => `${host}/pg`), Object.values(PORTS));
  }, 120_000);

  it("a new cluster: the primary records its identity, and a commit waits for ANY 1 replica", async () => {
    const a = run("a", primaryArgs("a", ["b", "c"]));
    await h.waitFor("the primary", () => value("a", "SELECT 1") === "1", 40_000, [a]);
    const sysid = readFileSync(record("a"), "utf8").trim();
    expect(sysid).toMatch(/^\d+$/);
    expect(value("a", "SHOW synchronous_standby_names")).toBe("ANY 1 (replica_1,replica_2)");
    const b = run("b", replicaArgs("b", "a"));
    const c = run("c", replicaArgs("c", "a"));
    await h.waitFor("both standbys in the quorum", () => quorum("a") === "2", 60_000, [a, b, c]);
    expect(readFileSync(record("b"), "utf8").trim()).toBe(sysid);
    expect(sql("a", "CREATE TABLE acked (n int PRIMARY KEY)").status).toBe(0);

    // With no standby, a commit is not acknowledged: it waits (statement_timeout does not
    // apply to the commit; the client gives up here after 3 s, the backend keeps waiting).
    await h.stop(b, "SIGINT", 20_000);
    await h.stop(c, "SIGINT", 20_000);
    const waiting = sql("a", "INSERT INTO acked VALUES (0)", 3_000);
    expect(waiting.status).toBeNull();
    expect(h.superuserSql(PORTS.a, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'").stdout.trim()).toBe("1");
    const restarted = [run("b", replicaArgs("b", "a")), run("c", replicaArgs("c", "a"))];
    await h.waitFor("the standbys back in the quorum", () => quorum("a") === "2", 60_000, [a, ...restarted]);
    // The waiting commit completes once a standby has it.
    await h.waitFor("the waiting commit", () => value("a", "SELECT count(*) FROM acked WHERE n = 0") === "1", 20_000);
  }, 180_000);

  it("identity guard: an empty primary next to existing members, or on a host that held data, is refused", () => {
    mkdirSync(h.file("d/pg"), { recursive: true });
    const nextToData = h.runScript("postgres/entrypoint.sh", primaryArgs("d", ["b", "c"]));
    expect(nextToData.status).toBe(1);
    expect(nextToData.stderr).toMatch(/is empty but member 127\.0\.0\.1:\d+ serves cluster \d+ .*refusing to start an empty primary/);
    expect(existsSync(h.file("d/pg/PG_VERSION"))).toBe(false);

    writeFileSync(record("d"), readFileSync(record("a")));
    const recorded = h.runScript("postgres/entrypoint.sh", primaryArgs("d", ["b", "c"], false));
    expect(recorded.status).toBe(1);
    expect(recorded.stderr).toMatch(/this host held data of cluster \d+ .*refusing to start an empty primary/);
    expect(existsSync(h.file("d/pg/PG_VERSION"))).toBe(false);
  });

  it("primary host lost: promoting replica-1 by config loses no acknowledged row; the old primary is fenced, then rejoins", async () => {
    let acked = 0;
    for (let n = 1; n <= 200; n++) {
      if (sql("a", `INSERT INTO acked VALUES (${n})`).status !== 0) break;
      acked = n;
    }
    expect(acked).toBe(200);
    // The host dies: every process of member a at once, no shutdown.
    await h.stop(running.a as ScriptProcess, "SIGKILL", 10_000);

    const timelineBefore = value("b", "SELECT timeline_id FROM pg_control_checkpoint()");
    // The config change restarts replica-1's task with the primary's settings.
    await h.stop(running.b as ScriptProcess, "SIGINT", 20_000);
    const b = run("b", primaryArgs("b", ["a", "c"]));
    await h.waitFor("replica-1 to accept writes", () => inRecovery("b") === "f", 90_000, [b]);
    expect(b.output).toContain("promoting its standby data");
    expect(Number(value("b", "SELECT timeline_id FROM pg_control_checkpoint()"))).toBeGreaterThan(Number(timelineBefore));
    expect(value("b", "SELECT count(*) FROM acked WHERE n BETWEEN 1 AND 200")).toBe("200");
    expect(existsSync(`${dir("b")}/standby.signal`)).toBe(false);

    // replica-2 follows the new primary onto its timeline without a new clone.
    await h.stop(running.c as ScriptProcess, "SIGINT", 20_000);
    const c = run("c", replicaArgs("c", "b"));
    expect(sql("b", "INSERT INTO acked VALUES (201)").status).toBe(0);
    await h.waitFor("replica-2 to stream from the new primary", () => value("c", "SELECT count(*) FROM acked WHERE n = 201") === "1", 60_000, [c]);

    // The old primary, started with its old (primary) settings, must not serve.
    const stale = h.runScript("postgres/entrypoint.sh", primaryArgs("a", ["b", "c"]), 90_000);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(/fenced: member 127\.0\.0\.1:55441 is on timeline \d+, newer than this directory's \d+/);

    // Configured as a replica of the new primary, it rewinds and follows.
    const a = run("a", replicaArgs("a", "b"));
    await h.waitFor("the old primary to stream as a standby", () => inRecovery("a") === "t" && value("a", "SELECT count(*) FROM acked WHERE n = 201") === "1", 90_000, [a]);
    expect(a.output).toMatch(/was a primary; rejoining as a standby/);
    expect(a.output).toMatch(/rewound .* onto the primary's timeline|kept the old data as/);
    expect(sql("b", "INSERT INTO acked VALUES (202)").status).toBe(0);
    await h.waitFor("a row written after the rejoin on every member", () => (["a", "c"] as const).every((m) => value(m, "SELECT count(*) FROM acked WHERE n = 202") === "1"), 30_000);
    // One primary at the end, as at every step above.
    expect((["a", "b", "c"] as const).map(inRecovery)).toEqual(["t", "f", "t"]);
  }, 300_000);

  it("a standby of another cluster refuses to start instead of serving stale data", () => {
    // Member d's directory becomes a standby of cluster "a/b/c" with the recorded identity swapped.
    writeFileSync(record("d"), "1234567890\n");
    const foreign = h.runScript("postgres/entrypoint.sh", replicaArgs("d", "b"), 90_000);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(/this host belongs to cluster 1234567890/);
  }, 120_000);
});
