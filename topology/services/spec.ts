// The shared vocabulary of the service plan: the ServiceSpec type every tier returns
// and the SwarmService component consumes, the secret, script and file names, ports,
// paths and the small builders the tiers share. Plain data, no Pulumi.
import type { StackConfig } from "../../config/schema";
import { NETWORK_ATTACHMENTS, SERVICE_BUDGETS, STATEFUL_ROLES, postgresReplicaName, type ResourceBudget, type ServiceRole } from "../../domain/catalogue";
import { APP_SECRET_FILES } from "../../domain/app-contract";
import type { OverlayNetworkKey } from "../../domain/networks";
import type { TopologyPlan } from "../plan";

export const SECRET_NAMES = [
  "postgres-password",
  "postgres-replication-password",
  "redis-password",
  // Sentinel's own requirepass (SENTINEL commands), apart from the data password the app holds.
  "redis-sentinel-password",
  // redis_exporter's password file: JSON, Redis URI -> password (derived from the two above).
  "redis-exporter-passwords",
  // The app's secrets, named as its images read them under /run/secrets (domain/app-contract.ts).
  ...APP_SECRET_FILES,
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
/**
 * A fork's extra secret file (app.extraSecrets): the Docker secret is named
 * app-extra-<file> and mounted as /run/secrets/<file>.
 */
export type ExtraSecretName = `app-extra-${string}`;
const EXTRA_SECRET_PREFIX = "app-extra-";
export const extraSecretName = (file: string): ExtraSecretName => `app-extra-${file}`;
export const isExtraSecret = (name: SecretName): name is ExtraSecretName => name.startsWith(EXTRA_SECRET_PREFIX);
export type SecretName = (typeof SECRET_NAMES)[number] | ExtraSecretName;

/**
 * Scripts delivered to containers as Swarm configs (files under scripts/), each with
 * lib/container-lib.sh bundled in (scripts/loader.ts): one self-contained file per script.
 */
export const CONTAINER_SCRIPTS = {
  "postgres-entrypoint": "postgres/entrypoint.sh",
  "redis-entrypoint": "redis/entrypoint.sh",
  "sentinel-entrypoint": "redis/sentinel-entrypoint.sh",
  "redis-proxy-entrypoint": "redis/proxy-entrypoint.sh",
  "pg-dump": "backup/pg-dump.sh",
  "backup-upload": "backup/upload.sh",
  /** Run by an operator inside the postgres-backup task (README: restore a backup). */
  restore: "backup/restore.sh",
} as const;
export type ContainerScript = keyof typeof CONTAINER_SCRIPTS;

/** Files generated from config (Prometheus, Alertmanager, Grafana, Traefik), delivered as Swarm configs. */
export const GENERATED_FILES = [
  "traefik-dynamic.yml",
  "prometheus.yml",
  "prometheus-rules.yml",
  "prometheus-data-rules.yml",
  "prometheus-availability-rules.yml",
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
export const secretPath = (name: SecretName): string => `${SECRETS_DIR}/${isExtraSecret(name) ? name.slice(EXTRA_SECRET_PREFIX.length) : name}`;
/** Where a service's environment file is mounted (deliverEnvironment). */
export const ENV_FILE_PATH = `${SCRIPTS_MOUNT_DIR}/env`;
export const scriptPath = (name: ContainerScript): string => `${SCRIPTS_MOUNT_DIR}/${name}.sh`;

/** Ports of the services we configure; the app's own are in its contract (domain/app-contract.ts). */
export const PORTS = {
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
  /**
   * Extra DNS names of the service on one of its networks (the Postgres writer address).
   * The provider replaces a service whose aliases change (networks_advanced.aliases is
   * ForceNew in terraform-provider-docker v4.5.0 resource_docker_service.go).
   */
  readonly aliases?: Partial<Readonly<Record<OverlayNetworkKey, readonly string[]>>>;
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
  /**
   * Variables the app reads from its environment only, exported from a mounted secret file
   * by the environment wrapper just before the image's entrypoint (deliverEnvironment): the
   * value reaches the process, never the service's spec.
   */
  readonly secretEnv?: Readonly<Record<string, SecretName>>;
  /** The image's user: secret files are then its own, mode 0400, instead of world-readable. */
  readonly secretOwner?: { readonly uid: number; readonly gid: number };
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

export const shellHealth = (command: string, startPeriod = "60s"): HealthcheckSpec => ({
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

function scaledBudget(budget: ResourceBudget, scale: number): ResourceBudget {
  if (scale === 1) return budget;
  const round = (value: number, step: number) => Math.max(step, Math.round(value / step) * step);
  return {
    limits: budget.limits,
    reservations: { cpus: round(budget.reservations.cpus * scale, 0.01), memoryMb: round(budget.reservations.memoryMb * scale, 1) },
  };
}

export interface Base {
  readonly config: StackConfig;
  readonly plan: TopologyPlan;
}

export function service(base: Base, role: ServiceRole, spec: Omit<ServiceSpec, "role" | "resources" | "networks" | "update" | "endpointMode">): ServiceSpec {
  return {
    ...spec,
    role,
    resources: scaledBudget(SERVICE_BUDGETS[role], base.config.services.reservationScale),
    networks: NETWORK_ATTACHMENTS[role],
    update: STATEFUL_ROLES.has(role) ? "stateful" : "stateless",
    endpointMode: base.config.services.endpointMode,
  };
}
