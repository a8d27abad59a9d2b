// Config + plan → the full specification of every Swarm service: image,
// replicas, resources, placement, networks, update policy, health, env,
// secrets and config files. Plain data: the SwarmService component turns it
// into docker.Service inputs, the policies and the lab read it as it is.
import type { StackConfig } from "../config/schema";
import { NETWORK_ATTACHMENTS, SERVICE_BUDGETS, STATEFUL_ROLES, postgresReplicaName, type ResourceBudget, type ServiceRole } from "../domain/catalogue";
import type { OverlayNetworkKey } from "../domain/networks";
import type { TopologyPlan } from "./plan";
import {
  ACME_DIR,
  NOT_ROUTED,
  TRAEFIK_DYNAMIC_PATH,
  TRAEFIK_PORTS,
  backendRoutingLabels,
  edgeHostNames,
  frontendRoutingLabels,
  grafanaRoutingLabels,
  minioAdminRoutingLabels,
  traefikArgs,
} from "./edge";

export const SECRET_NAMES = [
  "postgres-password",
  "postgres-replication-password",
  "redis-password",
  "jwt-secret",
  "nextauth-secret",
  "minio-root-user",
  "minio-root-password",
  "s3-app-access-key",
  "s3-app-secret-key",
  "s3-backup-access-key",
  "s3-backup-secret-key",
  "offsite-access-key",
  "offsite-secret-key",
  "cloudflare-dns-token",
  "traefik-dashboard-users",
  "grafana-admin-password",
  "alert-webhook-url",
  "alert-smtp-password",
  "alert-slack-webhook-url",
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/**
 * Scripts delivered to containers as Swarm configs (files under scripts/). The entry scripts
 * source container-lib from their own directory: a service that runs one lists both.
 */
export const CONTAINER_SCRIPTS = {
  "container-lib": "lib/container-lib.sh",
  "postgres-entrypoint": "postgres/entrypoint.sh",
  "redis-entrypoint": "redis/entrypoint.sh",
  "sentinel-entrypoint": "redis/sentinel-entrypoint.sh",
  "pg-dump": "backup/pg-dump.sh",
  "backup-upload": "backup/upload.sh",
} as const;
export type ContainerScript = keyof typeof CONTAINER_SCRIPTS;

/** Files generated from config (Prometheus, Alertmanager, Grafana, Traefik), delivered as Swarm configs. */
export const GENERATED_FILES = [
  "traefik-dynamic.yml",
  "prometheus.yml",
  "prometheus-rules.yml",
  "alertmanager.yml",
  "grafana-datasources.yml",
  "grafana-dashboards.yml",
  "grafana-medianest-dashboard.json",
] as const;
export type GeneratedFile = (typeof GENERATED_FILES)[number];
/** A service's environment delivered as a file (see deliverEnvironment). */
export type EnvFile = `env-${string}`;
/** Every file a service can mount from a Swarm config besides the container scripts. */
export type ServiceFile = GeneratedFile | EnvFile;

export const SECRETS_DIR = "/run/secrets";
export const SCRIPTS_MOUNT_DIR = "/run/medianest";
export const secretPath = (name: SecretName): string => `${SECRETS_DIR}/${name}`;
/** Where a service's environment file is mounted (deliverEnvironment). */
export const ENV_FILE_PATH = `${SCRIPTS_MOUNT_DIR}/env`;
export const scriptPath = (name: ContainerScript): string => `${SCRIPTS_MOUNT_DIR}/${name}.sh`;

export const PORTS = {
  frontend: 3000,
  backend: 3001,
  postgres: 5432,
  redis: 6379,
  sentinel: 26379,
  minio: 9000,
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  nodeExporter: 9100,
  cadvisor: 8080,
  postgresExporter: 9187,
  redisExporter: 9121,
} as const;
export const SENTINEL_MASTER_NAME = "medianest";
export const REPLICATION_USER = "replicator";

export interface HealthcheckSpec {
  readonly test: readonly string[];
  readonly interval: string;
  readonly timeout: string;
  readonly retries: number;
  readonly startPeriod: string;
}

export interface ServiceSpec {
  readonly name: string;
  readonly role: ServiceRole;
  readonly image: string;
  readonly replicas: number;
  readonly resources: ResourceBudget;
  readonly placement: {
    readonly constraints: readonly string[];
    /** Spread descriptors, e.g. "node.labels.az". */
    readonly spread: readonly string[];
    readonly maxReplicasPerNode?: number;
  };
  readonly networks: readonly OverlayNetworkKey[];
  /** stateless: start-first + rollback; stateful: stop-first. */
  readonly update: "stateless" | "stateful";
  readonly healthcheck?: HealthcheckSpec;
  /**
   * Plain settings only: secrets travel as files (`*_FILE`). At most one entry reaches the
   * container's Env directly: the provider builds Env from a map in random order, so with
   * two or more every update (a label change, a new replica count) would look like a new
   * task spec to Swarm and restart every task; the rest goes through `envFile`.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The environment, as a Swarm config the container sources before `entrypoint` (deliverEnvironment). */
  readonly envFile?: { readonly name: EnvFile; readonly content: string };
  /**
   * What the image itself runs before `args` (its ENTRYPOINT, and its CMD when the spec sets
   * no args), for images whose environment goes through `envFile`: overriding the command
   * replaces the image's entrypoint, so the wrapper has to start it.
   */
  readonly entrypoint?: readonly string[];
  readonly secrets: readonly SecretName[];
  readonly scripts: readonly ContainerScript[];
  /** Generated config files and where they are mounted (read-only). */
  readonly files?: readonly { readonly file: GeneratedFile; readonly target: string }[];
  /** Service labels (Traefik routers read them). */
  readonly labels?: Readonly<Record<string, string>>;
  /** One task per eligible node (node-exporter, cAdvisor); `replicas` is then ignored. */
  readonly global?: boolean;
  readonly mounts: readonly { readonly source: string; readonly target: string; readonly readOnly: boolean }[];
  /** tmpfs mounts: generated files holding secrets (Redis config, passfiles) never touch a disk. */
  readonly tmpfs?: readonly string[];
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly endpointMode: "vip" | "dnsrr";
  /** Host-mode published ports (admin access from the cluster and management networks only). */
  readonly hostPorts?: readonly { readonly target: number; readonly published: number }[];
  readonly stopSignal?: string;
  readonly stopGracePeriod?: string;
}

const nodeHealth = (url: string): HealthcheckSpec => ({
  // node is in every Node.js image; curl/wget are not.
  test: ["CMD", "node", "-e", `require('http').get('${url}',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))`],
  interval: "10s",
  timeout: "5s",
  retries: 3,
  startPeriod: "30s",
});

const shellHealth = (command: string, startPeriod = "60s"): HealthcheckSpec => ({
  test: ["CMD-SHELL", command],
  interval: "10s",
  timeout: "5s",
  retries: 5,
  startPeriod,
});

/** Data services are reached through `tasks.<service>`: task addresses, no IPVS VIP (which drops idle connections after 900 s). */
export const tasksHost = (service: string): string => `tasks.${service}`;

export function postgresReadHosts(config: StackConfig): string[] {
  return Array.from({ length: config.services.postgres.replicas }, (_, i) => tasksHost(postgresReplicaName(i + 1)));
}

export function s3Endpoint(config: StackConfig): string {
  return config.s3.mode === "external" ? (config.s3.endpoint as string) : `http://${tasksHost("minio")}:${PORTS.minio}`;
}

function dsn(config: StackConfig, host: string): string {
  const { user, database } = config.services.postgres;
  return `postgresql://${user}@${host}:${PORTS.postgres}/${database}?keepalives=1&keepalives_idle=300`;
}

function appConnectionEnv(config: StackConfig): Record<string, string> {
  const { redis, postgres } = config.services;
  return {
    NODE_ENV: "production",
    DATABASE_URL: dsn(config, tasksHost("postgres-primary")),
    DATABASE_READ_URLS: postgresReadHosts(config).map((host) => dsn(config, host)).join(","),
    DATABASE_USER: postgres.user,
    DATABASE_NAME: postgres.database,
    DATABASE_PASSWORD_FILE: secretPath("postgres-password"),
    REDIS_URL: `redis://${tasksHost("redis-master")}:${PORTS.redis}`,
    REDIS_SENTINELS: redis.sentinels > 0 ? `${tasksHost("redis-sentinel")}:${PORTS.sentinel}` : "",
    REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
    REDIS_PASSWORD_FILE: secretPath("redis-password"),
    S3_ENDPOINT: s3Endpoint(config),
    S3_REGION: config.s3.region,
    S3_FORCE_PATH_STYLE: "true",
    S3_BUCKET_MEDIA: config.s3.buckets.media,
    S3_BUCKET_THUMBNAILS: config.s3.buckets.thumbnails,
    S3_ACCESS_KEY_FILE: secretPath("s3-app-access-key"),
    S3_SECRET_KEY_FILE: secretPath("s3-app-secret-key"),
  };
}

/**
 * MediaNest's images (backend and frontend alike: backend/Dockerfile.prod at bad4ba6d,
 * frontend/Dockerfile.prod at d5b4f266): ENTRYPOINT ["dumb-init", "--"], CMD
 * ["/app/docker-entrypoint.sh"] (the script that reads /run/secrets and starts node).
 */
export const APP_IMAGE_ENTRYPOINT = ["dumb-init", "--", "/app/docker-entrypoint.sh"] as const;
/** tecnativa/docker-socket-proxy 0.3.0 inherits haproxy:2.2-alpine's ENTRYPOINT and CMD. */
export const SOCKET_PROXY_ENTRYPOINT = ["docker-entrypoint.sh", "haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"] as const;
/** grafana/grafana 12: ENTRYPOINT ["/run.sh"], no CMD. */
export const GRAFANA_ENTRYPOINT = ["/run.sh"] as const;
/** quay.io/prometheuscommunity/postgres-exporter v0.17: ENTRYPOINT ["/bin/postgres_exporter"] (busybox base: /bin/sh exists). */
export const POSTGRES_EXPORTER_ENTRYPOINT = ["/bin/postgres_exporter"] as const;

function scaledBudget(budget: ResourceBudget, scale: number): ResourceBudget {
  if (scale === 1) return budget;
  const round = (value: number, step: number) => Math.max(step, Math.round(value / step) * step);
  return {
    limits: budget.limits,
    reservations: { cpus: round(budget.reservations.cpus * scale, 0.01), memoryMb: round(budget.reservations.memoryMb * scale, 1) },
  };
}

interface Base {
  readonly config: StackConfig;
  readonly plan: TopologyPlan;
}

function service(base: Base, role: ServiceRole, spec: Omit<ServiceSpec, "role" | "resources" | "networks" | "update" | "endpointMode">): ServiceSpec {
  return {
    ...spec,
    role,
    resources: scaledBudget(SERVICE_BUDGETS[role], base.config.services.reservationScale),
    networks: NETWORK_ATTACHMENTS[role],
    update: STATEFUL_ROLES.has(role) ? "stateful" : "stateless",
    endpointMode: base.config.services.endpointMode,
  };
}

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];

