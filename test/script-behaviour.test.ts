// The host scripts run for real where that is safe on the test machine: the
// firewall inside a throwaway network namespace (its own iptables), the data
// directories under a temp root, the fstab editing on a temp file. Each runs
// twice with the program's own arguments: the second run must change nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RawStackConfig } from "../config/schema";
import { dataDirectoryArgs, firewallArgs } from "../topology/host-setup";
import { planTopology } from "../topology/plan";
import { scriptArgv, scriptCall, type ScriptCall } from "../scripts/interfaces";
import { loadScript } from "../scripts/loader";
import { validatedStackConfig } from "./support/stack-config";

const isRoot = process.getuid?.() === 0;
const haveNetns = isRoot && spawnSync("ip", ["netns", "list"]).status === 0 && spawnSync("iptables", ["--version"]).status === 0;
// CI runs as root with iproute2 and iptables: there these tests must run, not skip.
const required = process.env.REQUIRE_HOST_TESTS === "1";

/** A call as the program sends it: the bundled script on stdin, its --flags from the interface. */
function run(call: ScriptCall, prefix: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const [command, ...rest] = [...prefix, "bash", "-s", "--", ...scriptArgv(call)];
  const result = spawnSync(command, rest, { input: loadScript(call.script).content, encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const productionConfig = (overrides: Partial<RawStackConfig> = {}) => validatedStackConfig("production", overrides);

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

describe.runIf(haveNetns || required)("firewall.sh in a network namespace", () => {
  it("applies the planned rules once, then changes nothing; a config change updates it", () => {
    const ns = `mn-fw-${process.pid}`;
    expect(spawnSync("ip", ["netns", "add", ns]).status).toBe(0);
    cleanups.push(() => spawnSync("ip", ["netns", "del", ns]));
    const inNs = ["ip", "netns", "exec", ns];

    const config = productionConfig();
    const plan = planTopology(config);
    const manager = plan.nodes[1];
    // --no-persist: the boot-time unit would be installed on the test machine itself.
    const call = scriptCall("host/firewall.sh", { ...firewallArgs(config, plan, manager), noPersist: true });

    const first = run(call, inNs);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^changed: chain MEDIANEST-SWARM/m);

    const second = run(call, inNs);
    expect(second.status).toBe(0);
    expect(second.stdout).not.toMatch(/^changed:/m);
    expect(second.stdout).toMatch(/^ok: chain MEDIANEST-SWARM/m);

    // The boot-time copy (rebuilt from the running functions, host-lib's included) applies
    // the same rules on its own: nothing to change after the run above.
    const bundled = loadScript("host/firewall.sh").content;
    const render = spawnSync("bash", ["-c", `${bundled.replace(/^fw_main "\$@"\n?$/m, "")}\nfw_render_self`], { encoding: "utf8", timeout: 10_000 });
    expect(render.status, render.stderr).toBe(0);
    const bootCopy = path.join(mkdtempSync(path.join(os.tmpdir(), "mn-fw-boot-")), "firewall.sh");
    cleanups.push(() => rmSync(path.dirname(bootCopy), { recursive: true, force: true }));
    writeFileSync(bootCopy, render.stdout);
    const boot = spawnSync(inNs[0], [...inNs.slice(1), "bash", bootCopy, ...scriptArgv(call)], { encoding: "utf8", timeout: 30_000 });
    expect(boot.stderr).toBe("");
    expect(boot.status).toBe(0);
    expect(boot.stdout).not.toMatch(/^changed:/m);
    expect(boot.stdout).toMatch(/^ok: chain MEDIANEST-SWARM/m);

    const swarmRules = spawnSync(inNs[0], [...inNs.slice(1), "iptables", "-S", "MEDIANEST-SWARM"], { encoding: "utf8" }).stdout;
    for (const peer of plan.nodes.map((n) => n.address)) {
      expect(swarmRules).toContain(`-A MEDIANEST-SWARM -s ${peer}/32 -p tcp -m tcp --dport 2377 -j ACCEPT`);
      expect(swarmRules).toContain(`-A MEDIANEST-SWARM -s ${peer}/32 -p udp -m udp --dport 4789 -j ACCEPT`);
      expect(swarmRules).toContain(`-A MEDIANEST-SWARM -s ${peer}/32 -p esp -j ACCEPT`);
    }
    expect(swarmRules).toContain("-A MEDIANEST-SWARM -p tcp -m tcp --dport 2377 -j DROP");
    const published = spawnSync(inNs[0], [...inNs.slice(1), "iptables", "-S", "DOCKER-USER"], { encoding: "utf8" }).stdout;
    expect(published.split("\n")[1]).toBe("-A DOCKER-USER -j MEDIANEST-PUBLISHED");

    // Overlay encryption off: ESP is no longer admitted.
    const plain = productionConfig({ network: { encrypted: false, managementCidrs: ["198.51.100.0/24"] } });
    const third = run(scriptCall("host/firewall.sh", { ...firewallArgs(plain, planTopology(plain), manager), noPersist: true }), inNs);
    expect(third.stdout).toMatch(/^changed: chain MEDIANEST-SWARM/m);
    const after = spawnSync(inNs[0], [...inNs.slice(1), "iptables", "-S", "MEDIANEST-SWARM"], { encoding: "utf8" }).stdout;
    expect(after).not.toContain("-p esp");
  });
});

describe.runIf(isRoot || required)("data-dirs.sh under a temp root", () => {
  it("creates the planned directories with their owners and modes, then changes nothing", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "mn-dirs-"));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const config = productionConfig({
      storage: { mediaPath: `${root}/mnt/media`, backupPath: `${root}/mnt/backup`, appDataPath: `${root}/opt/medianest` },
    });
    const args = dataDirectoryArgs(config);
    const first = run(scriptCall("host/data-dirs.sh", args));
    expect(first.stderr).toBe("");
    expect(first.stdout.match(/^changed:/gm)?.length).toBe(args.dirs.length);
    const postgres = statSync(`${root}/opt/medianest/postgres`);
    expect([postgres.mode & 0o7777, postgres.uid, postgres.gid]).toEqual([0o711, 0, 0]);
    const second = run(scriptCall("host/data-dirs.sh", args));
    expect(second.status).toBe(0);
    expect(second.stdout).not.toMatch(/^changed:/m);
  });
});

