// Services and data tier under mocks: the spec's placement and budgets, secrets
// only as files, the network security table, Postgres/Redis wiring, MinIO.
import { describe, expect, it } from "vitest";
import { contentHashedName, containerScriptContent } from "../components/service-configs";
import { appPolicy, backupPolicy } from "../topology/s3-policies";
import { CONTAINER_SCRIPTS } from "../topology/services";
import {
  effectiveEnv,
  FAKE_CONFIG_SECRETS,
  FAKE_SSH_KEY,
  MOCK_RANDOM_PREFIX,
  MOCK_SAFE_RANDOM_PREFIX,
  STACKS,
  isSecretValue,
  mockedRun,
  testConfig,
  type MockedRun,
  type RecordedResource,
  type StackName,
} from "./support/mocked-run";
import { validatedStackConfig } from "./support/stack-config";

interface ServiceInputs {
  name: string;
  mode: { replicated?: { replicas: number }; global?: boolean };
  taskSpec: {
    containerSpec: {
      image: string;
      env?: Record<string, string>;
      args?: string[];
      commands?: string[];
      secrets?: { secretName: string; fileName: string; fileMode?: number; fileUid?: string; fileGid?: string }[];
      configs?: { configName: string; fileName: string }[];
      healthcheck?: { tests: string[] };
    };
    resources: { limits: { nanoCpus: number; memoryBytes: number }; reservation: { nanoCpus: number; memoryBytes: number } };
    placement: { constraints: string[]; prefs: string[]; maxReplicas?: number };
    networksAdvanceds: { id: string; aliases?: string[] }[];
  };
  updateConfig: { order: string; failureAction: string; parallelism: number };
  endpointSpec: { mode: string; ports: { publishMode: string; publishedPort: number }[] };
}

const runs = new Map<string, MockedRun>();
async function runOf(stack: StackName): Promise<MockedRun> {
  if (!runs.has(stack)) runs.set(stack, await mockedRun(stack));
  return runs.get(stack) as MockedRun;
}
/** Production with a worker command: upstream has none, so only then do the workers run. */
async function productionWithWorkers(): Promise<MockedRun> {
  const key = "production+worker";
  if (!runs.has(key)) {
    const config = testConfig("production");
    const services = { ...(config["medianest:services"] as object), worker: { replicas: 2, command: ["node", "dist/worker.js"] } };
    runs.set(key, await mockedRun("production", { config: { ...config, "medianest:services": services } }));
  }
  return runs.get(key) as MockedRun;
}

