// The host scripts: shellcheck-clean, strict mode, and they refuse bad arguments
// with a usage message before touching anything.
import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { SCRIPT_NAMES, loadScript, type ScriptName } from "../scripts/loader";

const shellcheck = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
const haveShellcheck = shellcheck.status === 0;
// CI installs shellcheck and sets this, so a missing binary fails there instead of skipping.
const requireShellcheck = process.env.REQUIRE_SHELLCHECK === "1";

describe("scripts", () => {
  it.each(SCRIPT_NAMES)("%s starts with a bash shebang and set -euo pipefail", (name) => {
    const lines = loadScript(name).content.split("\n");
    expect(lines[0]).toBe("#!/usr/bin/env bash");
    expect(lines.some((line) => line.trim() === "set -euo pipefail")).toBe(true);
  });

  it.runIf(haveShellcheck || requireShellcheck)("all pass shellcheck", () => {
    const files = SCRIPT_NAMES.map((name) => loadScript(name).path);
    const result = spawnSync("shellcheck", ["-x", "--severity=style", ...files], { encoding: "utf8" });
    expect(result.error, "shellcheck must be installed (apt-get install shellcheck)").toBeUndefined();
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  const usageCases: [ScriptName, string[]][] = [
    ["host/daemon-config.sh", []],
    ["host/data-dirs.sh", []],
    ["host/data-dirs.sh", ["relative/path:0755:0:0"]],
    ["host/nfs-mount.sh", ["present", "nas"]],
    ["host/firewall.sh", ["--self", "192.0.2.1"]],
    ["host/docker-access.sh", []],
    ["swarm/init.sh", ["192.0.2.1"]],
    ["swarm/init.sh", ["swarm-member-a", "192.0.2.1", "192.0.2.1", "", "maybe"]],
    ["swarm/init.sh", ["bad owner", "192.0.2.1", "192.0.2.1", "", "false"]],
    ["swarm/join.sh", ["worker"]],
    // No MEDIANEST_JOIN_TOKEN on stdin.
    ["swarm/join.sh", ["swarm-member-b", "worker", "192.0.2.1", "192.0.2.2", "192.0.2.2", "", "abc123"]],
    ["swarm/leave.sh", []],
    ["swarm/node-config.sh", ["abc"]],
    ["swarm/node-remove.sh", []],
    ["swarm/node-remove.sh", ["swarm-node-b", "abc123", "forever"]],
    ["host/sshd-sessions.sh", []],
    ["host/sshd-sessions.sh", ["5"]],
    ["host/nfs-mount.sh", ["absent", "/mnt/media"]],
  ];
  it.each(usageCases)("%s %j is refused with a message and no change", (name, args) => {
    const result = spawnSync("bash", ["-s", "--", ...args], { input: loadScript(name).content, encoding: "utf8", timeout: 10_000 });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/usage|error/i);
    expect(result.stdout).not.toMatch(/^changed:/m);
  });

  it("bash parses every script", () => {
    for (const name of SCRIPT_NAMES) execFileSync("bash", ["-n", loadScript(name).path]);
  });
});
