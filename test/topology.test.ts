import { describe, expect, it } from "vitest";
import { cidrsOverlap, intToIpv4, ipv4ToInt, parseIpv4Cidr } from "../domain/cidr";
import { encodeNodeLabels, labelConstraint, labelEncodingFor, type ConfiguredLabels } from "../domain/labels";
import { planTopology } from "../topology/plan";
import { scriptArgv, scriptCall } from "../scripts/interfaces";
import { daemonJson, dataDirectoryArgs, dockerMountsArgs, firewallArgs, nfsMountArgs } from "../topology/host-setup";
import { hostSteps } from "../topology/host-steps";
import { planServices } from "../topology/services";
import { planStack } from "../topology/stack-plan";
import { otherMountSources, pathRelation } from "../config/storage-paths";
import { validatedStackConfig as configOf } from "./support/stack-config";
import { syntheticClusterConfig } from "../bench/synthetic-cluster";
import { SECRET_CONFIG_KEYS, validateStackConfig } from "../config/schema";

describe("benchmark clusters", () => {
  it.each([10, 50, 100])("the synthetic %i-node cluster is a valid stack", (nodes) => {
    const raw = Object.fromEntries(Object.entries(syntheticClusterConfig(nodes)).map(([k, v]) => [k.replace(/^medianest:/, ""), v]));
    const config = validateStackConfig(raw, { secretKeys: new Set(Object.keys(raw).filter((k) => (SECRET_CONFIG_KEYS as readonly string[]).includes(k))), runningAsRoot: true });
    expect(config.hosts).toHaveLength(nodes);
  });
});

describe("cidr", () => {
  it("parses, rejects host bits and detects overlap", () => {
    expect(parseIpv4Cidr("10.0.1.0/24")).toMatchObject({ first: ipv4ToInt("10.0.1.0"), last: ipv4ToInt("10.0.1.255"), prefix: 24 });
    expect(() => parseIpv4Cidr("10.0.1.5/24")).toThrow('host bits set (the network address is 10.0.1.0/24)');
    expect(() => parseIpv4Cidr("10.0.1.0")).toThrow("a.b.c.d/prefix");
    expect(() => parseIpv4Cidr("10.0.300.0/24")).toThrow("invalid address part");
    expect(cidrsOverlap(parseIpv4Cidr("10.0.0.0/16"), parseIpv4Cidr("10.0.5.0/24"))).toBe(true);
    expect(cidrsOverlap(parseIpv4Cidr("10.0.1.0/24"), parseIpv4Cidr("10.0.2.0/24"))).toBe(false);
    expect(intToIpv4(ipv4ToInt("198.51.100.7"))).toBe("198.51.100.7");
  });
});

describe("labels", () => {
  it("keeps scalar keys spec-literal and encodes list keys as one boolean label per value on every host", () => {
    const hosts: ConfiguredLabels[] = [{ type: ["compute", "database"], az: "a" }, { type: "processing", storage: "ssd" }];
    const encoding = labelEncodingFor(hosts);
    expect(encodeNodeLabels(hosts[0], encoding)).toEqual({ az: "a", "type.compute": "true", "type.database": "true" });
    expect(encodeNodeLabels(hosts[1], encoding)).toEqual({ storage: "ssd", "type.processing": "true" });
    expect(labelConstraint("type", "compute", encoding)).toBe("node.labels.type.compute == true");
    expect(labelConstraint("storage", "ssd", encoding)).toBe("node.labels.storage == ssd");
  });
});

