// The service catalogue: what the spec says about each MediaNest service, as
// data. Budgets ("Service Placement & Constraints"), network attachments
// ("Network Security Rules"), placement needs and update behaviour live here
// once; the program, config validation and the policies all read them.
import { hostsMatching, type Labelled } from "./labels";
import type { OverlayNetworkKey } from "./networks";

export type ServiceRole =
  | "frontend"
  | "backend"
  | "worker"
  | "postgres-primary"
  | "postgres-replica"
  | "redis"
  | "redis-sentinel"
  | "redis-proxy"
  | "minio"
  | "postgres-backup"
  | "backup-upload"
  | "traefik"
  | "socket-proxy"
  | "prometheus"
  | "alertmanager"
  | "grafana"
  | "node-exporter"
  | "cadvisor"
  | "postgres-exporter"
  | "redis-exporter";

export interface ResourceBudget {
  readonly limits: { readonly cpus: number; readonly memoryMb: number };
  readonly reservations: { readonly cpus: number; readonly memoryMb: number };
}

/**
 * Per-service budgets. Spec values where the spec gives them; where it gives only
 * limits (worker, postgres primary) reservations are half the limits; the rest are
 * ours, sized so the production cluster's managers keep headroom.
 */
export const SERVICE_BUDGETS: Readonly<Record<ServiceRole, ResourceBudget>> = {
  frontend: { limits: { cpus: 0.5, memoryMb: 512 }, reservations: { cpus: 0.25, memoryMb: 256 } },
  backend: { limits: { cpus: 1.0, memoryMb: 1024 }, reservations: { cpus: 0.5, memoryMb: 512 } },
  worker: { limits: { cpus: 2.0, memoryMb: 4096 }, reservations: { cpus: 1.0, memoryMb: 2048 } },
  "postgres-primary": { limits: { cpus: 2.0, memoryMb: 4096 }, reservations: { cpus: 1.0, memoryMb: 2048 } },
  "postgres-replica": { limits: { cpus: 1.0, memoryMb: 2048 }, reservations: { cpus: 0.5, memoryMb: 1024 } },
  redis: { limits: { cpus: 0.5, memoryMb: 512 }, reservations: { cpus: 0.25, memoryMb: 256 } },
  "redis-sentinel": { limits: { cpus: 0.1, memoryMb: 64 }, reservations: { cpus: 0.05, memoryMb: 32 } },
  // Not in the spec: the app's Sentinel-unaware client needs an address that is always the master.
  "redis-proxy": { limits: { cpus: 0.25, memoryMb: 64 }, reservations: { cpus: 0.05, memoryMb: 32 } },
  minio: { limits: { cpus: 1.0, memoryMb: 2048 }, reservations: { cpus: 0.5, memoryMb: 1024 } },
  "postgres-backup": { limits: { cpus: 0.5, memoryMb: 512 }, reservations: { cpus: 0.1, memoryMb: 128 } },
  "backup-upload": { limits: { cpus: 0.25, memoryMb: 256 }, reservations: { cpus: 0.05, memoryMb: 64 } },
  traefik: { limits: { cpus: 1.0, memoryMb: 512 }, reservations: { cpus: 0.25, memoryMb: 128 } },
  "socket-proxy": { limits: { cpus: 0.1, memoryMb: 64 }, reservations: { cpus: 0.05, memoryMb: 16 } },
  prometheus: { limits: { cpus: 1.0, memoryMb: 2048 }, reservations: { cpus: 0.5, memoryMb: 1024 } },
  alertmanager: { limits: { cpus: 0.2, memoryMb: 128 }, reservations: { cpus: 0.05, memoryMb: 64 } },
  grafana: { limits: { cpus: 0.5, memoryMb: 512 }, reservations: { cpus: 0.1, memoryMb: 128 } },
  "node-exporter": { limits: { cpus: 0.2, memoryMb: 64 }, reservations: { cpus: 0.05, memoryMb: 32 } },
  cadvisor: { limits: { cpus: 0.3, memoryMb: 256 }, reservations: { cpus: 0.1, memoryMb: 128 } },
  "postgres-exporter": { limits: { cpus: 0.2, memoryMb: 128 }, reservations: { cpus: 0.05, memoryMb: 32 } },
  "redis-exporter": { limits: { cpus: 0.1, memoryMb: 64 }, reservations: { cpus: 0.05, memoryMb: 32 } },
};

