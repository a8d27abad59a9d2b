// The data tier on database-net: the Postgres primary and its streaming replicas, Redis
// master, replicas and Sentinels, and the scheduled backups next to the primary.
import type { StackConfig } from "../../config/schema";
import { postgresReplicaName } from "../../domain/catalogue";
import { PORTS, REPLICATION_USER, SENTINEL_MASTER_NAME, s3Endpoint, scriptPath, secretPath, service, shellHealth, tasksHost, type Base, type ContainerScript, type SecretName, type ServiceSpec } from "./spec";

const POSTGRES_MOUNT = "/var/lib/medianest/postgres";

export interface DataTier {
  readonly postgresPrimary: ServiceSpec;
  /** Replica N is postgresReplicas[N-1]. */
  readonly postgresReplicas: readonly ServiceSpec[];
  readonly redisMaster: ServiceSpec;
  readonly redisReplica?: ServiceSpec;
  readonly redisSentinel?: ServiceSpec;
  /** With Sentinel: the app's Redis address, forwarding to whichever task is master now. */
  readonly redisProxy?: ServiceSpec;
}

export interface BackupTier {
  /** pg_dump on a schedule, next to the primary. */
  readonly dump: ServiceSpec;
  /** Mirrors the dumps into the bucket (and off-site). */
  readonly upload: ServiceSpec;
}

export function dataTier(base: Base): DataTier {
  return { ...postgresServices(base), ...redisServices(base) };
}

function postgresServices(base: Base): Pick<DataTier, "postgresPrimary" | "postgresReplicas"> {
  const { config, plan } = base;
  const pg = config.services.postgres;
  const replicaSlots = Array.from({ length: pg.replicas }, (_, i) => `replica_${i + 1}`);
  const common = {
    image: config.images.postgres,
    replicas: 1,
    env: {},
    scripts: ["postgres-entrypoint"] as ContainerScript[],
    mounts: [{ source: `${config.storage.appDataPath}/postgres`, target: POSTGRES_MOUNT, readOnly: false }],
    command: ["bash", scriptPath("postgres-entrypoint")],
    tmpfs: ["/tmp"],
    healthcheck: shellHealth(`pg_isready -q -h 127.0.0.1 -p ${PORTS.postgres}`, "120s"),
    // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, nothing is lost.
    stopSignal: "SIGINT",
    stopGracePeriod: "60s",
  };
  const primary = service(base, "postgres-primary", {
    ...common,
    name: "postgres-primary",
    placement: { constraints: plan.placement["postgres-primary"], spread: [] },
    secrets: ["postgres-password", "postgres-replication-password"],
    args: [
      "primary",
      "--data", `${POSTGRES_MOUNT}/primary`,
      "--port", String(PORTS.postgres),
      "--hba-cidr", config.network.subnets.database,
      "--db", pg.database,
      "--user", pg.user,
      "--password-file", secretPath("postgres-password"),
      "--replication-user", REPLICATION_USER,
      "--replication-password-file", secretPath("postgres-replication-password"),
      "--slots", replicaSlots.join(","),
      "--run-as", "postgres",
      "--max-connections", String(pg.maxConnections),
      "--max-slot-wal-keep-size", String(pg.maxSlotWalKeepSizeMb),
    ],
  });
  const replicas = replicaSlots.map((slot, i) =>
    service(base, "postgres-replica", {
      ...common,
      name: postgresReplicaName(i + 1),
      placement: { constraints: plan.placement[postgresReplicaName(i + 1)], spread: [] },
      secrets: ["postgres-replication-password"],
      args: [
        "replica",
        "--data", `${POSTGRES_MOUNT}/replica-${i + 1}`,
        "--port", String(PORTS.postgres),
        "--primary-host", tasksHost("postgres-primary"),
        "--primary-port", String(PORTS.postgres),
        "--slot", slot,
        "--replication-user", REPLICATION_USER,
        "--replication-password-file", secretPath("postgres-replication-password"),
        "--run-as", "postgres",
        "--max-connections", String(pg.maxConnections),
      ],
    }),
  );
  return { postgresPrimary: primary, postgresReplicas: replicas };
}

const REDIS_MOUNT = "/var/lib/medianest/redis";

/** HAProxy's image user (docker-library haproxy Dockerfile: useradd --uid 99 haproxy). */
const HAPROXY_USER = { uid: 99, gid: 99 } as const;
export const REDIS_PROXY = "redis-proxy";
/** Tasks the proxy keeps per Redis service name (one per address the name resolves to). */
const REDIS_PROXY_SLOTS = 4;

/**
 * The Redis address the app is given: the master endpoint when Sentinel can move the master
 * (upstream's ioredis client has no Sentinel support), the master's tasks otherwise.
 */
export function appRedisHost(config: StackConfig): string {
  return tasksHost(config.services.redis.sentinels > 0 ? REDIS_PROXY : "redis-master");
}

/** Sentinel's directory below REDIS_MOUNT: its identity (myid) and epochs survive a new task on the node. */
const SENTINEL_DIR = "sentinel";