/** The backend services: one (rolling) or one per color (blue-green), Traefik routing only the active one. */
export function backendServiceNames(config: StackConfig): string[] {
  return config.deployment.strategy === "rolling" ? ["medianest-backend"] : COLORS.map((c) => `medianest-backend-${c}`);
}

function appServices(base: Base): ServiceSpec[] {
  const { config, plan } = base;
  const publicUrl = config.app.hostname === "localhost" ? "http://localhost" : `https://${config.app.hostname}`;
  const deployment = config.deployment;
  const backend = (name: string, image: string, replicas: number, routed: boolean, color?: Color): ServiceSpec =>
    service(base, "backend", {
      name,
      image,
      replicas,
      placement: { constraints: plan.placement["medianest-backend"], spread: [] },
      healthcheck: nodeHealth(`http://127.0.0.1:${PORTS.backend}/api/health`),
      entrypoint: APP_IMAGE_ENTRYPOINT,
      env: {
        ...appConnectionEnv(config),
        PORT: String(PORTS.backend),
        PUBLIC_URL: publicUrl,
        JWT_SECRET_FILE: secretPath("jwt-secret"),
      },
      secrets: ["postgres-password", "redis-password", "s3-app-access-key", "s3-app-secret-key", "jwt-secret"],
      scripts: [],
      mounts: [],
      // In-flight requests finish on SIGTERM before the task goes.
      stopGracePeriod: "30s",
      labels: {
        ...(routed ? backendRoutingLabels(config, PORTS.backend) : NOT_ROUTED),
        ...(color ? { "com.medianest.color": color } : {}),
      },
    });
  const backends =
    deployment.strategy === "rolling"
      ? [backend("medianest-backend", config.images.backend, config.services.backend.replicas, true)]
      : COLORS.map((color) => {
          const active = color === deployment.activeColor;
          const replicas = active ? config.services.backend.replicas : (deployment.idleReplicas ?? config.services.backend.replicas);
          return backend(`medianest-backend-${color}`, deployment.images[color] ?? config.images.backend, replicas, active, color);
        });
  return [
    ...backends,
    service(base, "frontend", {
      name: "medianest-frontend",
      image: config.images.frontend,
      replicas: config.services.frontend.replicas,
      placement: { constraints: plan.placement["medianest-frontend"], spread: ["node.labels.az"] },
      healthcheck: nodeHealth(`http://127.0.0.1:${PORTS.frontend}/`),
      entrypoint: APP_IMAGE_ENTRYPOINT,
      env: {
        NODE_ENV: "production",
        PORT: String(PORTS.frontend),
        NEXTAUTH_URL: publicUrl,
        NEXTAUTH_SECRET_FILE: secretPath("nextauth-secret"),
        // Server-side API calls go through the edge's internal entrypoint, which routes to
        // the active backend: a blue-green switch is a label change on the backends only.
        BACKEND_URL: `http://traefik:${TRAEFIK_PORTS.internal}`,
      },
      secrets: ["nextauth-secret"],
      scripts: [],
      mounts: [],
      labels: frontendRoutingLabels(config, PORTS.frontend),
    }),
    service(base, "worker", {
      name: "medianest-worker",
      image: config.images.worker,
      replicas: config.services.worker.replicas,
      placement: { constraints: plan.placement["medianest-worker"], spread: [] },
      entrypoint: APP_IMAGE_ENTRYPOINT,
      env: {
        ...appConnectionEnv(config),
        WORKER_QUEUES: config.services.worker.queues.join(","),
        // Swarm template: each task knows its slot (logs, metrics, queue sharding).
        WORKER_INSTANCE: "{{.Task.Slot}}",
        MEDIA_PATH: "/media",
      },
      secrets: ["postgres-password", "redis-password", "s3-app-access-key", "s3-app-secret-key"],
      scripts: [],
      mounts: [{ source: config.storage.mediaPath, target: "/media", readOnly: false }],
    }),
  ];
}

