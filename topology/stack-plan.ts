// Config → the whole stack as plain data, one section per tier: hosts and their
// preparation steps, the swarm, every service by tier, the generated files, the
// declared secrets, object storage, the edge, the pre-deploy backup and the schema
// migration. `index.ts`
// builds it once; the components only turn their section into resources, so what
// the stack contains is decided (and tested) here, without Pulumi.
import * as path from "node:path";
import type { StackConfig } from "../config/schema";
import { placementOptions } from "../config/schema";
import { placementRequirementOf, edgeHosts, holdsSingleInstanceData, EDGE_LABEL } from "../domain/catalogue";
import { hostsMatching } from "../domain/labels";
import { MEDIANEST_CONTRACT } from "../domain/app-contract";
import { LOCAL_BUILD_IMAGES } from "../domain/images";
import { overlayNetworkName } from "../domain/networks";
import type { ScriptArgs } from "../scripts/interfaces";
import { PlanError } from "./plan-error";
import type { CloudflareEdgeInput } from "./cloudflare-plan";
import { TRAEFIK_PORTS, edgeClusterAddresses } from "./edge";
import { generatedFiles } from "./generated-files";
import { hostSteps, type HostStep } from "./host-steps";
import { planTopology, type PlannedNode, type TopologyPlan } from "./plan";
import { APP_USER, BACKUP_USER, appPolicy, backupPolicy, type PolicyDocument } from "./s3-policies";
import { secretSource, type SecretSource } from "./secret-sources";
import { COLORS, environmentWrapper, planServiceTiers, postgresWriter, secretPath, servicesOf, type ContainerScript, type SecretName, type ServiceFile, type ServiceSpec, type ServiceTiers } from "./services";

export interface HostPlan {
  readonly node: PlannedNode;
  readonly steps: readonly HostStep[];
}

export interface SwarmPlan {
  readonly autolock: boolean;
  readonly drainTimeoutSeconds: number;
  /** Services whose one task keeps its data on its node: a node running one is not removed unless released (swarm/node-remove.sh). */
  readonly statefulServices: readonly string[];
}

export interface ConfigFilesPlan {
  /** Container scripts some service mounts, sorted, each once. */
  readonly scripts: readonly ContainerScript[];
  /** Generated files and env files by name, content rendered. */
  readonly files: Readonly<Partial<Record<ServiceFile, string>>>;
}

export interface DeclaredSecret {
  readonly name: SecretName;
  readonly source: SecretSource;
}

export type BucketKey = "media" | "thumbnails" | "backups";
export const BUCKET_KEYS: readonly BucketKey[] = ["media", "thumbnails", "backups"];

/** A least-privilege MinIO user; its key pair becomes the two named Docker secrets. */
export interface S3UserPlan {
  /** Resource-name stem ("app", "backup"). */
  readonly id: "app" | "backup";
  readonly name: string;
  readonly policy: PolicyDocument;
  /** Buckets the policy names: they must exist before it is attached. */
  readonly buckets: readonly BucketKey[];
  readonly accessKeySecret: SecretName;
  readonly secretKeySecret: SecretName;
}

export type StoragePlan =
  | { readonly mode: "external"; readonly buckets: Readonly<Record<BucketKey, string>> }
  | {
      readonly mode: "internal";
      readonly buckets: Readonly<Record<BucketKey, string>>;
      readonly minio: ServiceSpec;
      /** host:port the minio provider dials: the first edge node's HTTPS port (see minioAdminRoutingLabels). */
      readonly adminAddress: string;
      readonly retentionDays: number;
      readonly users: readonly S3UserPlan[];
    };

export interface EdgePlan {
  /** What Cloudflare gets, when the stack enables it. */
  readonly cloudflare?: CloudflareEdgeInput;
}

/** One backup run per host that may run the database, re-run exactly when an app image changes. */
export interface PreDeployBackupPlan {
  readonly hosts: readonly string[];
  /**
   * predeploy-backup.sh's arguments: the dump service, the app images (locally built ones
   * are replaced by their IDs, so a new build re-runs it), and the dump's own arguments.
   */
  readonly args: ScriptArgs<"swarm/predeploy-backup.sh">;
}