describe("nfs-mount.sh fstab handling", () => {
  const absent = (owner: string, dir: string, fstab: string) => scriptCall("host/nfs-mount.sh", { state: "absent", mountPoint: `${dir}/media`, owner, fstab });

  it("removes only its own entry, once", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mn-fstab-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fstab = path.join(dir, "fstab");
    const foreign = "UUID=1234 / ext4 defaults 0 1";
    writeFileSync(fstab, `${foreign}\n192.0.2.50:/volume1/media ${dir}/media nfs rw,hard 0 0 # managed-by=medianest\n`);
    // A line written before owners were recorded is ours too.
    const first = run(absent("h1-nfs-mount", dir, fstab));
    expect(first.stderr).toBe("");
    expect(first.stdout).toMatch(/^changed: .*fstab/m);
    expect(readFileSync(fstab, "utf8")).toBe(`${foreign}\n`);
    const second = run(absent("h1-nfs-mount", dir, fstab));
    expect(second.status).toBe(0);
    expect(second.stdout).not.toMatch(/^changed:/m);
  });

  it("leaves an entry another owner claimed alone (a host renamed in config: the old resource's delete)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mn-fstab-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fstab = path.join(dir, "fstab");
    const line = `192.0.2.50:/volume1/media ${dir}/media nfs rw,hard 0 0 # managed-by=medianest owner=new-name-nfs-mount`;
    writeFileSync(fstab, `${line}\n`);
    const old = run(absent("old-name-nfs-mount", dir, fstab));
    expect(old.status).toBe(0);
    expect(old.stdout).toContain(`ok: ${dir}/media now managed by new-name-nfs-mount, not old-name-nfs-mount; left as it is`);
    expect(readFileSync(fstab, "utf8")).toBe(`${line}\n`);
    const owner = run(absent("new-name-nfs-mount", dir, fstab));
    expect(owner.stdout).toMatch(/^changed: .*fstab .* entry removed/m);
    expect(readFileSync(fstab, "utf8")).toBe("");
  });
});