function edgeServices(base: Base): ServiceSpec[] {
  const { config, plan } = base;
  const dnsChallenge = config.edge.tls === "acme" && config.edge.acme?.challenge === "dns-cloudflare";
  const secrets: SecretName[] = [...(dnsChallenge ? (["cloudflare-dns-token"] as const) : []), ...(config.edge.dashboard ? (["traefik-dashboard-users"] as const) : [])];
  return [
    service(base, "socket-proxy", {
      name: "docker-socket-proxy",
      image: config.images.socketProxy,
      replicas: 1,
      // The Swarm API answers on managers only; one proxy per manager.
      global: true,
      placement: { constraints: ["node.role == manager"], spread: [] },
      entrypoint: SOCKET_PROXY_ENTRYPOINT,
      // Read-only: exactly the endpoints Traefik's Swarm provider reads.
      env: { SERVICES: "1", TASKS: "1", NETWORKS: "1", NODES: "1", INFO: "1", VERSION: "1", PING: "1", EVENTS: "1", CONTAINERS: "0", POST: "0" },
      secrets: [],
      scripts: [],
      mounts: [{ source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true }],
    }),
    service(base, "traefik", {
      name: "traefik",
      image: config.images.traefik,
      replicas: edgeHostNames(config).length,
      placement: { constraints: ["node.role == manager", ...plan.placement.traefik], spread: [], maxReplicasPerNode: 1 },
      env: dnsChallenge ? { CF_DNS_API_TOKEN_FILE: secretPath("cloudflare-dns-token") } : {},
      secrets,
      scripts: [],
      files: [{ file: "traefik-dynamic.yml", target: TRAEFIK_DYNAMIC_PATH }],
      mounts: [{ source: `${config.storage.appDataPath}/traefik`, target: ACME_DIR, readOnly: false }],
      args: traefikArgs(config),
      healthcheck: {
        test: ["CMD", "traefik", "healthcheck", "--ping", "--ping.entrypoint=metrics", `--entrypoints.metrics.address=:${TRAEFIK_PORTS.metrics}`],
        interval: "10s",
        timeout: "5s",
        retries: 3,
        startPeriod: "20s",
      },
      hostPorts: [
        { target: TRAEFIK_PORTS.web, published: TRAEFIK_PORTS.web },
        { target: TRAEFIK_PORTS.websecure, published: TRAEFIK_PORTS.websecure },
      ],
    }),
  ];
}