describe("plan", () => {
  it("production: leader mgr-1, managers join in order, four workers, spec labels and placement", () => {
    const plan = planTopology(configOf("production"));
    expect(plan.leader.name).toBe("mgr-1");
    expect(plan.joiningManagers.map((n) => n.name)).toEqual(["mgr-2", "mgr-3"]);
    expect(plan.workers.map((n) => n.name)).toEqual(["wrk-1", "wrk-2", "wrk-3", "wrk-4"]);
    expect(plan.nodes.find((n) => n.name === "wrk-4")?.labels).toEqual({ az: "a", storage: "ssd", type: "database" });
    expect(plan.nodes.find((n) => n.name === "mgr-2")?.labels).toEqual({ az: "b", edge: "traefik", postgres: "replica-2" });
    expect(plan.placement["postgres-replica-2"]).toEqual(["node.labels.postgres == replica-2"]);
    expect(plan.placement["medianest-frontend"]).toEqual(["node.role == worker", "node.labels.type == compute"]);
    expect(plan.placement["postgres-primary"]).toEqual(["node.labels.type == database", "node.labels.storage == ssd"]);
    expect(plan.leader.listenAddress).toBe("192.0.2.11");
    expect(plan.subnets.map((s) => [s.name, s.subnet, s.internal, s.encrypted])).toEqual([
      ["frontend-net", "10.0.1.0/24", false, true],
      ["backend-net", "10.0.2.0/24", false, true],
      ["database-net", "10.0.3.0/24", true, true],
      ["storage-net", "10.0.4.0/24", false, true],
      ["monitor-net", "10.0.5.0/24", false, true],
    ]);
  });

  it("homelab: one manager with every label; app services are not pinned to workers", () => {
    const plan = planTopology(configOf("homelab"));
    expect(plan.nodes).toHaveLength(1);
    expect(plan.workers).toEqual([]);
    expect(plan.leader.labels).toEqual({
      az: "home",
      edge: "traefik",
      monitoring: "main",
      redis: "data",
      s3: "minio",
      storage: "ssd",
      "type.compute": "true",
      "type.database": "true",
      "type.processing": "true",
    });
    expect(plan.placement["medianest-backend"]).toEqual(["node.labels.type.compute == true"]);
    expect(plan.subnets.every((s) => !s.encrypted)).toBe(true);
  });

  it("host setup arguments: daemon.json, directories, NFS and firewall peers", () => {
    const config = configOf("cluster");
    const plan = planTopology(config);
    expect(JSON.parse(daemonJson(config))).toEqual({ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" } });
    expect(dataDirectoryArgs(config).dirs).not.toContain("/mnt/media:0755:0:0");
    expect(dataDirectoryArgs(configOf("homelab")).dirs).toContain("/mnt/media:0755:0:0");
    expect(dataDirectoryArgs(config).dirs).toContain("/opt/medianest/postgres:0711:0:0");
    const nfs = nfsMountArgs(config, "h1-nfs-mount");
    expect(nfs).toEqual({ state: "present", server: "192.0.2.50", exportPath: "/volume1/media", mountPoint: "/mnt/media", options: "rw,hard,noatime,nfsvers=4.1,_netdev", owner: "h1-nfs-mount" });
    expect(nfsMountArgs(configOf("homelab"), "h1-nfs-mount")).toBeUndefined();
    const worker = plan.nodes[1];
    expect(scriptArgv(scriptCall("host/firewall.sh", firewallArgs(config, plan, worker)))).toEqual([
      "--self", "192.0.2.32", "--role", "worker", "--peers", "192.0.2.31,192.0.2.32,192.0.2.33",
      "--managers", "192.0.2.31", "--encrypted", "true", "--public-ports", "80,443", "--trusted", "192.0.2.0/24",
    ]);
  });
});

describe("storage layout", () => {
  // The stacks with the internal MinIO.
  const stacks = ["homelab", "cluster", "local"] as const;

  it.each(stacks)("%s: MinIO mounts its own directory, apart from every other service's writable mounts, which the rule knows", (stack) => {
    for (const config of [configOf(stack), configOf(stack, { storage: { minioDataPath: "/srv/minio", mediaPath: "/srv/media" } })]) {
      const specs = planServices(config, planTopology(config));
      const minio = specs.find((s) => s.name === "minio");
      expect(minio?.mounts).toEqual([{ source: config.storage.minioDataPath, target: "/data", readOnly: false }]);
      const known = new Set(otherMountSources(config.storage).map((m) => m.path));
      for (const spec of specs.filter((s) => s.name !== "minio")) {
        for (const mount of spec.mounts.filter((m) => !m.readOnly)) {
          // One list: the config rule checks MinIO against exactly the directories the services mount.
          expect(known, `${spec.name} mounts ${mount.source}`).toContain(mount.source);
          expect(pathRelation(config.storage.minioDataPath, mount.source), `${spec.name} mounts ${mount.source}`).toBeUndefined();
        }
      }
    }
  });

  it("the data-dirs step creates MinIO's directory root-only, refuses it on a network filesystem and waits for data left in the media path", () => {
    const config = configOf("cluster");
    const args = dataDirectoryArgs(config);
    expect(config.storage.minioDataPath).toBe("/opt/medianest/minio");
    expect(args.dirs).toContain("/opt/medianest/minio:0700:0:0");
    expect(args.localOnly).toEqual(["storage.minioDataPath=/opt/medianest/minio"]);
    expect(args.minioMove).toBe("/mnt/media=/opt/medianest/minio");
    const external = configOf("lab");
    expect(dataDirectoryArgs(external).localOnly).toEqual([]);
    expect(dataDirectoryArgs(external).minioMove).toBeUndefined();
  });

  it("with NFS, every host installs the docker.service drop-in, removed with the share; without, none", () => {
    const config = configOf("cluster");
    const plan = planTopology(config);
    for (const node of plan.nodes) {
      const steps = hostSteps(config, plan, node);
      const ids = steps.map((s) => s.id);
      expect(ids.indexOf("docker-mounts")).toBe(ids.indexOf("nfs-mount") + 1);
      const step = steps.find((s) => s.id === "docker-mounts");
      expect(step?.call).toEqual({ script: "host/docker-mounts.sh", args: { state: "present", mountPoint: "/mnt/media", owner: `${node.name}-docker-mounts` } });
      expect(step?.onDelete).toEqual({ script: "host/docker-mounts.sh", args: { state: "absent", owner: `${node.name}-docker-mounts` } });
    }
    const homelab = configOf("homelab");
    expect(dockerMountsArgs(homelab, "x")).toBeUndefined();
    const homePlan = planTopology(homelab);
    expect(hostSteps(homelab, homePlan, homePlan.nodes[0]).map((s) => s.id)).not.toContain("docker-mounts");
  });

  it("node removal knows the single-instance stateful services", () => {
    expect(planStack(configOf("production")).swarm.statefulServices).toEqual([
      "postgres-primary",
      "postgres-replica-1",
      "postgres-replica-2",
      "redis-master",
      "prometheus",
      "alertmanager",
      "grafana",
    ]);
    expect(planStack(configOf("homelab")).swarm.statefulServices).toContain("minio");
    expect(planStack(configOf("lab")).swarm.statefulServices).toEqual(["postgres-primary", "postgres-replica-1", "postgres-replica-2", "redis-master", "prometheus", "alertmanager", "grafana"]);
  });
});
