// Table tests on the pure layers, without the mocked engine: what planServices returns
// for a stack, and how swarmServiceArgs turns one ServiceSpec into provider inputs.
import { describe, expect, it } from "vitest";
import { swarmServiceArgs } from "../components/swarm-service";
import { planServices, type ServiceSpec } from "../topology/services";
import { planStack } from "../topology/stack-plan";
import { FIXTURE_REFS, plannedSpec, serviceInputs } from "./support/service-fixtures";
import { validatedStackConfig } from "./support/stack-config";

type Row = [name: string, role: string, replicas: number | "global", update: ServiceSpec["update"], networks: string];
const rows = (specs: readonly ServiceSpec[]): Row[] =>
  specs.map((s) => [s.name, s.role, s.global ? "global" : s.replicas, s.update, [...s.networks].sort().join(",")]);
const servicesPlanned = (config: ReturnType<typeof validatedStackConfig>) => planServices(config, planStack(config).topology);

// What the security table and the replica counts require, tier by tier (data tier first).
const APP_AND_EDGE: Row[] = [
  ["docker-socket-proxy", "socket-proxy", "global", "stateless", "monitor"],
];
const MONITORING: Row[] = [
  ["prometheus", "prometheus", 1, "stateful", "backend,monitor,storage"],
  ["alertmanager", "alertmanager", 1, "stateful", "monitor"],
  ["grafana", "grafana", 1, "stateful", "monitor"],
  ["node-exporter", "node-exporter", "global", "stateless", "monitor"],
  ["cadvisor", "cadvisor", "global", "stateless", "monitor"],
  ["postgres-exporter", "postgres-exporter", 1, "stateless", "database,monitor"],
  ["redis-exporter", "redis-exporter", 1, "stateless", "database,monitor"],
];

describe("planServices", () => {
  it("production: replicas, update kind and networks of every service", () => {
    expect(rows(servicesPlanned(validatedStackConfig("production")))).toEqual([
      ["postgres-primary", "postgres-primary", 1, "stateful", "database"],
      ["postgres-replica-1", "postgres-replica", 1, "stateful", "database"],
      ["postgres-replica-2", "postgres-replica", 1, "stateful", "database"],
      ["redis-master", "redis", 1, "stateful", "database"],
      ["redis-replica", "redis", 2, "stateful", "database"],
      ["redis-sentinel", "redis-sentinel", 3, "stateful", "database"],
      ["redis-proxy", "redis-proxy", 2, "stateless", "database"],
      ["postgres-backup", "postgres-backup", 1, "stateful", "database"],
      ["backup-upload", "backup-upload", 1, "stateless", "storage"],
      ["medianest-backend", "backend", 3, "stateless", "backend,database,frontend"],
      ["medianest-frontend", "frontend", 3, "stateless", "database,frontend"],
      ...APP_AND_EDGE,
      ["traefik", "traefik", 2, "stateless", "frontend,monitor,storage"],
      ...MONITORING,
    ]);
  });

  it("homelab: one of each, MinIO in place of the replicas and Sentinels", () => {
    expect(rows(servicesPlanned(validatedStackConfig("homelab")))).toEqual([
      ["postgres-primary", "postgres-primary", 1, "stateful", "database"],
      ["redis-master", "redis", 1, "stateful", "database"],
      ["minio", "minio", 1, "stateful", "storage"],
      ["postgres-backup", "postgres-backup", 1, "stateful", "database"],
      ["backup-upload", "backup-upload", 1, "stateless", "storage"],
      ["medianest-backend", "backend", 1, "stateless", "backend,database,frontend"],
      ["medianest-frontend", "frontend", 1, "stateless", "database,frontend"],
      ...APP_AND_EDGE,
      ["traefik", "traefik", 1, "stateless", "frontend,monitor,storage"],
      ...MONITORING,
    ]);
  });

  it.each([
    ["postgres replicas", { services: { postgres: { replicas: 1 } } }, /^postgres-replica-\d$/, 1],
    ["backend replicas", { services: { backend: { replicas: 5 } } }, /^medianest-backend$/, 5],
    ["frontend replicas", { services: { frontend: { replicas: 4 } } }, /^medianest-frontend$/, 4],
  ] as const)("production follows services config: %s", (_what, overrides, pattern, expected) => {
    const specs = servicesPlanned(validatedStackConfig("production", overrides)).filter((s) => pattern.test(s.name));
    const total = specs.reduce((sum, s) => sum + s.replicas, 0);
    expect(total).toBe(expected);
  });

  it("plans no monitoring service when monitoring is off", () => {
    const names = servicesPlanned(validatedStackConfig("homelab", { monitoring: { enabled: false } })).map((s) => s.name);
    expect(names.filter((n) => MONITORING.some(([m]) => m === n))).toEqual([]);
    expect(names).toContain("medianest-backend");
  });
});

