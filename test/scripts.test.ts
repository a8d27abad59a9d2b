// The host scripts: shellcheck-clean (through npm run lint), strict mode, and they refuse bad arguments
// with a usage message before touching anything.
import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseScriptArgv, scriptArgv, scriptCall, shellFlagSpec } from "../scripts/interfaces";
import { SCRIPT_NAMES, loadScript, type ScriptName } from "../scripts/loader";


describe("scripts", () => {
  it.each(SCRIPT_NAMES)("%s starts with a bash shebang and set -euo pipefail", (name) => {
    const lines = loadScript(name).content.split("\n");
    expect(lines[0]).toBe("#!/usr/bin/env bash");
    expect(lines.some((line) => line.trim() === "set -euo pipefail")).toBe(true);
  });

  // shellcheck itself runs in `npm run lint` (a CI gate; ~10 s of CPU, too much for the unit
  // suite's minute). Here: the lint command's globs cover every script the program ships.
  it("npm run lint shellchecks every shipped script", () => {
    const lint = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts.lint;
    const command = /shellcheck (.*?)(?:&&|$)/.exec(lint)?.[1]?.trim().split(/\s+/) ?? [];
    expect(command[0], "lint runs shellcheck -x").toBe("-x");
    const globs = command.filter((word) => !word.startsWith("-"));
    // The globs as the shell reads them: `*` matches within one path segment.
    const patterns = globs.map((glob) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`));
    const files = SCRIPT_NAMES.map((name) => relative(process.cwd(), loadScript(name).path));
    expect(files.filter((file) => !patterns.some((pattern) => pattern.test(file)))).toEqual([]);
  });

  const usageCases: [ScriptName, string[]][] = [
    ["host/check-os.sh", ["extra"]],
    ["host/daemon-config.sh", []],
    ["host/daemon-config.sh", ["{}"]],
    ["host/data-dirs.sh", []],
    ["host/data-dirs.sh", ["--dir", "relative/path:0755:0:0"]],
    ["host/data-dirs.sh", ["--dir", "/tmp/mn-never:0755:0:0", "--local-only", "/tmp/mn-never"]],
    ["host/data-dirs.sh", ["--dir", "/tmp/mn-never:0755:0:0", "--minio-move", "/mnt/media"]],
    ["host/docker-mounts.sh", ["--state", "present", "--owner", "h1-docker-mounts"]],
    ["host/docker-mounts.sh", ["--state", "present", "--mount-point", "/", "--owner", "h1-docker-mounts"]],
    ["host/docker-mounts.sh", ["--state", "absent", "--mount-point", "/mnt/media", "--owner", "h1-docker-mounts"]],
    ["host/docker-mounts.sh", ["--state", "absent", "--owner", "h1-docker-mounts", "--unit-dir", "relative"]],
    ["host/nfs-mount.sh", ["--state", "present", "--server", "nas"]],
    ["host/nfs-mount.sh", ["--state", "absent", "--mount-point", "/mnt/media"]],
    ["host/nfs-mount.sh", ["--state", "absent", "--mount-point", "/mnt/media", "--owner", "h1-nfs-mount", "--server", "nas"]],
    ["host/firewall.sh", ["--self", "192.0.2.1"]],
    ["host/docker-access.sh", []],
    ["host/docker-access.sh", ["--user", "Not A User"]],
    ["swarm/init.sh", ["--advertise-addr", "192.0.2.1"]],
    ["swarm/init.sh", ["--owner", "swarm-member-a", "--advertise-addr", "192.0.2.1", "--listen-addr", "192.0.2.1", "--autolock", "maybe"]],
    ["swarm/init.sh", ["--owner", "bad owner", "--advertise-addr", "192.0.2.1", "--listen-addr", "192.0.2.1", "--autolock", "false"]],
    ["swarm/init.sh", ["--owner", "swarm-member-a", "--owner", "swarm-member-b", "--advertise-addr", "192.0.2.1", "--listen-addr", "192.0.2.1", "--autolock", "false"]],
    ["swarm/join.sh", ["--role", "worker"]],
    // No MEDIANEST_JOIN_TOKEN on stdin.
    ["swarm/join.sh", ["--owner", "swarm-member-b", "--role", "worker", "--leader-addr", "192.0.2.1", "--advertise-addr", "192.0.2.2", "--listen-addr", "192.0.2.2", "--cluster-id", "abc123"]],
    ["swarm/leave.sh", []],
    ["swarm/leave.sh", ["swarm-member-a"]],
    ["swarm/node-config.sh", ["--owner", "abc"]],
    ["swarm/node-config.sh", ["--owner", "swarm-node-a", "--node-id", "abc", "--role", "worker", "--availability", "active", "--label", "no-equals-sign"]],
    ["swarm/node-remove.sh", []],
    ["swarm/node-remove.sh", ["--owner", "swarm-node-b", "--node-id", "abc123", "--drain-timeout", "forever"]],
    ["swarm/node-remove.sh", ["--owner", "swarm-node-b", "--node-id", "abc123", "--drain-timeout", "30", "--stateful", "postgres primary"]],
    ["swarm/predeploy-backup.sh", ["--service", "postgres-backup", "--images", "a:1"]],
    ["host/sshd-sessions.sh", []],
    ["host/sshd-sessions.sh", ["--max-sessions", "5"]],
  ];
  it.each(usageCases)("%s %j is refused with a message and no change", (name, args) => {
    const result = spawnSync("bash", ["-s", "--", ...args], { input: loadScript(name).content, encoding: "utf8", timeout: 10_000 });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/usage|error/i);
    expect(result.stdout).not.toMatch(/^changed:/m);
  });

  // The shell side of each interface: the names a script hands to parse_flags are the
  // flags scripts/interfaces.ts writes for it.
  it.each(SCRIPT_NAMES)("%s parses exactly the flags of its TypeScript interface", (name) => {
    const specs = [...readFileSync(loadScript(name).path, "utf8").matchAll(/^\s*parse_flags "([^"]*)" "\$@"$/gm)].map((m) => m[1]);
    expect(specs, "one parse_flags call").toHaveLength(1);
    expect(specs[0].split(" ").filter((w) => w !== "").sort()).toEqual(shellFlagSpec(name).sort());
  });

  it.each(SCRIPT_NAMES)("%s takes its helpers from lib/host-lib.sh, bundled into what is sent", (name) => {
    const file = readFileSync(loadScript(name).path, "utf8");
    const sent = loadScript(name).content;
    // The library once, in place of the source line; no private copy of its helpers.
    expect(file).toContain('. "$(dirname "${BASH_SOURCE[0]}")/../lib/host-lib.sh"');
    expect(sent).not.toContain("BASH_SOURCE");
    expect(sent.match(/^die\(\) \{/gm)).toHaveLength(1);
    expect(file).not.toMatch(/^(die|say|with_port|has_systemd|require_docker|require_manager|claim_membership)\(\)/m);
  });

  it("a call's flags round-trip through the interface, in one fixed order", () => {
    const call = scriptCall("swarm/node-config.sh", { owner: "swarm-node-a", nodeId: "n1", role: "worker", availability: "active", labels: ["b=2", "a=1"] });
    const argv = scriptArgv(call);
    expect(argv).toEqual(["--owner", "swarm-node-a", "--node-id", "n1", "--role", "worker", "--availability", "active", "--label", "b=2", "--label", "a=1"]);
    expect(parseScriptArgv("swarm/node-config.sh", argv)).toEqual(call.args);
    const init = scriptCall("swarm/init.sh", { owner: "o", advertiseAddress: "a", listenAddress: "l", dataPathAddress: "", autolock: false });
    expect(scriptArgv(init)).toEqual(["--owner", "o", "--advertise-addr", "a", "--listen-addr", "l", "--autolock", "false"]);
    expect(() => parseScriptArgv("swarm/init.sh", ["--owner", "o"])).toThrow(/--advertise-addr is missing/);
    expect(() => parseScriptArgv("swarm/leave.sh", ["--owner", "a", "--owner", "b"])).toThrow(/given twice/);
    expect(() => parseScriptArgv("swarm/leave.sh", ["a"])).toThrow(/unexpected argument/);
    const backup = scriptCall("swarm/predeploy-backup.sh", { service: "postgres-backup", images: ["a:1", "b:2"], databaseDir: "/opt/medianest/postgres/primary", dumpArgs: ["--dir", "/backups"] });
    expect(scriptArgv(backup)).toEqual(["--service", "postgres-backup", "--images", "a:1,b:2", "--database-dir", "/opt/medianest/postgres/primary", "--", "--dir", "/backups"]);
    expect(parseScriptArgv("swarm/predeploy-backup.sh", scriptArgv(backup))).toEqual(backup.args);
  });

  it("bash parses every script", () => {
    for (const name of SCRIPT_NAMES) execFileSync("bash", ["-n", loadScript(name).path]);
  });
});