/**
 * The dataset clock: the master stamps this key with the time (healthcheck, every 10 s), so it
 * replicates and persists with the data; after a full restart the data node whose copy carries
 * the latest stamp is the freshest one (scripts/redis/entrypoint.sh's election reads it).
 */
export const REDIS_CLOCK_KEY = "__medianest_clock";

/** The Redis data node healthcheck: PONG, and on the master a new dataset clock stamp. */
export function redisHealthCommand(): string {
  const auth = `REDISCLI_AUTH="$(cat ${secretPath("redis-password")})"`;
  const cli = `${auth} redis-cli -p ${PORTS.redis}`;
  // The stamp never fails the check: a full master (noeviction) still serves reads.
  return `${cli} ping | grep -q PONG && { ! ${cli} role | head -1 | grep -qx master || ${cli} set ${REDIS_CLOCK_KEY} "$(date +%s)" >/dev/null || true; }`;
}

/** The Sentinel healthcheck: PONG with the Sentinel password, and its master not objectively down for long (retries). */
export function sentinelHealthCommand(): string {
  const cli = `REDISCLI_AUTH="$(cat ${secretPath("redis-sentinel-password")})" redis-cli -p ${PORTS.sentinel}`;
  // A master down beyond a failover's time with no replica to promote is a dead address
  // (every data node restarted, new task addresses): the restarted sentinel finds the live
  // master (sentinel-entrypoint.sh). A failover clears o_down within seconds, well inside
  // the healthcheck's 5 retries.
  return `${cli} ping | grep -q PONG && ! ${cli} --raw sentinel master ${SENTINEL_MASTER_NAME} | grep -qx '.*o_down.*'`;
}

function redisServices(base: Base): Pick<DataTier, "redisMaster" | "redisReplica" | "redisSentinel" | "redisProxy"> {
  const { config } = base;
  const redis = config.services.redis;
  const withSentinel = redis.sentinels > 0;
  const sentinelHost = withSentinel ? tasksHost("redis-sentinel") : "";
  const redisArgs = (roleHint: "master" | "replica", dataDir: string): string[] => [
    "--role-hint", roleHint,
    "--port", String(PORTS.redis),
    "--password-file", secretPath("redis-password"),
    "--data", `${REDIS_MOUNT}/${dataDir}`,
    "--maxmemory", `${redis.maxmemoryMb}mb`,
    "--maxmemory-policy", redis.maxmemoryPolicy,
    "--announce-cidr", config.network.subnets.database,
    "--master-host", tasksHost("redis-master"),
    "--master-port", String(PORTS.redis),
    "--sentinel-host", sentinelHost,
    "--sentinel-port", String(PORTS.sentinel),
    "--master-name", SENTINEL_MASTER_NAME,
    ...(withSentinel
      ? [
          "--sentinel-password-file", secretPath("redis-sentinel-password"),
          // The election after a full restart: every data node, by the freshest dataset clock.
          "--peer-host", redis.replicas > 0 ? tasksHost("redis-replica") : "",
          "--nodes", String(redis.replicas + 1),
          "--clock-key", REDIS_CLOCK_KEY,
        ]
      : []),
    "--run-as", "redis",
  ];
  const common = {
    image: config.images.redis,
    env: {},
    secrets: (withSentinel ? ["redis-password", "redis-sentinel-password"] : ["redis-password"]) as SecretName[],
    scripts: ["redis-entrypoint"] as ContainerScript[],
    mounts: [{ source: `${config.storage.appDataPath}/redis`, target: REDIS_MOUNT, readOnly: false }],
    command: ["bash", scriptPath("redis-entrypoint")],
    tmpfs: ["/tmp"],
    // Redis saves its dataset on SIGTERM.
    stopGracePeriod: "30s",
    // The start period covers the election after a full restart (up to ~2 min).
    healthcheck: shellHealth(redisHealthCommand(), "180s"),
  };
  // The spec spreads Redis over nodes (node.id): one task per node, on the hosts that keep Redis data.
  const spread = { constraints: [], spread: ["node.id"], maxReplicasPerNode: 1 };
  const onRedisHosts = { ...spread, constraints: base.plan.placement.redis };
  const redisMaster = service(base, "redis", { ...common, name: "redis-master", replicas: 1, placement: onRedisHosts, args: redisArgs("master", "master") });
  const redisReplica =
    redis.replicas > 0 ? service(base, "redis", { ...common, name: "redis-replica", replicas: redis.replicas, placement: onRedisHosts, args: redisArgs("replica", "replica") }) : undefined;
  const redisSentinel = withSentinel
    ? service(base, "redis-sentinel", {
        name: "redis-sentinel",
        image: config.images.redis,
        replicas: redis.sentinels,
        placement: spread,
        env: {},
        secrets: ["redis-password", "redis-sentinel-password"],
        scripts: ["sentinel-entrypoint"],
        // The node's Redis directory (created on every host): a sentinel already holds the
        // data password, so seeing the data files next to its own directory exposes nothing more.
        mounts: [{ source: `${config.storage.appDataPath}/redis`, target: REDIS_MOUNT, readOnly: false }],
        command: ["bash", scriptPath("sentinel-entrypoint")],
        tmpfs: ["/tmp"],
        args: [
          "--port", String(PORTS.sentinel),
          "--password-file", secretPath("redis-password"),
          "--sentinel-password-file", secretPath("redis-sentinel-password"),
          "--master-name", SENTINEL_MASTER_NAME,
          "--master-host", tasksHost("redis-master"),
          ...(redisReplica ? ["--data-host", tasksHost("redis-replica")] : []),
          "--redis-port", String(PORTS.redis),
          "--quorum", String(redis.quorum),
          "--announce-cidr", config.network.subnets.database,
          "--peer-host", tasksHost("redis-sentinel"),
          // Per node, persistent (one sentinel per node): a new task on the node keeps the
          // sentinel's identity, so its peers never count a stale twin.
          "--data", `${REDIS_MOUNT}/${SENTINEL_DIR}`,
          "--run-as", "redis",
        ],
        healthcheck: shellHealth(sentinelHealthCommand(), "150s"),
      })
    : undefined;
  const redisProxy =
    redis.sentinels > 0
      ? service(base, "redis-proxy", {
        name: REDIS_PROXY,
        image: config.images.redisProxy,
        // Two, on different nodes, so a node loss leaves the app an address (one on a single node).
        replicas: Math.min(2, config.hosts.length),
        placement: { constraints: [], spread: ["node.id"], maxReplicasPerNode: 1 },
        env: {},
        secrets: ["redis-password"],
        secretOwner: HAPROXY_USER,
        scripts: ["redis-proxy-entrypoint"],
        mounts: [],
        tmpfs: ["/tmp"],
        command: ["bash", scriptPath("redis-proxy-entrypoint")],
        args: [
          "--port", String(PORTS.redis),
          "--password-file", secretPath("redis-password"),
          "--redis-port", String(PORTS.redis),
          "--server", tasksHost("redis-master"),
          ...(redisReplica ? ["--server", tasksHost("redis-replica")] : []),
          "--slots", String(REDIS_PROXY_SLOTS),
        ],
        // The listener is up (bash: the image has no Redis client); whether a master is
        // reachable is the proxy's own check, so a failover never restarts it.
        healthcheck: shellHealth(`bash -c 'exec 3<>/dev/tcp/127.0.0.1/${PORTS.redis}'`, "10s"),
        // HAProxy's soft stop: open sessions finish, no new ones.
        stopSignal: "SIGUSR1",
        stopGracePeriod: "10s",
      })
      : undefined;
  return { redisMaster, ...(redisReplica ? { redisReplica } : {}), ...(redisSentinel ? { redisSentinel } : {}), ...(redisProxy ? { redisProxy } : {}) };
}