const wgetHealth = (port: number, path: string): HealthcheckSpec => ({
  test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${path}`],
  interval: "15s",
  timeout: "5s",
  retries: 3,
  startPeriod: "30s",
});

function monitoringServices(base: Base): ServiceSpec[] {
  const { config, plan } = base;
  if (!config.monitoring.enabled) return [];
  const app = config.storage.appDataPath;
  const placement = { constraints: plan.placement.monitoring, spread: [] };
  const alerting = config.monitoring.alerting;
  const alertSecrets: SecretName[] = [
    ...(alerting.webhook ? (["alert-webhook-url"] as const) : []),
    ...(alerting.email?.username !== undefined ? (["alert-smtp-password"] as const) : []),
    ...(alerting.slack ? (["alert-slack-webhook-url"] as const) : []),
  ];
  const grafanaUrl = config.app.hostname === "localhost" ? "http://localhost:3000" : `https://grafana.${config.app.hostname}`;
  const exporter = (
    role: "postgres-exporter" | "redis-exporter",
    image: string,
    run: { env: Record<string, string>; entrypoint?: readonly string[]; args?: readonly string[] },
    secret: SecretName,
    port: number,
  ) =>
    service(base, role, {
      name: role,
      image,
      replicas: 1,
      placement: { constraints: [], spread: [] },
      ...run,
      secrets: [secret],
      scripts: [],
      mounts: [],
      healthcheck: wgetHealth(port, "/"),
    });
  return [
    service(base, "prometheus", {
      name: "prometheus",
      image: config.images.prometheus,
      replicas: 1,
      placement,
      env: {},
      secrets: [],
      scripts: [],
      files: [
        { file: "prometheus.yml", target: "/etc/prometheus/prometheus.yml" },
        { file: "prometheus-rules.yml", target: "/etc/prometheus/rules/medianest.yml" },
      ],
      mounts: [{ source: `${app}/prometheus`, target: "/prometheus", readOnly: false }],
      args: [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        `--storage.tsdb.retention.time=${config.monitoring.retentionDays}d`,
      ],
      healthcheck: wgetHealth(PORTS.prometheus, "/-/healthy"),
    }),
    service(base, "alertmanager", {
      name: "alertmanager",
      image: config.images.alertmanager,
      replicas: 1,
      placement,
      env: {},
      secrets: alertSecrets,
      scripts: [],
      files: [{ file: "alertmanager.yml", target: "/etc/alertmanager/alertmanager.yml" }],
      mounts: [{ source: `${app}/alertmanager`, target: "/alertmanager", readOnly: false }],
      args: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
      healthcheck: wgetHealth(PORTS.alertmanager, "/-/healthy"),
    }),
    service(base, "grafana", {
      name: "grafana",
      image: config.images.grafana,
      replicas: 1,
      placement,
      env: {
        GF_SECURITY_ADMIN_PASSWORD__FILE: secretPath("grafana-admin-password"),
        GF_SERVER_ROOT_URL: grafanaUrl,
        GF_USERS_ALLOW_SIGN_UP: "false",
        GF_ANALYTICS_REPORTING_ENABLED: "false",
      },
      entrypoint: GRAFANA_ENTRYPOINT,
      secrets: ["grafana-admin-password"],
      scripts: [],
      files: [
        { file: "grafana-datasources.yml", target: "/etc/grafana/provisioning/datasources/medianest.yml" },
        { file: "grafana-dashboards.yml", target: "/etc/grafana/provisioning/dashboards/medianest.yml" },
        { file: "grafana-medianest-dashboard.json", target: `${GRAFANA_DASHBOARDS_DIR}/medianest.json` },
      ],
      mounts: [{ source: `${app}/grafana`, target: "/var/lib/grafana", readOnly: false }],
      labels: grafanaRoutingLabels(config, PORTS.grafana),
      healthcheck: wgetHealth(PORTS.grafana, "/api/health"),
    }),
    service(base, "node-exporter", {
      name: "node-exporter",
      image: config.images.nodeExporter,
      replicas: 1,
      global: true,
      placement: { constraints: [], spread: [] },
      env: {},
      secrets: [],
      scripts: [],
      mounts: [
        { source: "/proc", target: "/host/proc", readOnly: true },
        { source: "/sys", target: "/host/sys", readOnly: true },
        { source: "/", target: "/rootfs", readOnly: true },
      ],
      args: ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/rootfs"],
    }),
    service(base, "cadvisor", {
      name: "cadvisor",
      image: config.images.cadvisor,
      replicas: 1,
      global: true,
      placement: { constraints: [], spread: [] },
      env: {},
      secrets: [],
      scripts: [],
      // No Docker socket (only the edge's proxy gets one): cgroup metrics per container still work.
      mounts: [
        { source: "/", target: "/rootfs", readOnly: true },
        { source: "/sys", target: "/sys", readOnly: true },
        { source: "/var/lib/docker", target: "/var/lib/docker", readOnly: true },
        { source: "/dev/disk", target: "/dev/disk", readOnly: true },
      ],
      args: ["--docker_only=false", "--housekeeping_interval=30s"],
    }),
    exporter(
      "postgres-exporter",
      config.images.postgresExporter,
      {
        entrypoint: POSTGRES_EXPORTER_ENTRYPOINT,
        env: {
          DATA_SOURCE_URI: `${tasksHost("postgres-primary")}:${PORTS.postgres}/${config.services.postgres.database}?sslmode=disable`,
          DATA_SOURCE_USER: config.services.postgres.user,
          DATA_SOURCE_PASS_FILE: secretPath("postgres-password"),
        },
      },
      "postgres-password",
      PORTS.postgresExporter,
    ),
    exporter(
      "redis-exporter",
      config.images.redisExporter,
      // The image is FROM scratch (no shell for an env file): the address is a flag.
      { env: { REDIS_PASSWORD_FILE: secretPath("redis-password") }, args: [`--redis.addr=redis://${tasksHost("redis-master")}:${PORTS.redis}`] },
      "redis-password",
      PORTS.redisExporter,
    ),
  ];
}

export const GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards";

const POSTGRES_MOUNT = "/var/lib/medianest/postgres";

function postgresServices(base: Base): ServiceSpec[] {
  const { config, plan } = base;
  const pg = config.services.postgres;
  const replicaSlots = Array.from({ length: pg.replicas }, (_, i) => `replica_${i + 1}`);
  const common = {
    image: config.images.postgres,
    replicas: 1,
    env: {},
    scripts: ["postgres-entrypoint", "container-lib"] as ContainerScript[],
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
      ],
    }),
  );
  return [primary, ...replicas];
}

