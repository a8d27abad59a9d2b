// The policy pack: every stack passes every mandatory policy, and every policy
// is proven to fire on a violating resource or stack and to pass a compliant one.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { ALL_POLICIES } from "../policies/all-policies";
import { backupVersioning, cloudflareRecords, cloudflareTls, minioPrivateBuckets } from "../policies/rules/cloud";
import { capacityMatrix, schedulingFit } from "../policies/rules/scheduling";
import { containerPrivileges, edgeOnlyExposure, imageDigests, noPlaintextSecrets, pinnedImages, serviceResources, statefulPlacement } from "../policies/rules/services";
import { networkAttachments, overlayNetworks, productionMinimums, swarmHardening } from "../policies/rules/stack";
import { mandatoryViolations, stackCompliance } from "../tools/compliance";
import { evaluatePolicy } from "../tools/policy-runner";
import type { ServiceSpec } from "../topology/services";
import { mockedRun, STACKS, testConfig, type MockedRun, type RecordedResource, type StackName } from "./support/mocked-run";
import { fixtureService, type ServiceInputs } from "./support/service-fixtures";

const runs = new Map<string, MockedRun>();
async function runOf(stack: StackName, config?: Record<string, unknown>, key: string = stack): Promise<MockedRun> {
  if (!runs.has(key)) runs.set(key, await mockedRun(stack, config ? { config } : {}));
  return runs.get(key) as MockedRun;
}

let counter = 0;
function resource(type: string, props: Record<string, unknown>, name = `r${++counter}`, id?: string): RecordedResource {
  return { type, name, urn: `urn:pulumi:test::medianest::${type}::${name}`, parent: "", dependencies: [], deleteBeforeReplace: false, ignoreChanges: [], id: id ?? "", provider: "", inputs: props, rawInputs: props };
}

const MB = 1024 * 1024;
/** The planned frontend's inputs as service "svc", patched at the spec (typed) or the container. */
const service = fixtureService;
const svc = async (props: Promise<ServiceInputs> | ServiceInputs) => [resource("docker:index/service:Service", (await props) as unknown as Record<string, unknown>)];
type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy;
async function messages(policy: AnyPolicy, resources: RecordedResource[] | Promise<RecordedResource[]>, config?: Record<string, unknown>): Promise<string[]> {
  return (await evaluatePolicy(policy, await resources, config)).violations.map((v) => v.message);
}

describe("every stack passes every mandatory policy", () => {
  it.each(STACKS)("%s", async (stack) => {
    const result = await stackCompliance(stack, await runOf(stack));
    expect(result.outcomes.map((o) => o.policy)).toEqual(ALL_POLICIES.map((p) => p.name));
    const mandatory = result.outcomes.filter((o) => o.level === "mandatory" && o.violations.length > 0);
    expect(mandatory.map((o) => `${o.policy}: ${o.violations[0].message}`)).toEqual([]);
    expect(mandatoryViolations(result)).toBe(0);
  });

  it("production's compliance table: each policy checked what it should", async () => {
    const result = await stackCompliance("production", await runOf("production"));
    const table = Object.fromEntries(result.outcomes.map((o) => [o.policy, [o.level, o.checked > 0, o.violations.length]]));
    const services = (await runOf("production")).ofType("docker:index/service:Service").length;
    expect(result.outcomes.find((o) => o.policy === "service-resources")?.checked).toBe(services);
    expect(table).toEqual({
      "service-resources": ["mandatory", true, 0],
      "stateful-placement": ["mandatory", true, 0],
      "pinned-images": ["mandatory", true, 0],
      "image-digests": ["advisory", true, 0],
      "no-plaintext-secrets": ["mandatory", true, 0],
      "container-privileges": ["mandatory", true, 0],
      "edge-only-exposure": ["mandatory", true, 0],
      "cloudflare-proxied-records": ["mandatory", true, 0],
      "minio-private-buckets": ["mandatory", false, 0],
      "overlay-networks": ["mandatory", true, 0],
      "network-attachments": ["mandatory", true, 0],
      "production-minimums": ["mandatory", true, 0],
      "swarm-hardening": ["mandatory", true, 0],
      "cloudflare-tls": ["mandatory", true, 0],
      "backup-versioning": ["mandatory", true, 0],
      "scheduling-fit": ["mandatory", true, 0],
      "capacity-matrix": ["advisory", true, 0],
    });
  });
});