describe("swarmServiceArgs", () => {
  const base = plannedSpec("medianest-frontend");
  const args = (patch: Partial<ServiceSpec>) => serviceInputs({ ...base, ...patch });

  it.each([
    ["stateless, no host ports", { update: "stateless" }, "start-first", "rollback"],
    ["stateless with a host port", { update: "stateless", hostPorts: [{ target: 443, published: 443 }] }, "stop-first", "rollback"],
    ["stateful", { update: "stateful" }, "stop-first", "pause"],
  ] as const)("update policy: %s", async (_what, patch, order, failureAction) => {
    const { updateConfig } = await args(patch);
    expect(updateConfig).toMatchObject({ order, failureAction, parallelism: 1, maxFailureRatio: "0.0" });
  });

  it.each([
    [{ cpus: 0.5, memoryMb: 512 }, { cpus: 0.25, memoryMb: 256 }, { nanoCpus: 0.5e9, memoryBytes: 512 * 2 ** 20 }, { nanoCpus: 0.25e9, memoryBytes: 256 * 2 ** 20 }],
    [{ cpus: 2, memoryMb: 4096 }, { cpus: 1, memoryMb: 2048 }, { nanoCpus: 2e9, memoryBytes: 4096 * 2 ** 20 }, { nanoCpus: 1e9, memoryBytes: 2048 * 2 ** 20 }],
  ])("resources %o / %o in provider units", async (limits, reservations, providerLimits, providerReservation) => {
    const { resources } = (await args({ resources: { limits, reservations } })).taskSpec;
    expect(resources?.limits).toEqual(providerLimits);
    expect(resources?.reservation).toMatchObject(providerReservation);
  });

  it("replicated or global mode", async () => {
    expect((await args({ replicas: 3 })).mode).toEqual({ replicated: { replicas: 3 } });
    expect((await args({ global: true })).mode).toEqual({ global: true });
  });

  it("bind mounts carry their read-only flag; host ports publish in host mode", async () => {
    const inputs = await args({
      mounts: [{ source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true }],
      hostPorts: [{ target: 9000, published: 9000 }],
    });
    const binds = (inputs.taskSpec.containerSpec.mounts ?? []).filter((m) => m.type === "bind");
    expect(binds).toEqual([expect.objectContaining({ source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true })]);
    expect(inputs.endpointSpec?.ports).toEqual([{ targetPort: 9000, publishedPort: 9000, publishMode: "host", protocol: "tcp" }]);
  });

  it("attaches the networks by id, in the spec's order", async () => {
    const inputs = await args({ networks: ["frontend", "backend"] });
    expect(inputs.taskSpec.networksAdvanceds?.map((n) => n.id)).toEqual(["frontend-net-id", "backend-net-id"]);
  });

  it("names the missing object when a spec needs a secret nobody created", () => {
    const refs = { ...FIXTURE_REFS, secrets: new Map() };
    expect(() => swarmServiceArgs({ ...base, secrets: ["jwt_secret"] }, refs)).toThrow('service medianest-frontend needs secret "jwt_secret", which was not created');
  });
});