const REDIS_MOUNT = "/var/lib/medianest/redis";

function redisServices(base: Base): ServiceSpec[] {
  const { config } = base;
  const redis = config.services.redis;
  const sentinelHost = redis.sentinels > 0 ? tasksHost("redis-sentinel") : "";
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
    "--run-as", "redis",
  ];
  const common = {
    image: config.images.redis,
    env: {},
    secrets: ["redis-password"] as SecretName[],
    scripts: ["redis-entrypoint", "container-lib"] as ContainerScript[],
    mounts: [{ source: `${config.storage.appDataPath}/redis`, target: REDIS_MOUNT, readOnly: false }],
    command: ["bash", scriptPath("redis-entrypoint")],
    tmpfs: ["/tmp"],
    // Redis saves its dataset on SIGTERM.
    stopGracePeriod: "30s",
    healthcheck: shellHealth(`REDISCLI_AUTH="$(cat ${secretPath("redis-password")})" redis-cli -p ${PORTS.redis} ping | grep -q PONG`, "30s"),
  };
  // The spec spreads Redis over nodes (node.id): one task per node, on the hosts that keep Redis data.
  const spread = { constraints: [], spread: ["node.id"], maxReplicasPerNode: 1 };
  const onRedisHosts = { ...spread, constraints: base.plan.placement.redis };
  const services = [service(base, "redis", { ...common, name: "redis-master", replicas: 1, placement: onRedisHosts, args: redisArgs("master", "master") })];
  if (redis.replicas > 0) {
    services.push(service(base, "redis", { ...common, name: "redis-replica", replicas: redis.replicas, placement: onRedisHosts, args: redisArgs("replica", "replica") }));
  }
  if (redis.sentinels > 0) {
    services.push(
      service(base, "redis-sentinel", {
        name: "redis-sentinel",
        image: config.images.redis,
        replicas: redis.sentinels,
        placement: spread,
        env: {},
        secrets: ["redis-password"],
        scripts: ["sentinel-entrypoint", "container-lib"],
        mounts: [],
        command: ["bash", scriptPath("sentinel-entrypoint")],
        tmpfs: ["/tmp"],
        args: [
          "--port", String(PORTS.sentinel),
          "--password-file", secretPath("redis-password"),
          "--master-name", SENTINEL_MASTER_NAME,
          "--master-host", tasksHost("redis-master"),
          "--redis-port", String(PORTS.redis),
          "--quorum", String(redis.quorum),
          "--announce-cidr", config.network.subnets.database,
          "--peer-host", tasksHost("redis-sentinel"),
          // Sentinel rewrites its config: it needs a writable place that is per task.
          "--data", "/tmp/sentinel",
          "--run-as", "redis",
        ],
        healthcheck: shellHealth(`redis-cli -p ${PORTS.sentinel} ping | grep -q PONG`, "30s"),
      }),
    );
  }
  return services;
}