/** One app image the stack builds from a local checkout (images.build), on the single node. */
export interface LocalImagePlan {
  /** The name config and plan use for it (LOCAL_BUILD_IMAGES); services get the built ID. */
  readonly name: string;
  readonly context: string;
  /** Absolute, inside the context. */
  readonly dockerfile: string;
  readonly target?: string;
  readonly args: Readonly<Record<string, string>>;
}

/**
 * The schema migration step: the contract's migration command from each backend image about
 * to roll out, as a one-off Swarm job on a manager, after the data tier and the pre-deploy
 * backup and before any backend task (swarm/migrate.sh). The database URL secret's name is
 * known only once it exists; the component adds it.
 */
export interface MigrationPlan {
  readonly host: string;
  readonly secret: SecretName;
  readonly args: Omit<ScriptArgs<"swarm/migrate.sh">, "secret">;
}

export interface StackPlan {
  readonly config: StackConfig;
  readonly topology: TopologyPlan;
  readonly hosts: readonly HostPlan[];
  readonly swarm: SwarmPlan;
  readonly services: ServiceTiers;
  readonly configFiles: ConfigFilesPlan;
  /** Every Docker secret some service mounts, sorted by name. */
  readonly secrets: readonly DeclaredSecret[];
  readonly storage: StoragePlan;
  readonly edge: EdgePlan;
  readonly predeployBackup?: PreDeployBackupPlan;
  readonly migration: MigrationPlan;
  /** images.build: the app images the stack builds on its one node (empty otherwise). */
  readonly localImages: readonly LocalImagePlan[];
}

/** The app images whose change re-runs the backup, in a stable order. */
export function appImages(config: StackConfig): string[] {
  const backendImages = config.deployment.strategy === "blue-green" ? COLORS.map((c) => config.deployment.images[c] ?? config.images.backend) : [config.images.backend];
  return [...backendImages, config.images.frontend, config.images.worker];
}

/** Hosts that can run the member configured as primary (and so the backup task next to it). */
export function databaseHosts(config: StackConfig): string[] {
  return hostsMatching(config.hosts, placementRequirementOf(postgresWriter(config).service, placementOptions(config)).labels).map((h) => h.name);
}

export function minioAdminAddress(config: StackConfig): string {
  const [address] = edgeClusterAddresses(config);
  if (!address) throw new PlanError(`no host carries ${EDGE_LABEL.key}=${EDGE_LABEL.value}: the minio provider reaches MinIO through the edge`);
  return `${address.includes(":") ? `[${address}]` : address}:${TRAEFIK_PORTS.websecure}`;
}

/** The app host name, pointing at every edge node's public address. */
export function cloudflareInput(config: StackConfig): CloudflareEdgeInput | undefined {
  const cloudflare = config.cloudflare;
  if (!cloudflare.enabled || cloudflare.zone === undefined) return undefined;
  return {
    zone: cloudflare.zone,
    hostnames: [config.app.hostname],
    edgeAddresses: edgeHosts(config.hosts)
      .map((h) => h.publicAddress)
      .filter((a): a is string => a !== undefined),
    staticCacheTtlSeconds: cloudflare.staticCacheTtlSeconds,
    imageCacheTtlSeconds: cloudflare.imageCacheTtlSeconds,
  };
}

function storagePlan(config: StackConfig, services: ServiceTiers): StoragePlan {
  const buckets = { ...config.s3.buckets };
  if (config.s3.mode === "external") return { mode: "external", buckets };
  const minio = services.storage.minio;
  if (!minio) throw new PlanError("internal S3 plans a minio service");
  return {
    mode: "internal",
    buckets,
    minio,
    adminAddress: minioAdminAddress(config),
    retentionDays: config.backup.retentionDays,
    users: [
      { id: "app", name: APP_USER, policy: appPolicy(config), buckets: ["media", "thumbnails"], accessKeySecret: "s3-app-access-key", secretKeySecret: "s3-app-secret-key" },
      { id: "backup", name: BACKUP_USER, policy: backupPolicy(config), buckets: ["backups"], accessKeySecret: "s3-backup-access-key", secretKeySecret: "s3-backup-secret-key" },
    ],
  };
}

