// Config + topology plan → the full specification of every Swarm service, by tier: image,
// replicas, resources, placement, networks, update policy, health, env, secrets and config
// files. Plain data: the tier components turn their section into docker.Service inputs,
// the policies and the lab read it as it is.
import type { StackConfig } from "../../config/schema";
import type { TopologyPlan } from "../plan";
import { appTier, type AppTier } from "./app-tier";
import { backupTier, dataTier, type BackupTier, type DataTier } from "./data-tier";
import { edgeTier, type EdgeTier } from "./edge-tier";
import { deliverEnvironment } from "./environment";
import { monitoringTier, type MonitoringTier } from "./monitoring-tier";
import type { ServiceSpec } from "./spec";
import { storageTier, type StorageTier } from "./storage-tier";

export * from "./spec";
export * from "./environment";
export { COLORS, backendServiceNames, publicOrigin, workerAbsence, type AppTier, type Color } from "./app-tier";
export { SOCKET_PROXY_ENTRYPOINT, type EdgeTier } from "./edge-tier";
export { GRAFANA_DASHBOARDS_DIR, GRAFANA_ENTRYPOINT, POSTGRES_EXPORTER_ENTRYPOINT, redisExporterDataUri, redisSentinelUri, type MonitoringTier } from "./monitoring-tier";
export type { BackupTier, DataTier } from "./data-tier";
export { REDIS_PROXY, appRedisHost, postgresWriter, postgresWriterHost } from "./data-tier";
export type { StorageTier } from "./storage-tier";

/** Every service of the stack by the tier that creates it; each spec with its environment delivered. */
export interface ServiceTiers {
  readonly data: DataTier;
  readonly storage: StorageTier;
  readonly backup: BackupTier;
  readonly app: AppTier;
  readonly edge: EdgeTier;
  readonly monitoring?: MonitoringTier;
}

function delivered<T extends object>(tier: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tier)) {
    out[key] = Array.isArray(value) ? value.map((s: ServiceSpec) => deliverEnvironment(s)) : value === undefined ? undefined : deliverEnvironment(value as ServiceSpec);
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as T;
}

export function planServiceTiers(config: StackConfig, plan: TopologyPlan): ServiceTiers {
  const base = { config, plan };
  const monitoring = monitoringTier(base);
  return {
    data: delivered(dataTier(base)),
    storage: delivered(storageTier(base)),
    backup: delivered(backupTier(base)),
    app: delivered(appTier(base)),
    edge: delivered(edgeTier(base)),
    ...(monitoring ? { monitoring: delivered(monitoring) } : {}),
  };
}

/** The tiers' services as one list, data tier first (the order the stack creates them in). */
export function servicesOf(tiers: ServiceTiers): ServiceSpec[] {
  const { data, storage, backup, app, edge, monitoring } = tiers;
  const present = (...specs: (ServiceSpec | undefined)[]): ServiceSpec[] => specs.filter((s): s is ServiceSpec => s !== undefined);
  return [
    data.postgresPrimary,
    ...data.postgresReplicas,
    ...present(data.redisMaster, data.redisReplica, data.redisSentinel, data.redisProxy, storage.minio),
    backup.dump,
    backup.upload,
    ...app.backends,
    app.frontend,
    ...present(app.worker),
    edge.socketProxy,
    edge.traefik,
    ...(monitoring
      ? [monitoring.prometheus, monitoring.alertmanager, monitoring.grafana, monitoring.nodeExporter, monitoring.cadvisor, monitoring.postgresExporter, monitoring.redisExporter]
      : []),
  ];
}

/** Every Swarm service of the stack, data tier first. */
export function planServices(config: StackConfig, plan: TopologyPlan): ServiceSpec[] {
  return servicesOf(planServiceTiers(config, plan));
}