export function backupTier(base: Base): BackupTier {
  const { config, plan } = base;
  const pg = config.services.postgres;
  // Both run where the primary runs: /mnt/backup is a host path.
  const placement = { constraints: plan.placement["postgres-primary"], spread: [] };
  const mount = (readOnly: boolean) => [{ source: config.storage.backupPath, target: "/backup", readOnly }];
  const interval = String(config.backup.intervalHours * 3600);
  const offsite = config.backup.offsite;
  return {
    dump: service(base, "postgres-backup", {
      name: "postgres-backup",
      image: config.images.postgres,
      replicas: 1,
      placement,
      env: {},
      secrets: ["postgres-password"],
      scripts: ["pg-dump", "restore"],
      mounts: mount(false),
      command: ["bash", scriptPath("pg-dump")],
      tmpfs: ["/tmp"],
      args: [
        "--host", tasksHost("postgres-primary"),
        "--port", String(PORTS.postgres),
        "--db", pg.database,
        "--user", pg.user,
        "--password-file", secretPath("postgres-password"),
        "--dir", "/backup",
        "--interval-seconds", interval,
        "--retention-days", String(config.backup.retentionDays),
      ],
    }),
    upload: service(base, "backup-upload", {
      name: "backup-upload",
      image: config.images.mc,
      replicas: 1,
      placement,
      env: {},
      secrets: ["s3-backup-access-key", "s3-backup-secret-key", ...(offsite ? (["offsite-access-key", "offsite-secret-key"] as const) : [])],
      scripts: ["backup-upload"],
      mounts: mount(true),
      command: ["bash", scriptPath("backup-upload")],
      tmpfs: ["/tmp"],
      args: [
        "--dir", "/backup",
        "--endpoint", s3Endpoint(config),
        "--bucket", config.s3.buckets.backups,
        "--prefix", "postgres",
        "--access-key-file", secretPath("s3-backup-access-key"),
        "--secret-key-file", secretPath("s3-backup-secret-key"),
        ...(offsite
          ? [
              "--offsite-endpoint", offsite.endpoint,
              "--offsite-bucket", offsite.bucket,
              "--offsite-access-key-file", secretPath("offsite-access-key"),
              "--offsite-secret-key-file", secretPath("offsite-secret-key"),
            ]
          : []),
        "--interval-seconds", interval,
      ],
    }),
  };
}