describe("scheduling check", () => {
  it("places production as the spec intends", async () => {
    const { placement } = await stackCompliance("production", await runOf("production"));
    const tasks = Object.fromEntries(placement.map((p) => [p.node, p.tasks.split(", ").filter((t) => !/^(node-exporter|cadvisor|docker-socket-proxy)$/.test(t)).sort()]));
    expect(tasks).toEqual({
      "mgr-1": ["postgres-replica-1", "traefik"],
      "mgr-2": ["postgres-replica-2", "traefik"],
      "mgr-3": ["alertmanager", "grafana", "prometheus", "redis-replica", "redis-sentinel"],
      "wrk-1": ["medianest-backend×2", "medianest-frontend", "redis-master", "redis-proxy"],
      "wrk-2": ["medianest-backend", "medianest-frontend×2", "redis-replica", "redis-sentinel"],
      // No workers: the app has no worker command (services.worker.command unset).
      "wrk-3": ["postgres-exporter", "redis-exporter", "redis-proxy", "redis-sentinel"],
      "wrk-4": ["backup-upload", "postgres-backup", "postgres-primary"],
    });
  });

  it("rejects a stack whose reservations do not fit", async () => {
    const config = testConfig("production");
    const hosts = (config["medianest:hosts"] as { name: string; cpus: number }[]).map((h) => (h.name === "wrk-3" ? { ...h, cpus: 1 } : h));
    const services = { ...(config["medianest:services"] as object), worker: { replicas: 2, command: ["node", "dist/worker.js"] } };
    const run = await runOf("production", { ...config, "medianest:hosts": hosts, "medianest:services": services }, "small-wrk-3");
    const messages = (await evaluatePolicy(schedulingFit, run.resources)).violations.map((v) => v.message);
    expect(messages).toContain(
      "task 2 of medianest-worker cannot be placed: no eligible node has room (wrk-3 are full or at max replicas per node); add capacity or relax its placement",
    );
  });
});