/** The primary's data directory on its host: its --data argument, inside the mount it lies in. */
export function primaryDataDirOnHost(primary: ServiceSpec): string {
  const args = primary.args ?? [];
  const data = args[args.indexOf("--data") + 1];
  const mount = data === undefined || !args.includes("--data") ? undefined : primary.mounts.find((m) => data === m.target || data.startsWith(`${m.target}/`));
  if (data === undefined || !mount) throw new PlanError(`${primary.name}'s --data lies in none of its mounts`);
  return `${mount.source}${data.slice(mount.target.length)}`;
}

/** The spec of the member configured as primary. */
function writerSpec(config: StackConfig, services: ServiceTiers): ServiceSpec {
  const name = postgresWriter(config).service;
  const spec = [services.data.postgresPrimary, ...services.data.postgresReplicas].find((s) => s.name === name);
  if (!spec) throw new PlanError(`no service ${name} for services.postgres.primary`);
  return spec;
}

function predeployBackupPlan(config: StackConfig, services: ServiceTiers): PreDeployBackupPlan | undefined {
  if (!config.deployment.preDeployBackup) return undefined;
  const dump = services.backup.dump;
  if (!dump.args) throw new PlanError("the pre-deploy backup runs the dump service's own arguments; postgres-backup has none");
  return {
    hosts: databaseHosts(config),
    args: { service: dump.name, images: appImages(config), databaseDir: primaryDataDirOnHost(writerSpec(config, services)), dumpArgs: dump.args },
  };
}

function localImagesPlan(config: StackConfig): LocalImagePlan[] {
  const build = config.images.build;
  if (!build) return [];
  return (["backend", "frontend"] as const).map((tier) => {
    const spec = build[tier];
    return {
      name: LOCAL_BUILD_IMAGES[tier],
      context: build.context,
      dockerfile: path.resolve(build.context, spec.dockerfile),
      ...(spec.target ? { target: spec.target } : {}),
      args: spec.args,
    };
  });
}

function migrationPlan(config: StackConfig, topology: TopologyPlan, services: ServiceTiers): MigrationPlan {
  const contract = MEDIANEST_CONTRACT;
  const [first] = services.app.backends;
  if (!first) throw new PlanError("the app tier plans no backend");
  const secretEnv = Object.fromEntries(contract.migration.secrets.map((s) => [s.env, secretPath(s.file)]));
  return {
    host: topology.leader.name,
    secret: "database_url",
    args: {
      images: [...new Set(services.app.backends.map((b) => b.image))],
      network: overlayNetworkName("database"),
      uid: contract.backend.uid,
      gid: contract.backend.gid,
      timeoutSeconds: config.deployment.migrationTimeoutSeconds,
      constraints: first.placement.constraints,
      command: environmentWrapper(false, secretEnv, contract.migration.command),
    },
  };
}

export function planStack(config: StackConfig): StackPlan {
  const topology = planTopology(config);
  const services = planServiceTiers(config, topology);
  const specs = servicesOf(services);
  const mounted = [...new Set(specs.flatMap((s) => s.secrets))];
  // A derived secret's source is declared too (database_url needs postgres-password).
  const sources = mounted.map((name) => secretSource(name, config)).flatMap((source) => (source.kind === "derived" ? source.from : []));
  const secretNames = [...new Set([...mounted, ...sources])].sort();
  const predeployBackup = predeployBackupPlan(config, services);
  const cloudflare = cloudflareInput(config);
  return {
    config,
    topology,
    hosts: topology.nodes.map((node) => ({ node, steps: hostSteps(config, topology, node) })),
    swarm: {
      autolock: config.swarm.autolock,
      drainTimeoutSeconds: config.swarm.drainTimeoutSeconds,
      statefulServices: specs.filter(holdsSingleInstanceData).map((s) => s.name),
    },
    services,
    configFiles: { scripts: [...new Set(specs.flatMap((s) => s.scripts))].sort(), files: generatedFiles(config, topology, specs) },
    secrets: secretNames.map((name) => ({ name, source: secretSource(name, config) })),
    storage: storagePlan(config, services),
    edge: cloudflare ? { cloudflare } : {},
    ...(predeployBackup ? { predeployBackup } : {}),
    migration: migrationPlan(config, topology, services),
    localImages: localImagesPlan(config),
  };
}

export { PlanError };
