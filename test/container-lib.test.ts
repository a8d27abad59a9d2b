// The Redis master lookup both Redis entrypoints share (lib/container-lib.sh's
// ask_for_master), against stand-in sentinels: a stub redis-cli that answers as scripted.
// A sentinel that names a master which does not answer (the old master, named again while
// a failover runs) is not followed while another answer may still come.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SCRIPTS_DIR } from "../scripts/loader";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs ask_for_master with SENTINELS behind the name; `names(call)` is what the n-th
 * get-master-addr-by-name answers, `answering` the masters whose ROLE is master
 * (`replicas` answer ROLE as replicas).
 */
function lookup(args: string[], sentinels: string[], names: string[], answering: string[], replicas: string[] = []) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mn-container-lib-"));
  dirs.push(dir);
  const cli = path.join(dir, "redis-cli");
  writeFileSync(
    cli,
    [
      "#!/usr/bin/env bash",
      "set -euo pipefail",
      `state=${JSON.stringify(path.join(dir, "calls"))}`,
      'host="" port=""',
      'args=("$@")',
      'for ((i = 0; i < ${#args[@]}; i++)); do case "${args[$i]}" in -h) host="${args[$((i + 1))]}" ;; -p) port="${args[$((i + 1))]}" ;; esac; done',
      'if [ "${*: -1}" = ROLE ]; then',
      `  case " ${answering.join(" ")} " in *" $host:$port "*) printf "master\\n0\\n"; exit 0 ;; esac`,
      `  case " ${replicas.join(" ")} " in *" $host:$port "*) printf "slave\\n10.0.9.99\\n6379\\nconnected\\n0\\n"; exit 0 ;; esac`,
      "  exit 1",
      "fi",
      'printf "%s %s\\n" "$host" "${REDISCLI_AUTH:-}" >>"$state.auth"',
      'printf "%s\\n" "$host" >>"$state.asked"',
      'n=$(( $(cat "$state" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$state"',
      `answers=(${names.map((n) => JSON.stringify(n)).join(" ")})`,
      'answer="${answers[$(( n <= ${#answers[@]} ? n - 1 : ${#answers[@]} - 1 ))]}"',
      'printf "%s\\n%s\\n" "${answer%:*}" "${answer#*:}"',
    ].join("\n"),
  );
  chmodSync(cli, 0o755);
  const program = [
    "set -euo pipefail",
    `. ${JSON.stringify(path.join(SCRIPTS_DIR, "lib/container-lib.sh"))}`,
    "SCRIPT=test PASSWORD=secret SENTINEL_PASSWORD=sentinel-secret MASTER_IP='' MASTER_PORT=''",
    `find_binary() { printf '%s' ${JSON.stringify(cli)}; }`,
    `resolve_ipv4() { printf '%s\\n' ${sentinels.map((s) => JSON.stringify(s)).join(" ")}; }`,
    "usage() { exit 2; }",
    // The retry pause is wall time only: the stand-ins answer at once.
    "sleep() { :; }",
    `if ask_for_master ${args.map((a) => JSON.stringify(a)).join(" ")}; then echo "master=$MASTER_IP:$MASTER_PORT"; else echo none; fi`,
  ].join("\n");
  const result = spawnSync("bash", ["-c", program], { encoding: "utf8", timeout: 60_000 });
  const lines = (name: string): string[] => {
    try {
      return readFileSync(path.join(dir, name), "utf8").trim().split("\n");
    } catch {
      return [];
    }
  };
  return { status: result.status, stdout: result.stdout.trim(), log: result.stdout + result.stderr, asked: lines("calls.asked"), auth: lines("calls.auth") };
}

describe("ask_for_master (Redis data nodes and Sentinels alike)", () => {
  it("follows a named master only once it answers", () => {
    const result = lookup(["tasks.redis-sentinel", "26379", "medianest", ""], ["10.0.9.21"], ["10.0.9.11:6379", "10.0.9.12:6379"], ["10.0.9.12:6379"]);
    expect(result.stdout.split("\n").pop()).toBe("master=10.0.9.12:6379");
    expect(result.log).toContain("names 10.0.9.11:6379, which does not answer");
  });

  it("does not follow a named address where a replica answers (an address a new task reused)", () => {
    const result = lookup(["tasks.redis-sentinel", "26379", "medianest", ""], ["10.0.9.21"], ["10.0.9.11:6379", "10.0.9.12:6379"], ["10.0.9.12:6379"], ["10.0.9.11:6379"]);
    expect(result.stdout.split("\n").pop()).toBe("master=10.0.9.12:6379");
    expect(result.log).toContain("names 10.0.9.11:6379, which does not answer as a master");
  });

  it("authenticates to the sentinels with the Sentinel password, not the data password", () => {
    const result = lookup(["tasks.redis-sentinel", "26379", "medianest", ""], ["10.0.9.21"], ["10.0.9.12:6379"], ["10.0.9.12:6379"]);
    expect(result.stdout.split("\n").pop()).toBe("master=10.0.9.12:6379");
    expect(result.auth).toEqual(["10.0.9.21 sentinel-secret"]);
  });

  it("takes itself as master when named, without asking it", () => {
    const result = lookup(["tasks.redis-sentinel", "26379", "medianest", "", "10.0.9.11", "6379"], ["10.0.9.21"], ["10.0.9.11:6379"], []);
    expect(result.stdout.split("\n").pop()).toBe("master=10.0.9.11:6379");
  });

  it("a sentinel does not ask itself, and checks what its peers name", () => {
    const result = lookup(["tasks.redis-sentinel", "26379", "medianest", "10.0.9.21"], ["10.0.9.21", "10.0.9.22"], ["10.0.9.11:6379", "10.0.9.12:6379"], ["10.0.9.12:6379"]);
    expect(result.stdout.split("\n").pop()).toBe("master=10.0.9.12:6379");
    expect(new Set(result.asked)).toEqual(new Set(["10.0.9.22"]));
  });

  it("both entrypoints use it: neither keeps a lookup of its own", () => {
    for (const script of ["redis/entrypoint.sh", "redis/sentinel-entrypoint.sh"]) {
      const text = readFileSync(path.join(SCRIPTS_DIR, script), "utf8");
      expect(text, script).toMatch(/ask_for_master /);
      expect(text, script).not.toMatch(/get-master-addr-by-name/);
    }
  });
});