// Unit fixtures: one violating and one compliant case for EVERY policy.
describe("each policy fires on a violation and passes a compliant resource", () => {
  it("service-resources", async () => {
    expect(await messages(serviceResources, svc(service()))).toEqual([]);
    const noLimits = await service();
    noLimits.taskSpec.resources = { reservation: { nanoCpus: 1e8, memoryBytes: MB } };
    expect(await messages(serviceResources, svc(noLimits))).toEqual(["service svc has no CPU and memory limits: set taskSpec.resources.limits"]);
    const big = service({ resources: { limits: { cpus: 2, memoryMb: 512 }, reservations: { cpus: 0.25, memoryMb: 256 } } });
    expect(await messages(serviceResources, svc(big))).toEqual([
      "service svc (frontend) is limited to 2 CPU / 512 MB, above the spec's budget of 0.5 CPU / 512 MB: lower its limits",
    ]);
  });

  it("stateful-placement", async () => {
    const pg = (constraints: string[]) => service({ role: "postgres-primary", placement: { constraints, spread: [] } });
    expect(await messages(statefulPlacement, svc(pg(["node.labels.type == database", "node.labels.storage == ssd"])))).toEqual([]);
    expect(await messages(statefulPlacement, svc(pg(["node.labels.type.database == true", "node.labels.storage == ssd"])))).toEqual([]);
    expect(await messages(statefulPlacement, svc(pg(["node.labels.type == database"])))).toEqual([
      'stateful service svc is not constrained to nodes labelled storage=ssd: add the constraint "node.labels.storage == ssd"',
    ]);
  });

  it("pinned-images and image-digests", async () => {
    const image = (ref: string) => svc(service({}, { image: ref }));
    expect(await messages(pinnedImages, image("redis:7.4.2"))).toEqual([]);
    expect(await messages(pinnedImages, image("redis:latest"))).toEqual(['service svc uses the moving "latest" tag: pin a version or a digest']);
    expect(await messages(pinnedImages, image("registry:5000/redis"))).toEqual(['service svc uses "registry:5000/redis" without a tag or digest: pin a version']);
    const digest = `redis@sha256:${"a".repeat(64)}`;
    expect(await messages(imageDigests, image(digest))).toEqual([]);
    expect(await messages(imageDigests, image("redis:7.4.2"))).toEqual(['service svc image "redis:7.4.2" has no @sha256 digest: add one for reproducible deployments']);
  });

  it("no-plaintext-secrets", async () => {
    expect(await messages(noPlaintextSecrets, svc(service({}, { env: { REDIS_PASSWORD_FILE: "/run/secrets/redis-password", PORT: "3000" } })))).toEqual([]);
    expect(await messages(noPlaintextSecrets, svc(service({}, { env: { REDIS_PASSWORD: "hunter2" } })))).toEqual([
      "service svc sets REDIS_PASSWORD in its environment: mount the value as a Docker secret and set REDIS_PASSWORD_FILE=/run/secrets/... instead",
    ]);
    expect(await messages(noPlaintextSecrets, svc(service({}, { env: { JOIN: "SWMTKN-1-abc" } })))).toEqual(["service svc has a secret-looking value in JOIN: use a Docker secret"]);
  });

  it("container-privileges", async () => {
    expect(await messages(containerPrivileges, svc(service()))).toEqual([]);
    expect(await messages(containerPrivileges, svc(service({}, { capAdds: ["NET_ADMIN"] })))).toEqual(["service svc adds capability NET_ADMIN: remove it or add it to allowedCapabilities"]);
    expect(await messages(containerPrivileges, svc(service({}, { capAdds: ["NET_ADMIN"] })), { allowedCapabilities: ["NET_ADMIN"] })).toEqual([]);
    const hostNet = await service();
    hostNet.taskSpec.networksAdvanceds = [{ name: "host" }];
    expect(await messages(containerPrivileges, svc(hostNet))).toEqual(["service svc uses the host network: attach it to an overlay network"]);
    expect(await messages(containerPrivileges, [resource("docker:index/container:Container", { privileged: true })])).toHaveLength(1);
  });

  it("edge-only-exposure", async () => {
    const ports = (role: ServiceSpec["role"], published: number) => service({ role, hostPorts: [{ target: published, published }] });
    expect(await messages(edgeOnlyExposure, svc(ports("traefik", 443)))).toEqual([]);
    expect(await messages(edgeOnlyExposure, svc(ports("traefik", 8080)))).toEqual(["the edge publishes port 8080: only 80/443 are allowed"]);
    expect(await messages(edgeOnlyExposure, svc(ports("minio", 9000)))).toEqual(["service svc publishes port 9000: only the edge may publish; route it through Traefik"]);
    const socket = (role: ServiceSpec["role"], readOnly: boolean) => service({ role, mounts: [{ source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly }] });
    expect(await messages(edgeOnlyExposure, svc(socket("socket-proxy", true)))).toEqual([]);
    expect(await messages(edgeOnlyExposure, svc(socket("socket-proxy", false)))).toEqual(["service svc mounts the Docker socket writable: mount it read-only"]);
    expect(await messages(edgeOnlyExposure, svc(socket("cadvisor", true)))).toEqual(["service svc mounts the Docker socket: only the socket proxy may"]);
  });

  it("cloudflare-proxied-records and cloudflare-tls", async () => {
    const record = (proxied: boolean) => resource("cloudflare:index/dnsRecord:DnsRecord", { name: "medianest.example.com", type: "A", content: "203.0.113.1", proxied });
    expect(await messages(cloudflareRecords, [record(true)])).toEqual([]);
    expect(await messages(cloudflareRecords, [record(false)])).toEqual(["DNS record medianest.example.com (A) is not proxied: set proxied: true"]);
    const setting = (settingId: string, value: string) => resource("cloudflare:index/zoneSetting:ZoneSetting", { settingId, value });
    expect(await messages(cloudflareTls, [record(true), setting("ssl", "strict"), setting("min_tls_version", "1.2")])).toEqual([]);
    expect(await messages(cloudflareTls, [record(true), setting("ssl", "full"), setting("min_tls_version", "1.0")])).toEqual([
      "SSL mode is full: set the zone's ssl setting to strict (Full (strict))",
      "minimum TLS version is 1.0: set min_tls_version to 1.2 or higher",
    ]);
  });

  it("minio-private-buckets and backup-versioning", async () => {
    const bucket = (name: string, acl: string) => resource("minio:index/s3Bucket:S3Bucket", { bucket: name, acl });
    expect(await messages(minioPrivateBuckets, [bucket("media", "private")])).toEqual([]);
    expect(await messages(minioPrivateBuckets, [bucket("media", "public-read")])).toEqual(["bucket media has ACL public-read: use private"]);
    const anonymous = resource("minio:index/s3BucketPolicy:S3BucketPolicy", { bucket: "media", policy: JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: ["s3:GetObject"] }] }) });
    expect(await messages(minioPrivateBuckets, [anonymous])).toEqual(["bucket policy on media grants access to everyone: remove the anonymous principal"]);
    const versioning = resource("minio:index/s3BucketVersioning:S3BucketVersioning", { bucket: "backups", versioningConfiguration: { status: "Enabled" } });
    expect(await messages(backupVersioning, [bucket("backups", "private"), versioning])).toEqual([]);
    expect(await messages(backupVersioning, [bucket("backups", "private")])).toEqual(["bucket backups has no versioning: add an S3BucketVersioning with status Enabled"]);
  });

  it("overlay-networks", async () => {
    const run = await runOf("production");
    expect(await messages(overlayNetworks, [...run.resources])).toEqual([]);
    const tampered = run.resources.map((r) =>
      r.type === "docker:index/network:Network" && r.inputs.name === "database-net" ? { ...r, inputs: { ...r.inputs, internal: false, options: {}, ipamConfigs: [{ subnet: "10.0.2.0/24" }] } } : r,
    );
    expect(await messages(overlayNetworks, tampered)).toEqual([
      "database-net has subnet 10.0.2.0/24: the plan says 10.0.3.0/24",
      'database-net must be internal (no egress, spec: "None (isolated)")',
      "database-net is not encrypted: production overlays need the encrypted option",
      "subnets of backend-net (10.0.2.0/24) and database-net (10.0.2.0/24) overlap",
    ]);
    expect(await messages(overlayNetworks, tampered.filter((r) => r.inputs.name !== "monitor-net"))).toContain("overlay network monitor-net is missing: the spec requires all five networks");
  });

  it("network-attachments", async () => {
    const run = await runOf("homelab");
    expect(await messages(networkAttachments, [...run.resources])).toEqual([]);
    const tampered = run.resources.map((r) => {
      if (r.type !== "docker:index/service:Service" || r.inputs.name !== "medianest-frontend") return r;
      const taskSpec = { ...(r.inputs.taskSpec as object), networksAdvanceds: [{ name: "frontend-net-id" }, { name: "backend-net-id" }] };
      return { ...r, inputs: { ...r.inputs, taskSpec } };
    });
    expect(await messages(networkAttachments, tampered)).toEqual([
      "service medianest-frontend (frontend) is on backend-net, frontend-net; the security table allows exactly database-net, frontend-net",
    ]);
  });

  it("production-minimums", async () => {
    const run = await runOf("production");
    expect(await messages(productionMinimums, [...run.resources])).toEqual([]);
    const config = testConfig("production");
    const smaller = await runOf(
      "production",
      { ...config, "medianest:services": { backend: { replicas: 2 }, postgres: { replicas: 1 } } },
      "prod-small",
    );
    expect(await messages(productionMinimums, [...smaller.resources])).toEqual([
      "production runs 2 backend replicas (serving): at least 3 are required",
      "production has 1 Postgres streaming replicas: at least 2 are required",
    ]);
    const noRollback = run.resources.map((r) =>
      r.type === "docker:index/service:Service" && r.inputs.name === "medianest-frontend" ? { ...r, inputs: { ...r.inputs, updateConfig: { failureAction: "pause" } } } : r,
    );
    expect(await messages(productionMinimums, noRollback)).toEqual([
      "stateless service medianest-frontend does not roll back failed updates: set updateConfig.failureAction to rollback",
    ]);
  });

  it("swarm-hardening", async () => {
    const run = await runOf("production");
    expect(await messages(swarmHardening, [...run.resources])).toEqual([]);
    const tampered = run.resources.map((r) => (r.name === "swarm-member-mgr-1" ? { ...r, inputs: { ...r.inputs, create: "sudo -n bash -s -- --owner swarm-member-mgr-1 --advertise-addr 0.0.0.0 --listen-addr 192.0.2.11 --autolock false" } } : r));
    expect(await messages(swarmHardening, tampered)).toEqual([
      "swarm init has no explicit advertise address (0.0.0.0): bind it to the node's own address",
      "autolock is off in production: set swarm.autolock to true",
    ]);
  });

  it("scheduling-fit and capacity-matrix", async () => {
    const run = await runOf("production");
    expect(await messages(schedulingFit, [...run.resources])).toEqual([]);
    expect(await messages(capacityMatrix, [...run.resources])).toEqual([]);
    const more = run.resources.map((r) => (r.type === "medianest:stack:MediaNest" ? { ...r, inputs: { ...r.inputs, expectedUsers: 900 } } : r));
    expect(await messages(capacityMatrix, more)).toEqual([
      "900 users need 64 CPU / 128 GB (row 501-1000); the cluster has 40 CPU / 104 GB: add nodes or lower capacity.expectedUsers",
    ]);
  });

  it("covers every policy of the pack", () => {
    const covered = [
      serviceResources, statefulPlacement, pinnedImages, imageDigests, noPlaintextSecrets, containerPrivileges, edgeOnlyExposure,
      cloudflareRecords, cloudflareTls, minioPrivateBuckets, backupVersioning, overlayNetworks, networkAttachments,
      productionMinimums, swarmHardening, schedulingFit, capacityMatrix,
    ].map((p) => p.name);
    expect(covered.sort()).toEqual(ALL_POLICIES.map((p) => p.name).sort());
    for (const policy of ALL_POLICIES) {
      expect(policy.description?.length ?? 0).toBeGreaterThan(20);
      expect(policy.enforcementLevel).toBeDefined();
    }
  });
});