/**
 * Network attachments, from the spec's security table: the frontend only on
 * frontend-net; database-net only for the data services and their clients
 * (backend, workers for their Redis queues, the backup dumper).
 */
export const NETWORK_ATTACHMENTS: Readonly<Record<ServiceRole, readonly OverlayNetworkKey[]>> = {
  // Not the spec's frontend-net only: the real frontend's NextAuth keeps users and sessions in
  // Postgres through Prisma (frontend/src/lib/db/prisma.ts at d5b4f266, domain/app-contract.ts).
  frontend: ["frontend", "database"],
  backend: ["frontend", "backend", "database"],
  worker: ["backend", "storage", "database"],
  "postgres-primary": ["database"],
  "postgres-replica": ["database"],
  redis: ["database"],
  "redis-sentinel": ["database"],
  "redis-proxy": ["database"],
  minio: ["storage"],
  "postgres-backup": ["database"],
  "backup-upload": ["storage"],
  // The edge serves the app over frontend-net, reaches the socket proxy and Prometheus over
  // monitor-net, and MinIO's API (management networks only) over storage-net.
  traefik: ["frontend", "monitor", "storage"],
  "socket-proxy": ["monitor"],
  // "monitor-net → all networks (metrics collection)": Prometheus joins the networks of its targets,
  // except database-net, which only data services and their clients (the exporters) may join.
  prometheus: ["monitor", "backend", "storage"],
  alertmanager: ["monitor"],
  grafana: ["monitor"],
  "node-exporter": ["monitor"],
  cadvisor: ["monitor"],
  "postgres-exporter": ["database", "monitor"],
  "redis-exporter": ["database", "monitor"],
};

/** Stateful services stop the old task before starting the new one (one writer per data dir). */
export const STATEFUL_ROLES: ReadonlySet<ServiceRole> = new Set<ServiceRole>([
  "postgres-primary",
  "postgres-replica",
  "redis",
  // A sentinel keeps its identity in a per-node directory: two tasks on one node would share it.
  "redis-sentinel",
  "minio",
  "postgres-backup",
  "prometheus",
  "alertmanager",
  "grafana",
]);

/** Only the edge publishes ports, and only these. */
export const EDGE_PORTS: readonly number[] = [80, 443];

export interface PlacementRequirement {
  readonly service: string;
  /** Node labels the service needs, e.g. { type: "compute" }. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The spec pins app services to `node.role == worker`. The constraint is only
   * emitted when some worker carries the labels, so a one-server homelab (a
   * manager with every label) can still run them.
   */
  readonly preferWorkers: boolean;
}

export const postgresReplicaName = (index: number): string => `postgres-replica-${index}`;

/** Label that pins the internal MinIO (one task, data on a host path) to one host. */
export const MINIO_LABEL = { key: "s3", value: "minio" } as const;

/** Traefik runs on the managers labelled edge=traefik (production: managers 1 and 2, LB1/LB2). */
export const EDGE_LABEL = { key: "edge", value: "traefik" } as const;
/** Redis keeps its AOF on a host path: its tasks run on the hosts labelled redis=data (spec: mgr-3, wrk-1, wrk-2). */
export const REDIS_LABEL = { key: "redis", value: "data" } as const;
/** Prometheus, Alertmanager and Grafana keep their data on the host labelled monitoring=main. */
export const MONITORING_LABEL = { key: "monitoring", value: "main" } as const;

const only = (label: { readonly key: string; readonly value: string }): Record<string, string> => ({ [label.key]: label.value });

/** The hosts Traefik runs on (edge=traefik). */
export const edgeHosts = <T extends Labelled>(hosts: readonly T[]): T[] => hostsMatching(hosts, only(EDGE_LABEL));
/** The hosts that keep Redis data (redis=data). */
export const redisHosts = <T extends Labelled>(hosts: readonly T[]): T[] => hostsMatching(hosts, only(REDIS_LABEL));

