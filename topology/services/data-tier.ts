// The data tier on database-net: the Postgres primary and its streaming replicas, Redis
// master, replicas and Sentinels, and the scheduled backups next to the primary.
import type { StackConfig } from "../../config/schema";
import { POSTGRES_WRITER, postgresMembers, writerMember, type PostgresMember } from "../../domain/postgres-members";
import { backupMetricsPath } from "../host-setup";
import { PORTS, REPLICATION_USER, SENTINEL_MASTER_NAME, s3Endpoint, scriptPath, secretPath, service, shellHealth, tasksHost, type Base, type ContainerScript, type SecretName, type ServiceSpec } from "./spec";

const POSTGRES_MOUNT = "/var/lib/medianest/postgres";
/** The cluster's system identifier, kept next to the members' data directories on each host. */
const CLUSTER_RECORD = "cluster-id";
/** Exists while postgres/entrypoint.sh is still starting the server (see its header). */
const STARTING_MARKER = "/tmp/medianest-postgres-starting";

export interface DataTier {
  /** The member on the database host ("primary"); the primary unless services.postgres.primary names a replica. */
  readonly postgresPrimary: ServiceSpec;
  /** Member replica-N is postgresReplicas[N-1]. */
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

/**
 * The address of the current primary: the alias only the member configured as primary
 * carries on database-net (libnetwork's addServiceBinding registers tasks.<alias> for a
 * service alias as it does tasks.<service>).
 */
export const postgresWriterHost = (): string => tasksHost(POSTGRES_WRITER);

/** The member configured as primary (the config rule postgres-members guarantees one). */
export function postgresWriter(config: StackConfig): PostgresMember {
  const pg = config.services.postgres;
  const member = writerMember(pg.replicas, pg.primary);
  if (!member) throw new Error(`services.postgres.primary "${pg.primary}" is no member (config rule postgres-members)`);
  return member;
}

function postgresServices(base: Base): Pick<DataTier, "postgresPrimary" | "postgresReplicas"> {
  const { config, plan } = base;
  const pg = config.services.postgres;
  const members = postgresMembers(pg.replicas);
  const writer = postgresWriter(config);
  const spec = (member: PostgresMember): ServiceSpec => {
    const others = members.filter((m) => m.name !== member.name);
    const common = [
      "--data", `${POSTGRES_MOUNT}/${member.dataDir}`,
      "--port", String(PORTS.postgres),
      "--replication-user", REPLICATION_USER,
      "--replication-password-file", secretPath("postgres-replication-password"),
      "--cluster-record", `${POSTGRES_MOUNT}/${CLUSTER_RECORD}`,
      ...others.flatMap((m) => ["--peer", `${tasksHost(m.service)}:${PORTS.postgres}`]),
      "--run-as", "postgres",
      "--max-connections", String(pg.maxConnections),
    ];
    const isWriter = member.name === writer.name;
    const slots = others.map((m) => m.slot).join(",");
    const args = isWriter
      ? [
          "primary",
          ...common,
          "--hba-cidr", config.network.subnets.database,
          "--db", pg.database,
          "--user", pg.user,
          "--password-file", secretPath("postgres-password"),
          "--slots", slots,
          "--synchronous-standbys", pg.synchronousCommit ? slots : "",
          "--max-slot-wal-keep-size", String(pg.maxSlotWalKeepSizeMb),
        ]
      : ["replica", ...common, "--primary-host", postgresWriterHost(), "--primary-port", String(PORTS.postgres), "--slot", member.slot];
    return service(base, member.name === "primary" ? "postgres-primary" : "postgres-replica", {
      name: member.service,
      image: config.images.postgres,
      replicas: 1,
      env: {},
      scripts: ["postgres-entrypoint"],
      mounts: [{ source: `${config.storage.appDataPath}/postgres`, target: POSTGRES_MOUNT, readOnly: false }],
      command: ["bash", scriptPath("postgres-entrypoint")],
      tmpfs: ["/tmp"],
      // Ready, or alive but still recovering (pg_isready 1: rejecting connections), or the
      // entrypoint still at work (recovery on its private server, a clone, a rewind): a
      // long start-up is not a failure, so Swarm must not kill it.
      healthcheck: shellHealth(`pg_isready -q -h 127.0.0.1 -p ${PORTS.postgres}; [ $? -le 1 ] || test -e ${STARTING_MARKER}`, "120s"),
      // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, nothing is lost.
      stopSignal: "SIGINT",
      stopGracePeriod: "60s",
      placement: { constraints: plan.placement[member.service], spread: [] },
      secrets: isWriter ? ["postgres-password", "postgres-replication-password"] : ["postgres-replication-password"],
      ...(isWriter ? { aliases: { database: [POSTGRES_WRITER] } } : {}),
      args,
    });
  };
  const [home, ...replicas] = members;
  if (!home) throw new Error("unreachable: the primary member always exists");
  return { postgresPrimary: spec(home), postgresReplicas: replicas.map(spec) };
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

/** How often the uploader looks for a new complete dump: an off-host copy trails the dump by about this. */
export const BACKUP_UPLOAD_POLL_SECONDS = 30;
const BACKUP_METRICS_MOUNT = "/metrics";

export function backupTier(base: Base): BackupTier {
  const { config, plan } = base;
  const pg = config.services.postgres;
  const backup = config.backup;
  // Both run where the primary runs: /mnt/backup is a host path.
  const writer = postgresWriter(config);
  const placement = { constraints: plan.placement[writer.service], spread: [] };
  const mounts = (readOnly: boolean) => [
    { source: config.storage.backupPath, target: "/backup", readOnly },
    // node-exporter's textfile directory: the backup-age alerts read what is written here.
    { source: backupMetricsPath(config), target: BACKUP_METRICS_MOUNT, readOnly: false },
  ];
  const retention = ["--retention-days", String(backup.retentionDays), "--keep-last", String(backup.keepLast)];
  const offsite = backup.offsite;
  // config/rules.ts refuses backup.fromReplica without a replica.
  const spareMember = postgresMembers(pg.replicas).find((m) => m.name !== writer.name);
  const dumpHost = backup.fromReplica && spareMember ? tasksHost(spareMember.service) : postgresWriterHost();
  return {
    dump: service(base, "postgres-backup", {
      name: "postgres-backup",
      image: config.images.postgres,
      replicas: 1,
      placement,
      env: {},
      secrets: ["postgres-password"],
      scripts: ["pg-dump", "restore"],
      mounts: mounts(false),
      command: ["bash", scriptPath("pg-dump")],
      tmpfs: ["/tmp"],
      args: [
        "--host", dumpHost,
        "--port", String(PORTS.postgres),
        "--db", pg.database,
        "--user", pg.user,
        "--password-file", secretPath("postgres-password"),
        "--dir", "/backup",
        "--interval-seconds", String(backup.intervalHours * 3600),
        ...retention,
        "--metrics-dir", BACKUP_METRICS_MOUNT,
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
      mounts: mounts(true),
      command: ["bash", scriptPath("backup-upload")],
      tmpfs: ["/tmp"],
      args: [
        "--dir", "/backup",
        "--db", pg.database,
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
        ...retention,
        // Not the dump's interval: each new dump is uploaded within a poll of being written.
        "--poll-seconds", String(BACKUP_UPLOAD_POLL_SECONDS),
        "--metrics-dir", BACKUP_METRICS_MOUNT,
      ],
    }),
  };
}