const services = (run: MockedRun) => run.ofType("docker:index/service:Service");
const inputsOf = (service: RecordedResource) => service.inputs as unknown as ServiceInputs;
function serviceNamed(run: MockedRun, name: string): ServiceInputs {
  return inputsOf(serviceResource(run, name));
}
function serviceResource(run: MockedRun, name: string): RecordedResource {
  const found = services(run).find((s) => inputsOf(s).name === name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
}
const mb = (bytes: number) => bytes / 1024 / 1024;
const cpus = (nano: number) => nano / 1e9;
function budget(s: ServiceInputs) {
  const r = s.taskSpec.resources;
  return [cpus(r.limits.nanoCpus), mb(r.limits.memoryBytes), cpus(r.reservation.nanoCpus), mb(r.reservation.memoryBytes)];
}
/** Network keys a service is attached to (ids of the mocked networks are "<name>-id"). */
function networksOf(s: ServiceInputs): string[] {
  return s.taskSpec.networksAdvanceds.map((n) => n.id.replace(/-net-id$/, "")).sort();
}

describe("production follows the spec's placement and budgets", () => {
  it.each([
    // name, replicas, constraints, prefs, [limit cpus, limit MB, reserved cpus, reserved MB]
    ["medianest-frontend", 3, ["node.role == worker", "node.labels.type == compute"], ["node.labels.az"], [0.5, 512, 0.25, 256]],
    ["medianest-backend", 3, ["node.role == worker", "node.labels.type == compute"], [], [1.0, 1024, 0.5, 512]],
    ["medianest-worker", 2, ["node.labels.type == processing"], [], [2.0, 4096, 1.0, 2048]],
    ["postgres-primary", 1, ["node.labels.type == database", "node.labels.storage == ssd"], [], [2.0, 4096, 1.0, 2048]],
    ["postgres-replica-1", 1, ["node.labels.postgres == replica-1"], [], [1.0, 2048, 0.5, 1024]],
    ["postgres-replica-2", 1, ["node.labels.postgres == replica-2"], [], [1.0, 2048, 0.5, 1024]],
    ["redis-master", 1, ["node.labels.redis == data"], [], [0.5, 512, 0.25, 256]],
    ["redis-replica", 2, ["node.labels.redis == data"], [], [0.5, 512, 0.25, 256]],
    // The spec's "spread: node.id": one task per node (Swarm only spreads over labels).
    ["redis-sentinel", 3, [], [], [0.1, 64, 0.05, 32]],
  ] as const)("%s", async (name, replicas, constraints, prefs, resources) => {
    const s = serviceNamed(name === "medianest-worker" ? await productionWithWorkers() : await runOf("production"), name);
    expect(s.mode.replicated?.replicas).toBe(replicas);
    expect(s.taskSpec.placement.constraints).toEqual(constraints);
    expect(s.taskSpec.placement.prefs).toEqual(prefs);
    expect(budget(s)).toEqual(resources);
  });

  it("runs Redis three times in all, one task per node", async () => {
    const run = await runOf("production");
    expect((serviceNamed(run, "redis-master").mode.replicated?.replicas ?? 0) + (serviceNamed(run, "redis-replica").mode.replicated?.replicas ?? 0)).toBe(3);
    for (const name of ["redis-master", "redis-replica", "redis-sentinel"]) expect(serviceNamed(run, name).taskSpec.placement.maxReplicas).toBe(1);
  });

  it("uses the external S3 endpoint and creates no MinIO", async () => {
    const run = await runOf("production");
    expect(services(run).map((s) => inputsOf(s).name)).not.toContain("minio");
    expect(run.ofType("pulumi:providers:minio")).toEqual([]);
  });

  it("runs no worker until a command is configured: the app has no worker mode", async () => {
    expect(services(await runOf("production")).map((s) => inputsOf(s).name)).not.toContain("medianest-worker");
    const worker = serviceNamed(await productionWithWorkers(), "medianest-worker");
    expect(worker.taskSpec.containerSpec.commands?.slice(-2)).toEqual(["node", "dist/worker.js"]);
  });
});

describe("homelab runs single replicas on its one node", () => {
  it("every service has one task and label constraints in the list-label form", async () => {
    const run = await runOf("homelab");
    for (const service of services(run)) {
      const mode = inputsOf(service).mode;
      // Global services (node-exporter, cAdvisor, the socket proxy) run once per node anyway.
      if (!mode.global) expect([inputsOf(service).name, mode.replicated?.replicas]).toEqual([inputsOf(service).name, 1]);
    }
    expect(serviceNamed(run, "medianest-frontend").taskSpec.placement.constraints).toEqual(["node.labels.type.compute == true"]);
    expect(serviceNamed(run, "postgres-primary").taskSpec.placement.constraints).toEqual([
      "node.labels.type.database == true",
      "node.labels.storage == ssd",
    ]);
    const names = services(run).map((s) => inputsOf(s).name);
    expect(names).not.toContain("redis-sentinel");
    expect(names.filter((n) => n.startsWith("postgres-replica"))).toEqual([]);
    expect(names).toContain("minio");
  });
});

describe.each(STACKS)("stack %s services", (stack) => {
  it("declare limits and reservations, both positive, reservations within limits", async () => {
    for (const service of services(await runOf(stack))) {
      const [limitCpu, limitMb, resCpu, resMb] = budget(inputsOf(service));
      expect(Math.min(limitCpu, limitMb, resCpu, resMb), inputsOf(service).name).toBeGreaterThan(0);
      expect(resCpu).toBeLessThanOrEqual(limitCpu);
      expect(resMb).toBeLessThanOrEqual(limitMb);
    }
  });

  it("hold no secret in plain env: secret settings are *_FILE paths under /run/secrets", async () => {
    const run = await runOf(stack);
    const secretValues = [MOCK_RANDOM_PREFIX, MOCK_SAFE_RANDOM_PREFIX, FAKE_CONFIG_SECRETS.s3AccessKey, FAKE_CONFIG_SECRETS.s3SecretKey, FAKE_SSH_KEY.split("\n")[1]];
    for (const service of services(run)) {
      const env = await effectiveEnv(run, service);
      // At most one variable in the container's Env: the provider sends Env in random order.
      expect(Object.keys(inputsOf(service).taskSpec.containerSpec.env ?? {}).length, inputsOf(service).name).toBeLessThanOrEqual(1);
      for (const [key, value] of Object.entries(env)) {
        if (/PASSWORD|SECRET|TOKEN|_KEY/.test(key)) {
          expect(key, `${inputsOf(service).name} ${key}`).toMatch(/_FILE$/);
          expect(value).toMatch(/^\/run\/secrets\//);
        }
        for (const secret of secretValues) expect(value).not.toContain(secret);
      }
      // Nothing anywhere in the service's inputs carries a secret value in plain text.
      const text = JSON.stringify(service.rawInputs, (_k, v: unknown) => (isSecretValue(v) ? "[secret]" : v));
      for (const secret of secretValues) expect(text).not.toContain(secret);
    }
    for (const secret of run.ofType("docker:index/secret:Secret")) expect(isSecretValue(secret.rawInputs.data)).toBe(true);
  });

  it("attach networks by id as the spec's security table says, plus the frontend's database access", async () => {
    const run = await runOf(stack);
    const expected: Record<string, string[]> = {
      // The real frontend's NextAuth uses Postgres (domain/app-contract.ts): the one departure from the table.
      "medianest-frontend": ["database", "frontend"],
      "medianest-backend": ["backend", "database", "frontend"],
      "medianest-worker": ["backend", "database", "storage"],
      minio: ["storage"],
      "backup-upload": ["storage"],
      traefik: ["frontend", "monitor", "storage"],
      "docker-socket-proxy": ["monitor"],
      prometheus: ["backend", "monitor", "storage"],
      grafana: ["monitor"],
      alertmanager: ["monitor"],
      "node-exporter": ["monitor"],
      cadvisor: ["monitor"],
      "postgres-exporter": ["database", "monitor"],
      "redis-exporter": ["database", "monitor"],
    };
    const onDatabase: string[] = [];
    for (const service of services(run)) {
      const s = inputsOf(service);
      const networks = networksOf(s);
      if (s.name in expected) expect(networks, s.name).toEqual(expected[s.name]);
      if (/^(postgres|redis)/.test(s.name) && !s.name.endsWith("-exporter")) expect(networks, s.name).toEqual(["database"]);
      if (networks.includes("database")) onDatabase.push(s.name);
      // By id, never the deprecated name (the provider reads attachments back into id).
      for (const n of s.taskSpec.networksAdvanceds) expect({ ...n, aliases: undefined }).toEqual({ id: expect.stringMatching(/-net-id$/), aliases: undefined });
      // Only the member configured as primary carries the writer address, on database-net only.
      const aliased = s.taskSpec.networksAdvanceds.filter((n) => n.aliases !== undefined);
      expect(aliased.map((n) => n.aliases), s.name).toEqual(s.name === "postgres-primary" ? [["postgres-rw"]] : []);
    }
    // Data services, their clients (backend, frontend, workers, backups) and their exporters: nothing else.
    expect(onDatabase.filter((n) => !/^(postgres-|redis-|medianest-(backend(-blue|-green)?|frontend|worker)$)/.test(n))).toEqual([]);
  });

  it("roll stateless services start-first with rollback, stateful ones stop-first", async () => {
    for (const service of services(await runOf(stack))) {
      const s = inputsOf(service);
      const stateful = /^(postgres-primary|postgres-replica-\d+|redis-master|redis-replica|redis-sentinel|minio|postgres-backup|prometheus|alertmanager|grafana)$/.test(s.name);
      // Host-mode ports (Traefik) cannot be bound twice on a node: stop-first too.
      const hostPorts = s.endpointSpec.ports.length > 0;
      expect(s.updateConfig.parallelism).toBe(1);
      expect([s.name, s.updateConfig.order]).toEqual([s.name, stateful || hostPorts ? "stop-first" : "start-first"]);
      if (!stateful) expect(s.updateConfig.failureAction).toBe("rollback");
      for (const port of s.endpointSpec.ports) expect([s.name, port.publishMode]).toEqual([s.name, "host"]);
    }
  });

  it("mount every container script as a config named by its content hash", async () => {
    const run = await runOf(stack);
    const configs = run.ofType("docker:index/serviceConfig:ServiceConfig");
    for (const config of configs.filter((c) => c.name in CONTAINER_SCRIPTS)) {
      const script = config.name as keyof typeof CONTAINER_SCRIPTS;
      const content = containerScriptContent(script);
      expect(config.inputs.name).toBe(contentHashedName(script, content));
      expect(Buffer.from(String(config.inputs.data), "base64").toString("utf8")).toBe(content);
    }
    // Generated files too: the name is the hash of exactly the data sent.
    for (const config of configs) {
      const content = Buffer.from(String(config.inputs.data), "base64").toString("utf8");
      expect(config.inputs.name).toBe(contentHashedName(config.name, content));
    }
    for (const service of services(run)) {
      for (const ref of inputsOf(service).taskSpec.containerSpec.configs ?? []) {
        expect(configs.map((c) => c.inputs.name)).toContain(ref.configName);
      }
    }
  });

  it("fixed service names are deleted before they are replaced", async () => {
    const run = await runOf(stack);
    expect(services(run).length).toBeGreaterThan(0);
    for (const service of services(run)) expect([inputsOf(service).name, service.deleteBeforeReplace]).toEqual([inputsOf(service).name, true]);
  });
});

describe("Postgres", () => {
  it("replicas depend on the primary, share the replication secret and run the bootstrap script", async () => {
    const run = await runOf("production");
    const component = (name: string) => run.resources.find((r) => r.type === "medianest:service:SwarmService" && r.name === name) as RecordedResource;
    const dockerService = (name: string) => services(run).find((r) => inputsOf(r).name === name) as RecordedResource;
    const primary = serviceNamed(run, "postgres-primary");
    expect(primary.taskSpec.containerSpec.args?.slice(0, 1)).toEqual(["primary"]);
    expect(primary.taskSpec.containerSpec.args).toEqual(expect.arrayContaining(["--hba-cidr", "10.0.3.0/24", "--slots", "replica_1,replica_2", "--synchronous-standbys", "replica_1,replica_2"]));
    const replicationSecret = (s: ServiceInputs) => s.taskSpec.containerSpec.secrets?.find((x) => x.fileName === "/run/secrets/postgres-replication-password")?.secretName;
    for (const index of [1, 2]) {
      const replica = serviceNamed(run, `postgres-replica-${index}`);
      // Pulumi expands a dependency on a component to the resources inside it.
      expect(component(`postgres-replica-${index}`).dependencies).toContain(dockerService("postgres-primary").urn);
      expect(replicationSecret(replica)).toBe(replicationSecret(primary));
      expect(replica.taskSpec.containerSpec.commands).toEqual(["bash", "/run/medianest/postgres-entrypoint.sh"]);
      expect(replica.taskSpec.containerSpec.args).toEqual(
        expect.arrayContaining(["replica", "--primary-host", "tasks.postgres-rw", "--slot", `replica_${index}`]),
      );
    }
  });
});

describe("Postgres", () => {
  it("the primary bounds the WAL an absent replica's slot may hold", async () => {
    const args = serviceNamed(await runOf("production"), "postgres-primary").taskSpec.containerSpec.args ?? [];
    expect(args.slice(args.indexOf("--max-slot-wal-keep-size"), args.indexOf("--max-slot-wal-keep-size") + 2)).toEqual(["--max-slot-wal-keep-size", "8192"]);
    expect(args.slice(args.indexOf("--slots"), args.indexOf("--slots") + 2)).toEqual(["--slots", "replica_1,replica_2"]);
  });
});

describe("Postgres members: promotion by config", () => {
  async function promoted(): Promise<MockedRun> {
    const key = "production+replica-1";
    if (!runs.has(key)) {
      const config = testConfig("production");
      const svc = (config["medianest:services"] ?? {}) as Record<string, Record<string, unknown> | undefined>;
      runs.set(key, await mockedRun("production", { config: { ...config, "medianest:services": { ...svc, postgres: { ...(svc.postgres ?? {}), primary: "replica-1" } } } }));
    }
    return runs.get(key) as MockedRun;
  }
  const flag = (args: readonly string[], name: string) => args[args.indexOf(name) + 1];

  it("every member names the others as peers and keeps its identity record next to its data", async () => {
    const run = await runOf("production");
    for (const name of ["postgres-primary", "postgres-replica-1", "postgres-replica-2"]) {
      const args = serviceNamed(run, name).taskSpec.containerSpec.args ?? [];
      const peers = args.flatMap((a, i) => (args[i - 1] === "--peer" ? [a] : []));
      expect(peers, name).toEqual(["postgres-primary", "postgres-replica-1", "postgres-replica-2"].filter((n) => n !== name).map((n) => `tasks.${n}:5432`));
      expect(flag(args, "--cluster-record")).toBe("/var/lib/medianest/postgres/cluster-id");
      // A long recovery, clone or rewind is not a failed health check.
      expect(serviceNamed(run, name).taskSpec.containerSpec.healthcheck?.tests.join(" ")).toContain("test -e /tmp/medianest-postgres-starting");
    }
  });

  it("services.postgres.primary: replica-1 promotes it in place; the others follow it; the app's address and the backups follow", async () => {
    const run = await promoted();
    const newPrimary = serviceNamed(run, "postgres-replica-1");
    const args = newPrimary.taskSpec.containerSpec.args ?? [];
    expect(args[0]).toBe("primary");
    expect(flag(args, "--data")).toBe("/var/lib/medianest/postgres/replica-1");
    expect(flag(args, "--slots")).toBe("primary,replica_2");
    expect(flag(args, "--synchronous-standbys")).toBe("primary,replica_2");
    expect(newPrimary.taskSpec.networksAdvanceds.flatMap((n) => n.aliases ?? [])).toEqual(["postgres-rw"]);
    const oldPrimary = serviceNamed(run, "postgres-primary").taskSpec.containerSpec.args ?? [];
    expect([oldPrimary[0], flag(oldPrimary, "--data"), flag(oldPrimary, "--slot"), flag(oldPrimary, "--primary-host")]).toEqual(["replica", "/var/lib/medianest/postgres/primary", "primary", "tasks.postgres-rw"]);
    expect(serviceNamed(run, "postgres-primary").taskSpec.networksAdvanceds.flatMap((n) => n.aliases ?? [])).toEqual([]);
    expect(flag(serviceNamed(run, "postgres-replica-2").taskSpec.containerSpec.args ?? [], "--primary-host")).toBe("tasks.postgres-rw");
    // Nothing on the app's side changes: database_url names the writer address, as before.
    const databaseUrl = (r: MockedRun) => Buffer.from(String(r.ofType("docker:index/secret:Secret").find((x) => x.name === "database_url")?.inputs.data), "base64").toString("utf8");
    expect(databaseUrl(run)).toMatch(/@tasks\.postgres-rw:5432\/medianest$/);
    expect(databaseUrl(await runOf("production"))).toMatch(/@tasks\.postgres-rw:5432\/medianest$/);
    // The dump runs next to the new primary.
    expect(serviceNamed(run, "postgres-backup").taskSpec.placement?.constraints).toEqual(newPrimary.taskSpec.placement?.constraints);
  });
});

describe("Redis", () => {
  it("replicas point at the master and the Sentinels monitor it with quorum 2", async () => {
    const run = await runOf("production");
    const replica = serviceNamed(run, "redis-replica").taskSpec.containerSpec.args ?? [];
    expect(replica).toEqual(expect.arrayContaining(["--role-hint", "replica", "--master-host", "tasks.redis-master", "--announce-cidr", "10.0.3.0/24"]));
    const sentinel = serviceNamed(run, "redis-sentinel").taskSpec.containerSpec.args ?? [];
    expect(sentinel).toEqual(expect.arrayContaining(["--master-host", "tasks.redis-master", "--quorum", "2", "--announce-cidr", "10.0.3.0/24"]));
    // The app's ioredis cannot follow Sentinel: it reads one URL (redis_url), and nothing else about Redis.
    const backend = await effectiveEnv(run, serviceResource(run, "medianest-backend"));
    expect(Object.keys(backend).filter((k) => k.startsWith("REDIS"))).toEqual([]);
    expect(serviceNamed(run, "medianest-backend").taskSpec.containerSpec.secrets?.map((s) => s.fileName)).toContain("/run/secrets/redis_url");
  });

  it("a sentinel keeps its identity on the node (persistent per-node directory, stop-first) and has its own password", async () => {
    const run = await runOf("production");
    const sentinel = serviceNamed(run, "redis-sentinel");
    const spec = sentinel.taskSpec.containerSpec;
    const args = spec.args ?? [];
    const flag = (name: string) => args[args.indexOf(name) + 1];
    // Not the task's tmpfs: the node's Redis directory, which host setup creates on every host.
    expect(flag("--data")).toBe("/var/lib/medianest/redis/sentinel");
    const mounts = (spec as unknown as { mounts?: { type: string; source?: string; target: string; readOnly?: boolean }[] }).mounts ?? [];
    expect(mounts.filter((m) => m.type === "bind").map((m) => [m.source, m.target, m.readOnly ?? false])).toEqual([["/opt/medianest/redis", "/var/lib/medianest/redis", false]]);
    expect(mounts.filter((m) => m.type === "tmpfs").map((m) => m.target)).toEqual(["/tmp"]);
    expect(sentinel.taskSpec.placement.maxReplicas).toBe(1);
    expect(inputsOf(serviceResource(run, "redis-sentinel")).updateConfig.order).toBe("stop-first");
    expect(flag("--sentinel-password-file")).toBe("/run/secrets/redis-sentinel-password");
    expect(flag("--password-file")).toBe("/run/secrets/redis-password");
    expect(args.filter((_, i) => args[i - 1] === "--data-host")).toEqual(["tasks.redis-replica"]);
    expect(spec.secrets?.map((s) => s.fileName).sort()).toEqual(["/run/secrets/redis-password", "/run/secrets/redis-sentinel-password"]);
    // Its healthcheck authenticates with the Sentinel password.
    expect(spec.healthcheck?.tests?.[1]).toContain('REDISCLI_AUTH="$(cat /run/secrets/redis-sentinel-password)"');
    // The app never gets the Sentinel password.
    for (const name of ["medianest-backend", "medianest-frontend", "redis-proxy"]) {
      expect(serviceNamed(run, name).taskSpec.containerSpec.secrets?.map((s) => s.fileName) ?? []).not.toContain("/run/secrets/redis-sentinel-password");
    }
  });

  it("data nodes elect the freshest dataset after a full restart: peers, node count, clock key, Sentinel password", async () => {
    const run = await runOf("production");
    for (const name of ["redis-master", "redis-replica"]) {
      const spec = serviceNamed(run, name).taskSpec.containerSpec;
      const args = spec.args ?? [];
      const flag = (f: string) => args[args.indexOf(f) + 1];
      expect([name, flag("--peer-host"), flag("--nodes"), flag("--clock-key"), flag("--sentinel-password-file")]).toEqual([name, "tasks.redis-replica", "3", "__medianest_clock", "/run/secrets/redis-sentinel-password"]);
      // The master's healthcheck stamps the clock the election compares.
      expect(spec.healthcheck?.tests?.[1]).toContain("set __medianest_clock");
    }
    // Without Sentinel there is one Redis: no election flags, no Sentinel secret.
    const homelab = serviceNamed(await runOf("homelab"), "redis-master").taskSpec.containerSpec;
    expect(homelab.args).not.toContain("--nodes");
    expect(homelab.secrets?.map((s) => s.fileName)).toEqual(["/run/secrets/redis-password"]);
  });

  it("with Sentinel the app's address is the master endpoint: HAProxy over the master's and the replicas' tasks", async () => {
    const run = await runOf("production");
    const proxy = serviceNamed(run, "redis-proxy");
    expect(proxy.mode.replicated?.replicas).toBe(2);
    expect(proxy.taskSpec.placement.maxReplicas).toBe(1);
    expect(proxy.taskSpec.containerSpec.image).toMatch(/^haproxy:3\.0\.\d+@sha256:[0-9a-f]{64}$/);
    expect(proxy.taskSpec.containerSpec.commands).toEqual(["bash", "/run/medianest/redis-proxy-entrypoint.sh"]);
    const args = proxy.taskSpec.containerSpec.args ?? [];
    expect(args).toEqual(["--port", "6379", "--password-file", "/run/secrets/redis-password", "--redis-port", "6379", "--server", "tasks.redis-master", "--server", "tasks.redis-replica", "--slots", "4"]);
    // The image runs as haproxy (uid 99): the password file is its own, read-only.
    expect(proxy.taskSpec.containerSpec.secrets?.map((s) => [s.fileName, s.fileMode, s.fileUid, s.fileGid])).toEqual([["/run/secrets/redis-password", 0o400, "99", "99"]]);
    expect(networksOf(proxy)).toEqual(["database"]);
    // A failover never restarts it: its health is the listener, not the master behind it.
    expect(proxy.taskSpec.containerSpec.healthcheck?.tests).toEqual(["CMD-SHELL", "bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379'"]);
  });

  it.each(["homelab", "local", "cluster"] as const)("%s runs no Sentinel, so no proxy: the app talks to the one Redis", async (stack) => {
    const run = await runOf(stack);
    expect(services(run).map((s) => inputsOf(s).name)).not.toContain("redis-proxy");
  });
});

describe("MinIO", () => {
  it("creates the buckets, backup versioning and retention, and least-privilege users", async () => {
    const run = await runOf("homelab");
    expect(run.ofType("minio:index/s3Bucket:S3Bucket").map((b) => [b.inputs.bucket, b.inputs.acl])).toEqual([
      ["media", "private"],
      ["thumbnails", "private"],
      ["backups", "private"],
    ]);
    const [versioning] = run.ofType("minio:index/s3BucketVersioning:S3BucketVersioning");
    expect(versioning.inputs).toMatchObject({ bucket: "backups", versioningConfiguration: { status: "Enabled" } });
    const [ilm] = run.ofType("minio:index/ilmPolicy:IlmPolicy");
    // Never an age-based expiry of current dumps (a backup outage would age out every good copy):
    // the uploader prunes (keeping backup.keepLast), and only hidden versions and bare delete markers expire.
    expect(ilm.inputs).toEqual({
      bucket: "backups",
      rules: [
        { id: "expire-pruned-backups", noncurrentVersionExpirationDays: 14 },
        { id: "drop-expired-delete-markers", expiration: "DeleteMarker" },
      ],
    });
    // `status` is computed-only in terraform-provider-minio v1.20.1: setting it fails the run.
    for (const rule of ilm.inputs.rules as Record<string, unknown>[]) expect(rule).not.toHaveProperty("status");
    const users = run.ofType("minio:index/iamUser:IamUser").map((u) => u.inputs.name);
    expect(users).toEqual(["medianest-app", "medianest-backup"]);
    const policies = Object.fromEntries(run.ofType("minio:index/iamPolicy:IamPolicy").map((p) => [p.name, JSON.parse(String(p.inputs.policy))]));
    const actions = (doc: { Statement: { Action: string[] }[] }) => doc.Statement.flatMap((s) => s.Action).sort();
    expect(actions(policies.app)).toEqual(
      ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListMultipartUploadParts", "s3:PutObject"].sort(),
    );
    type Doc = { Statement: { Effect: string; Action: string[] }[] };
    const allowed = (doc: Doc) => doc.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => s.Action).sort();
    const denied = (doc: Doc) => doc.Statement.filter((s) => s.Effect === "Deny").flatMap((s) => s.Action).sort();
    // Pruning hides a dump behind a delete marker (versioned bucket); removing a version is
    // denied outright, since MinIO grants it with s3:DeleteObject unless a Deny says otherwise.
    expect(allowed(policies.backup)).toEqual(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject"]);
    expect(denied(policies.backup)).toEqual(["s3:DeleteObjectVersion"]);
    expect(JSON.stringify(policies.backup)).not.toMatch(/media|thumbnails|GetObject/);
    for (const attachment of run.ofType("minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment")) {
      expect(attachment.provider).toContain("pulumi:providers:minio");
    }
    const [provider] = run.ofType("pulumi:providers:minio");
    // Through the edge (only 80/443 are published), management networks only.
    expect([provider.inputs.minioServer, String(provider.inputs.minioSsl)]).toEqual(["192.0.2.10:443", "true"]);
    expect(isSecretValue(provider.rawInputs.minioPassword)).toBe(true);
  });

  it("policies grant only the listed buckets", () => {
    const config = validatedStackConfig("homelab");
    const resources = (doc: ReturnType<typeof appPolicy>) => doc.Statement.flatMap((s) => s.Resource);
    expect(resources(appPolicy(config)).every((r) => /:::(media|thumbnails)(\/\*)?$/.test(r))).toBe(true);
    expect(resources(backupPolicy(config)).every((r) => /:::backups(\/\*)?$/.test(r))).toBe(true);
  });
});

describe("content-hashed config names", () => {
  it("change when the script changes, so services roll onto the new config", () => {
    const before = contentHashedName("pg-dump", "#!/usr/bin/env bash\necho one\n");
    const after = contentHashedName("pg-dump", "#!/usr/bin/env bash\necho two\n");
    expect(before).toMatch(/^pg-dump-[0-9a-f]{12}$/);
    expect(after).not.toBe(before);
    expect(contentHashedName("pg-dump", "#!/usr/bin/env bash\necho one\n")).toBe(before);
  });
});
