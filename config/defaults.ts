// Defaults that depend on other keys (the leader, autolock and encryption in production,
// sudo, the worker image, the overlay subnets), resolved once the rules have passed.
import { OVERLAY_NETWORKS, type OVERLAY_NETWORK_KEYS } from "../domain/networks";
import type { PlacementOptions } from "../domain/catalogue";
import { parseIpv4Cidr } from "../domain/cidr";
import { LOCAL_BUILD_IMAGES } from "../domain/images";
import { APP_SECRETS_KEY, SECRET_CONFIG_KEYS, type HostConfig, type ParsedStackConfig, type SecretConfigKey } from "./shape";
import { minioDataPathOf } from "./storage-paths";

/** A validated stack configuration with every default resolved. The SSH key is not here: it stays a Pulumi secret. */
export interface StackConfig extends Omit<ParsedStackConfig, SecretConfigKey | typeof APP_SECRETS_KEY | "swarm" | "network" | "hosts" | "images" | "services" | "storage"> {
  readonly storage: ParsedStackConfig["storage"] & { minioDataPath: string };
  readonly services: Omit<ParsedStackConfig["services"], "postgres"> & {
    postgres: ParsedStackConfig["services"]["postgres"] & { synchronousCommit: boolean };
  };
  /** With images.build, backend and frontend are LOCAL_BUILD_IMAGES: the stack puts the built IDs in. */
  readonly images: ParsedStackConfig["images"] & { backend: string; frontend: string; worker: string };
  readonly hosts: readonly (HostConfig & { sudo: boolean })[];
  readonly swarm: ParsedStackConfig["swarm"] & { leader: string; autolock: boolean };
  readonly network: Omit<ParsedStackConfig["network"], "subnets"> & {
    encrypted: boolean;
    subnets: Record<(typeof OVERLAY_NETWORK_KEYS)[number], string>;
  };
}

export interface ValidationContext {
  /** Bare names of the keys that were given as secrets (`pulumi config set --secret`). */
  readonly secretKeys: ReadonlySet<string>;
  /** Whether the program runs as root; decides the sudo default of the local connection. */
  readonly runningAsRoot: boolean;
}

export function placementOptions(config: Pick<ParsedStackConfig, "services" | "s3" | "monitoring">): PlacementOptions {
  return { postgresReplicas: config.services.postgres.replicas, internalS3: config.s3.mode === "internal", monitoring: config.monitoring.enabled };
}

export function resolveDefaults(config: ParsedStackConfig, context: ValidationContext): StackConfig {
  const production = config.environment === "production";
  const firstManager = config.hosts.find((h) => h.role === "manager");
  if (!firstManager) throw new Error("unreachable: validated config has a manager");
  // Secret values stay out of the plan: they reach resources as Pulumi secrets only (config/load.ts).
  const rest = Object.fromEntries(Object.entries(config).filter(([key]) => !(SECRET_CONFIG_KEYS as readonly string[]).includes(key) && key !== APP_SECRETS_KEY)) as Omit<
    ParsedStackConfig,
    SecretConfigKey | typeof APP_SECRETS_KEY
  >;
  return {
    ...rest,
    images: (() => {
      const backend = config.images.backend ?? LOCAL_BUILD_IMAGES.backend;
      return { ...config.images, backend, frontend: config.images.frontend ?? LOCAL_BUILD_IMAGES.frontend, worker: config.images.worker ?? backend };
    })(),
    hosts: config.hosts.map((host) => ({
      ...host,
      sudo: host.sudo ?? (config.connection === "local" ? !context.runningAsRoot : host.sshUser !== "root"),
    })),
    services: {
      ...config.services,
      postgres: {
        ...config.services.postgres,
        synchronousCommit: config.services.postgres.synchronousCommit ?? (production && config.services.postgres.replicas > 0),
      },
    },
    storage: { ...config.storage, minioDataPath: minioDataPathOf(config.storage) },
    swarm: { ...config.swarm, leader: config.swarm.leader ?? firstManager.name, autolock: config.swarm.autolock ?? production },
    network: {
      ...config.network,
      // Overlay traffic between hosts crosses their network: encrypted wherever there is more
      // than one host (CIS Docker Benchmark 7.x), not only in production.
      encrypted: config.network.encrypted ?? (production || config.hosts.length > 1),
      subnets: Object.fromEntries(
        OVERLAY_NETWORKS.map((n) => [n.key, parseIpv4Cidr(config.network.subnets[n.key] ?? n.defaultSubnet).text]),
      ) as StackConfig["network"]["subnets"],
    },
  };
}