export interface PlacementOptions {
  readonly postgresReplicas: number;
  /** The internal MinIO runs on the host labelled s3=minio. */
  readonly internalS3: boolean;
  readonly monitoring: boolean;
}

/** The labels a stateful service is pinned to (its catalogue requirement), by role and service name. */
export function statefulLabels(role: string, service: string): Readonly<Record<string, string>> | undefined {
  const all = placementRequirements({ postgresReplicas: Number(/^postgres-replica-(\d+)$/.exec(service)?.[1] ?? 0), internalS3: true, monitoring: false });
  const byService = (name: string) => all.find((r) => r.service === name)?.labels;
  if (role === "postgres-primary") return byService("postgres-primary");
  if (role === "postgres-replica") return byService(service);
  if (role === "redis") return byService("redis");
  if (role === "minio") return byService("minio");
  return undefined;
}

/** The requirement of one service, or an error naming it. */
export function placementRequirementOf(service: string, options: PlacementOptions): PlacementRequirement {
  const requirement = placementRequirements(options).find((r) => r.service === service);
  if (!requirement) throw new Error(`no placement requirement for ${service}`);
  return requirement;
}

/** Where labelled services must run; replica N of Postgres runs on the host labelled postgres=replica-N. */
export function placementRequirements(options: PlacementOptions): PlacementRequirement[] {
  const { postgresReplicas } = options;
  return [
    { service: "medianest-frontend", labels: { type: "compute" }, preferWorkers: true },
    { service: "medianest-backend", labels: { type: "compute" }, preferWorkers: true },
    { service: "medianest-worker", labels: { type: "processing" }, preferWorkers: false },
    { service: "postgres-primary", labels: { type: "database", storage: "ssd" }, preferWorkers: false },
    ...Array.from({ length: postgresReplicas }, (_, i) => ({
      service: postgresReplicaName(i + 1),
      labels: { postgres: `replica-${i + 1}` },
      preferWorkers: false,
    })),
    ...(options.internalS3 ? [{ service: "minio", labels: { [MINIO_LABEL.key]: MINIO_LABEL.value }, preferWorkers: false }] : []),
    { service: "traefik", labels: { [EDGE_LABEL.key]: EDGE_LABEL.value }, preferWorkers: false },
    { service: "redis", labels: { [REDIS_LABEL.key]: REDIS_LABEL.value }, preferWorkers: false },
    ...(options.monitoring
      ? [{ service: "monitoring", labels: { [MONITORING_LABEL.key]: MONITORING_LABEL.value }, preferWorkers: false }]
      : []),
  ];
}

/**
 * The placements whose service runs one task that keeps the only copy of its data on the
 * node it runs on: the Postgres primary and each replica, MinIO, the Redis master and the
 * monitoring stack. Draining, pausing or removing a host they may run on moves the task,
 * not the data: it starts empty elsewhere (or not at all). `what` names it for people.
 */
export function singleInstanceDataPlacements(options: PlacementOptions): { readonly requirement: PlacementRequirement; readonly what: string }[] {
  const what = (service: string): string | undefined => {
    if (service === "postgres-primary" || /^postgres-replica-\d+$/.test(service) || service === "minio") return service;
    if (service === "redis") return "redis-master";
    if (service === "monitoring") return "prometheus/alertmanager/grafana";
    return undefined;
  };
  return placementRequirements(options).flatMap((requirement) => {
    const name = what(requirement.service);
    return name === undefined ? [] : [{ requirement, what: name }];
  });
}

/**
 * The Swarm services of that kind by role and name (the Redis master is role "redis" like
 * the replicas, which share their data): node-remove.sh refuses to remove a node that still
 * runs one of them.
 */
export function holdsSingleInstanceData(service: { readonly role: ServiceRole; readonly name: string }): boolean {
  const roles: readonly ServiceRole[] = ["postgres-primary", "postgres-replica", "minio", "prometheus", "alertmanager", "grafana"];
  return roles.includes(service.role) || (service.role === "redis" && service.name === "redis-master");
}