function minioServices(base: Base): ServiceSpec[] {
  const { config, plan } = base;
  if (config.s3.mode !== "internal") return [];
  return [
    service(base, "minio", {
      name: "minio",
      image: config.images.minio,
      replicas: 1,
      placement: { constraints: plan.placement.minio, spread: [] },
      env: {
        MINIO_ROOT_USER_FILE: secretPath("minio-root-user"),
        MINIO_ROOT_PASSWORD_FILE: secretPath("minio-root-password"),
        MINIO_BROWSER: "off",
        // Prometheus scrapes /minio/v2/metrics/cluster over storage-net without a token.
        MINIO_PROMETHEUS_AUTH_TYPE: "public",
      },
      secrets: ["minio-root-user", "minio-root-password"],
      scripts: [],
      mounts: [{ source: config.storage.mediaPath, target: "/data", readOnly: false }],
      command: ["minio", "server", "/data", "--address", `:${PORTS.minio}`],
      // The MinIO image ships mc with a "local" alias; `mc ready` probes the health endpoint.
      healthcheck: { test: ["CMD", "mc", "ready", "local"], interval: "10s", timeout: "5s", retries: 5, startPeriod: "30s" },
      // Operators' minio provider reaches the API through the edge, management networks only.
      labels: minioAdminRoutingLabels(config, PORTS.minio),
    }),
  ];
}

