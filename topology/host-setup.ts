// What each host-preparation script is asked to do, derived from config and plan.
// Pure, so the exact script arguments are unit-tested and reused by the lab.
import type { StackConfig } from "../config/schema";
import type { ScriptArgs } from "../scripts/interfaces";
import type { PlannedNode, TopologyPlan } from "./plan";

/** /etc/docker/daemon.json: log rotation only; nothing Swarm rejects (no live-restore). */
export function daemonJson(config: StackConfig): string {
  const daemon = {
    "log-driver": "json-file",
    "log-opts": { "max-size": config.hostSetup.logMaxSize, "max-file": String(config.hostSetup.logMaxFiles) },
  };
  return `${JSON.stringify(daemon, null, 2)}\n`;
}

export interface DataDirectory {
  readonly path: string;
  readonly mode: string;
  /** Numeric ids: the official images' users (grafana 472, prometheus 65534). */
  readonly owner: number;
  readonly group: number;
}

/**
 * node-exporter's textfile directory on every host: the backup services write their
 * last-success metrics there (world-readable: node-exporter runs as nobody).
 */
export function backupMetricsPath(config: StackConfig): string {
  return `${config.storage.appDataPath}/backup-metrics`;
}

/** Data directories the services need, on every host (Swarm may reschedule anywhere a constraint allows). */
export function dataDirectories(config: StackConfig): DataDirectory[] {
  const app = config.storage.appDataPath;
  const dirs: DataDirectory[] = [
    { path: config.storage.backupPath, mode: "0750", owner: 0, group: 0 },
    { path: app, mode: "0755", owner: 0, group: 0 },
    // Traversable, not listable: each entrypoint creates and owns its own subdirectory
    // (0700) as the image's postgres/redis user, whatever uid that image gives it.
    { path: `${app}/postgres`, mode: "0711", owner: 0, group: 0 },
    { path: `${app}/redis`, mode: "0711", owner: 0, group: 0 },
    // The MinIO image runs as root (minio/minio Dockerfile.release sets no USER): its data is root's alone.
    { path: config.storage.minioDataPath, mode: "0700", owner: 0, group: 0 },
    { path: `${app}/traefik`, mode: "0700", owner: 0, group: 0 },
    { path: `${app}/prometheus`, mode: "0755", owner: 65534, group: 65534 },
    { path: `${app}/alertmanager`, mode: "0755", owner: 65534, group: 65534 },
    { path: `${app}/grafana`, mode: "0755", owner: 472, group: 0 },
    { path: backupMetricsPath(config), mode: "0755", owner: 0, group: 0 },
  ];
  // An NFS media share is created by the mount script; chmod on a root-squashed share would fail.
  if (!config.storage.nfs) dirs.unshift({ path: config.storage.mediaPath, mode: "0755", owner: 0, group: 0 });
  return dirs;
}

/**
 * Directories that must be on a local filesystem, each with the config key that places it
 * (data-dirs.sh refuses a network filesystem there): MinIO's data, which it does not
 * support on NFS (config rule minio-data-path says why).
 */
export function localOnlyDirectories(config: StackConfig): { readonly key: string; readonly path: string }[] {
  return config.s3.mode === "internal" ? [{ key: "storage.minioDataPath", path: config.storage.minioDataPath }] : [];
}

export function dataDirectoryArgs(config: StackConfig): ScriptArgs<"host/data-dirs.sh"> {
  return {
    dirs: dataDirectories(config).map((d) => `${d.path}:${d.mode}:${d.owner}:${d.group}`),
    localOnly: localOnlyDirectories(config).map((d) => `${d.key}=${d.path}`),
    // MinIO kept its data in the media path before it had a directory of its own: an upgraded
    // host stops here until that data is moved, instead of MinIO starting empty.
    ...(config.s3.mode === "internal" ? { minioMove: `${config.storage.mediaPath}=${config.storage.minioDataPath}` } : {}),
  };
}

/** nfs-mount.sh arguments, or undefined when the stack mounts no share; `owner` is the step's resource name. */
export function nfsMountArgs(config: StackConfig, owner: string): ScriptArgs<"host/nfs-mount.sh"> | undefined {
  const nfs = config.storage.nfs;
  return nfs ? { state: "present", server: nfs.server, exportPath: nfs.export, mountPoint: config.storage.mediaPath, options: nfs.options, owner } : undefined;
}

/** docker-mounts.sh arguments with an NFS share (Docker waits for it at boot), or undefined; `owner` is the step's resource name. */
export function dockerMountsArgs(config: StackConfig, owner: string): ScriptArgs<"host/docker-mounts.sh"> | undefined {
  return config.storage.nfs ? { state: "present", mountPoint: config.storage.mediaPath, owner } : undefined;
}

export function firewallArgs(config: StackConfig, plan: TopologyPlan, node: PlannedNode): ScriptArgs<"host/firewall.sh"> {
  const managers = plan.nodes.filter((n) => n.role === "manager");
  return {
    self: node.address,
    role: node.role,
    // VXLAN may flow over separate data-path addresses: those are peers too.
    peers: plan.nodes.flatMap((n) => (n.dataPathAddress ? [n.address, n.dataPathAddress] : [n.address])),
    managers: managers.map((n) => n.address),
    encrypted: config.network.encrypted,
    publicPorts: config.hostSetup.publicPorts.map(String),
    trusted: config.network.managementCidrs,
  };
}
