// The host directories the services mount, each with the config key that places it: one
// list, which the MinIO data-path rule (config/rules.ts) checks against and a test holds
// equal to every mount of the service plan, so a new mount cannot slip past the rule.
import * as path from "node:path";
import type { ParsedStackConfig } from "./shape";

type Storage = ParsedStackConfig["storage"];

/** MinIO's data directory: storage.minioDataPath, by default below storage.appDataPath. */
export const minioDataPathOf = (storage: Storage): string => storage.minioDataPath ?? `${storage.appDataPath}/minio`;

export interface HostMountSource {
  /** Who mounts it, for messages. */
  readonly users: string;
  /** The config key that places it. */
  readonly key: string;
  readonly path: string;
}

/**
 * Every host directory a service other than MinIO mounts read-write. (The rest are the
 * exporters' and the socket proxy's read-only views of system paths: /, /proc, /sys, the
 * Docker socket; they write nothing.)
 */
export function otherMountSources(storage: Storage): HostMountSource[] {
  const app = storage.appDataPath;
  const below = (dir: string, users: string): HostMountSource => ({ users, key: "storage.appDataPath", path: `${app}/${dir}` });
  return [
    { users: "the media worker (read-write, untrusted files)", key: "storage.mediaPath", path: storage.mediaPath },
    { users: "postgres-backup and backup-upload", key: "storage.backupPath", path: storage.backupPath },
    below("postgres", "Postgres"),
    below("redis", "Redis"),
    below("traefik", "Traefik"),
    below("prometheus", "Prometheus"),
    below("alertmanager", "Alertmanager"),
    below("grafana", "Grafana"),
    below("backup-metrics", "postgres-backup and backup-upload (node-exporter's textfile directory)"),
  ];
}

const normal = (p: string): string => path.posix.normalize(p).replace(/(.)\/+$/, "$1");

/** How path a relates to path b: the same directory, inside it, containing it, or apart. */
export function pathRelation(a: string, b: string): "same" | "inside" | "contains" | undefined {
  const [x, y] = [normal(a), normal(b)];
  if (x === y) return "same";
  const within = (inner: string, outer: string) => inner.startsWith(outer === "/" ? "/" : `${outer}/`);
  if (within(x, y)) return "inside";
  if (within(y, x)) return "contains";
  return undefined;
}
