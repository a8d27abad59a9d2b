// The host scripts run for real where that is safe on the test machine: the
// firewall inside a throwaway network namespace (its own iptables), the data
// directories under a temp root, the fstab editing on a temp file. Each runs
// twice with the program's own arguments: the second run must change nothing.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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
function run(call: ScriptCall, prefix: string[] = [], env?: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const [command, ...rest] = [...prefix, "bash", "-s", "--", ...scriptArgv(call)];
  const result = spawnSync(command, rest, { input: loadScript(call.script).content, encoding: "utf8", timeout: 30_000, ...(env ? { env } : {}) });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** PATH with `name` replaced by `script`, ahead of the real one. */
function pathWith(name: string, script: string): NodeJS.ProcessEnv {
  const bin = tempDir("mn-bin-");
  writeFileSync(path.join(bin, name), script);
  chmodSync(path.join(bin, name), 0o755);
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
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
      // Encrypted overlays: a peer's VXLAN goes on to Docker's own rules (see the packet test below).
      expect(swarmRules).toContain(`-A MEDIANEST-SWARM -s ${peer}/32 -p udp -m udp --dport 4789 -j RETURN`);
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
    // No encrypted network, no Docker rule for VXLAN: the peers' VXLAN is accepted here.
    expect(after).toContain(`-A MEDIANEST-SWARM -s ${plan.nodes[0].address}/32 -p udp -m udp --dport 4789 -j ACCEPT`);
  });

  it("with encrypted overlays, a forged plain VXLAN packet from a peer's address meets Docker's DROP for the encrypted network", () => {
    // Two namespaces on a veth pair: the host (a manager, the program's firewall) and a sender
    // holding a peer's address (anyone on the path can forge it; VXLAN is plain UDP).
    const host = `mn-vx-h-${process.pid}`;
    const sender = `mn-vx-s-${process.pid}`;
    for (const ns of [host, sender]) {
      expect(spawnSync("ip", ["netns", "add", ns]).status).toBe(0);
      cleanups.push(() => spawnSync("ip", ["netns", "del", ns]));
    }
    const config = productionConfig();
    const plan = planTopology(config);
    const manager = plan.nodes[1];
    const peer = plan.nodes[0];
    const sh = (ns: string, ...args: string[]) => {
      const result = spawnSync("ip", ["netns", "exec", ns, ...args], { encoding: "utf8", timeout: 10_000 });
      expect(result.status, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const vethHost = `mnvh${process.pid % 100000}`;
    const vethSender = `mnvs${process.pid % 100000}`;
    expect(spawnSync("ip", ["link", "add", vethHost, "netns", host, "type", "veth", "peer", "name", vethSender, "netns", sender]).status).toBe(0);
    sh(host, "ip", "addr", "add", `${manager.address}/24`, "dev", vethHost);
    sh(sender, "ip", "addr", "add", `${peer.address}/24`, "dev", vethSender);
    for (const [ns, dev] of [[host, vethHost], [sender, vethSender]]) {
      sh(ns, "ip", "link", "set", dev, "up");
      sh(ns, "ip", "link", "set", "lo", "up");
    }
    const fw = run(scriptCall("host/firewall.sh", { ...firewallArgs(config, plan, manager), noPersist: true }), ["ip", "netns", "exec", host]);
    expect(fw.status, fw.stderr).toBe(0);
    // What dockerd appends to INPUT for an encrypted overlay with VXLAN id 4097 (moby
    // libnetwork drivers/overlay/encryption.go programInput: u32 match on the VNI).
    const vni = 4097;
    const vniMatch = `0>>22&0x3C@12&0xFFFFFF00=${vni << 8}`;
    sh(host, "iptables", "-A", "INPUT", "-m", "policy", "--dir", "in", "--pol", "ipsec", "-p", "udp", "--dport", "4789", "-m", "u32", "--u32", vniMatch, "-j", "ACCEPT");
    sh(host, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "4789", "-m", "u32", "--u32", vniMatch, "-j", "DROP");
    // A plain VXLAN header (flags 0x08, VNI 4097) and a few bytes of "inner frame".
    const frame = "\\x08\\x00\\x00\\x00\\x00\\x10\\x01\\x00innerframe";
    sh(sender, "bash", "-c", `printf '${frame}' >/dev/udp/${manager.address}/4789`);
    // The DROP rule's packet counter (iptables -v -x: pkts first).
    const counters = sh(host, "iptables", "-L", "INPUT", "-v", "-n", "-x");
    const dropLine = counters.split("\n").find((line) => /\bDROP\b/.test(line) && line.includes("u32")) ?? "";
    expect(Number(dropLine.trim().split(/\s+/)[0]), `Docker's DROP for plain VXLAN of the encrypted network:\n${counters}`).toBe(1);
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

describe.runIf(isRoot || required)("data-dirs.sh: MinIO's directory", () => {
  // The homelab stack runs the internal MinIO.
  const layout = (root: string) =>
    validatedStackConfig("homelab", { storage: { mediaPath: `${root}/mnt/media`, backupPath: `${root}/mnt/backup`, appDataPath: `${root}/opt/medianest` } });

  it("refuses it on NFS, naming the key, before creating anything", () => {
    const root = tempDir("mn-dirs-");
    const args = dataDirectoryArgs(layout(root));
    expect(args.localOnly).toEqual([`storage.minioDataPath=${root}/opt/medianest/minio`]);
    // A stat that reports NFS below the temp root, as `stat -f -c %T` names it (coreutils: "nfs").
    const env = pathWith("stat", `#!/bin/bash\nif [ "$1" = -f ]; then for a; do last="$a"; done; case "$last" in ${root}*) echo nfs; exit 0;; esac; fi\nexec /usr/bin/stat "$@"\n`);
    const refused = run(scriptCall("host/data-dirs.sh", args), [], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`error: storage.minioDataPath: ${root}/opt/medianest/minio is on a network filesystem (nfs, at ${root})`);
    expect(refused.stderr).toContain("MinIO does not support NFS");
    expect(refused.stdout).toBe("");
    expect(existsSync(`${root}/opt`)).toBe(false);
    // On a local filesystem it is created root-only.
    const local = run(scriptCall("host/data-dirs.sh", args));
    expect(local.stderr).toBe("");
    const minio = statSync(`${root}/opt/medianest/minio`);
    expect([minio.mode & 0o7777, minio.uid, minio.gid]).toEqual([0o700, 0, 0]);
  });

  it("stops while MinIO's data from before is still in the media path, then goes on once it is moved", () => {
    const root = tempDir("mn-dirs-");
    const args = dataDirectoryArgs(layout(root));
    mkdirSync(`${root}/mnt/media/.minio.sys`, { recursive: true });
    mkdirSync(`${root}/mnt/media/backups`, { recursive: true });
    const refused = run(scriptCall("host/data-dirs.sh", args));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`MinIO's data is still in ${root}/mnt/media`);
    expect(refused.stderr).toContain("docker service scale minio=0");
    expect(existsSync(`${root}/opt`)).toBe(false);
    mkdirSync(`${root}/opt/medianest/minio`, { recursive: true });
    for (const entry of [".minio.sys", "backups"]) spawnSync("mv", [`${root}/mnt/media/${entry}`, `${root}/opt/medianest/minio/`]);
    const moved = run(scriptCall("host/data-dirs.sh", args));
    expect(moved.stderr).toBe("");
    expect(moved.status).toBe(0);
    expect(moved.stdout).toContain(`changed: dir ${root}/opt/medianest/minio (mode`);
  });
});

describe("docker-mounts.sh: docker.service waits for the NFS share", () => {
  const present = (unitDir: string, mountPoint = "/mnt/media", owner = "h1-docker-mounts") => scriptCall("host/docker-mounts.sh", { state: "present", mountPoint, owner, unitDir });
  const absent = (unitDir: string, owner = "h1-docker-mounts") => scriptCall("host/docker-mounts.sh", { state: "absent", owner, unitDir });

  it("writes the drop-in once, rewrites it only when it differs, and removes only its own", () => {
    const unitDir = tempDir("mn-units-");
    const file = `${unitDir}/docker.service.d/medianest-mounts.conf`;
    const first = run(present(unitDir));
    expect(first.stderr).toBe("");
    expect(first.stdout).toMatch(/^changed: docker.service waits for \/mnt\/media/m);
    expect(readFileSync(file, "utf8")).toBe(
      "# managed-by=medianest owner=h1-docker-mounts\n# Docker starts only once the media share (storage.nfs) is mounted at /mnt/media.\n[Unit]\nRequiresMountsFor=/mnt/media\nAfter=remote-fs.target\n",
    );
    const again = run(present(unitDir));
    expect(again.status).toBe(0);
    expect(again.stdout).not.toMatch(/^changed:/m);
    expect(run(present(unitDir, "/srv/media/")).stdout).toMatch(/^changed: docker.service waits for \/srv\/media /m);
    expect(readFileSync(file, "utf8")).toContain("RequiresMountsFor=/srv/media\n");
    // A host renamed in config: the old resource's delete leaves the new owner's drop-in.
    const other = run(absent(unitDir, "old-docker-mounts"));
    expect(other.stdout).toContain("now managed by h1-docker-mounts, not old-docker-mounts; left as it is");
    expect(existsSync(file)).toBe(true);
    const removed = run(absent(unitDir));
    expect(removed.stdout).toMatch(/^changed: docker.service mount drop-in removed/m);
    expect(existsSync(`${unitDir}/docker.service.d`)).toBe(false);
    expect(run(absent(unitDir)).stdout).toMatch(/^ok: no docker.service mount drop-in/m);
  });

  it("leaves a drop-in of the same name it did not write alone", () => {
    const unitDir = tempDir("mn-units-");
    mkdirSync(`${unitDir}/docker.service.d`);
    writeFileSync(`${unitDir}/docker.service.d/medianest-mounts.conf`, "[Unit]\nAfter=network.target\n");
    const refused = run(present(unitDir));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/is not managed by medianest; move it away/);
    expect(run(absent(unitDir)).stdout).toMatch(/is not managed by medianest; left as it is/);
    expect(readFileSync(`${unitDir}/docker.service.d/medianest-mounts.conf`, "utf8")).toBe("[Unit]\nAfter=network.target\n");
  });

  it.runIf(!existsSync("/run/systemd/system"))("on a host without systemd (a hand-started dockerd) succeeds and writes nothing", () => {
    const result = run(scriptCall("host/docker-mounts.sh", { state: "present", mountPoint: "/mnt/media", owner: "h1-docker-mounts" }));
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ok: no systemd on this host/m);
    expect(existsSync("/etc/systemd/system/docker.service.d/medianest-mounts.conf")).toBe(false);
  });
});

describe("node-remove.sh: a node holding single-instance data", () => {
  const fakeDocker = readFileSync(path.join(__dirname, "support", "fake-docker.sh"), "utf8");
  const stateful = ["postgres-primary", "minio", "redis-master"];
  const swarm = (tasks: string, release = "") => {
    const state = tempDir("mn-swarm-");
    writeFileSync(`${state}/manager-id`, "self1\n");
    writeFileSync(`${state}/nodes`, "self1\nn2\n");
    writeFileSync(`${state}/n2.owner`, "swarm-node-h2");
    writeFileSync(`${state}/n2.tasks`, tasks);
    if (release) writeFileSync(`${state}/n2.release`, release);
    return { state, env: { ...pathWith("docker", fakeDocker), FAKE_DOCKER_STATE: state } };
  };
  const remove = scriptCall("swarm/node-remove.sh", { owner: "swarm-node-h2", nodeId: "n2", drainTimeoutSeconds: 5, stateful });

  it("is neither drained nor removed while it runs one, naming the flag that releases it", () => {
    const { state, env } = swarm("medianest-frontend.2\nminio.1\npostgres-primary.1\n");
    const result = run(remove, [], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("error: node n2 still runs minio postgres-primary, whose data is on that host's disk");
    expect(result.stderr).toContain("releaseStateful: true");
    expect(result.stderr).toContain("docker node update --label-add com.medianest.release-stateful=true n2");
    expect(readFileSync(`${state}/calls`, "utf8")).not.toMatch(/^node (update|rm)/m);
    expect(existsSync(`${state}/removed`)).toBe(false);
  });

  it("is removed once released by its label, or when it runs none", () => {
    const released = swarm("minio.1\n", "true");
    const result = run(remove, [], released.env);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("ok: node n2 released (com.medianest.release-stateful=true): removing it although it runs minio");
    expect(result.stdout).toContain("changed: node n2 removed");
    expect(readFileSync(`${released.state}/removed`, "utf8")).toBe("n2\n");
    const plain = swarm("medianest-frontend.1\nnode-exporter.n2\n");
    const stateless = run(remove, [], plain.env);
    expect(stateless.stderr).toBe("");
    expect(stateless.stdout).toContain("changed: node n2 drained");
    expect(readFileSync(`${plain.state}/removed`, "utf8")).toBe("n2\n");
  });
});