function backupServices(base: Base): ServiceSpec[] {
  const { config, plan } = base;
  const pg = config.services.postgres;
  // Both run where the primary runs: /mnt/backup is a host path.
  const placement = { constraints: plan.placement["postgres-primary"], spread: [] };
  const mount = (readOnly: boolean) => [{ source: config.storage.backupPath, target: "/backup", readOnly }];
  const interval = String(config.backup.intervalHours * 3600);
  const offsite = config.backup.offsite;
  return [
    service(base, "postgres-backup", {
      name: "postgres-backup",
      image: config.images.postgres,
      replicas: 1,
      placement,
      env: {},
      secrets: ["postgres-password"],
      scripts: ["pg-dump", "container-lib"],
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
    service(base, "backup-upload", {
      name: "backup-upload",
      image: config.images.mc,
      replicas: 1,
      placement,
      env: {},
      secrets: ["s3-backup-access-key", "s3-backup-secret-key", ...(offsite ? (["offsite-access-key", "offsite-secret-key"] as const) : [])],
      scripts: ["backup-upload", "container-lib"],
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
  ];
}

/** Sources ENV_FILE_PATH (exporting every variable), then runs the image's own command. */
export const ENV_FILE_WRAPPER = ["/bin/sh", "-c", `set -a && . ${ENV_FILE_PATH} && set +a && exec "$@"`, "medianest-env"] as const;

function shellSingleQuoted(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The provider sends ContainerSpec.Env in Go map order, which is random
 * (terraform-provider-docker v4.5.0 createContainerSpec → mapTypeMapValsToStringSlice),
 * and Swarm compares a task's spec with the service's exactly (swarmkit
 * orchestrator.IsTaskDirty, moby#32344): with two or more variables any update of the
 * service restarts its tasks. So at most one variable stays in Env (a Swarm template such
 * as {{.Task.Slot}}, which only Env expands); the others become a content-addressed env
 * file that a shell wrapper sources before it execs the image's own entrypoint. A changed
 * value is a new file, so it still rolls the service as a changed Env would.
 */
export function deliverEnvironment(spec: ServiceSpec): ServiceSpec {
  const entries = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length <= 1) return spec;
  const templated = entries.filter(([, value]) => value.includes("{{"));
  if (templated.length > 1) {
    throw new Error(`service ${spec.name}: Swarm templates in ${templated.map(([k]) => k).join(", ")}: only one variable can stay in the container's Env`);
  }
  const exec = spec.command ?? spec.entrypoint;
  if (!exec) throw new Error(`service ${spec.name}: ${entries.length} environment variables go through an env file, which needs the image's entrypoint (spec.entrypoint)`);
  const filed = entries.filter(([, value]) => !value.includes("{{"));
  for (const [key, value] of filed) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`service ${spec.name}: environment variable name ${key} cannot be written to an env file`);
    if (/[\n\0]/.test(value)) throw new Error(`service ${spec.name}: environment variable ${key} contains a line break`);
  }
  return {
    ...spec,
    env: Object.fromEntries(templated),
    envFile: { name: `env-${spec.name}`, content: filed.map(([key, value]) => `${key}=${shellSingleQuoted(value)}\n`).join("") },
    command: [...ENV_FILE_WRAPPER, ...exec],
  };
}

/** The variables of an env file written by deliverEnvironment (policies and tests read them back). */
export function parseEnvFile(content: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of content.split("\n").filter((l) => l !== "")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)='((?:[^']|'\\'')*)'$/.exec(line);
    if (!m) throw new Error(`env file line is not KEY='value': ${line.slice(0, 60)}`);
    out[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return out;
}

/** Every Swarm service of the stack, data tier first. */
export function planServices(config: StackConfig, plan: TopologyPlan): ServiceSpec[] {
  const base = { config, plan };
  return [
    ...postgresServices(base),
    ...redisServices(base),
    ...minioServices(base),
    ...backupServices(base),
    ...appServices(base),
    ...edgeServices(base),
    ...monitoringServices(base),
  ].map(deliverEnvironment);
}
