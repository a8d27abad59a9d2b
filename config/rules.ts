// The rules across config keys, each small and named (like policies/rules/): every rule
// yields the issues it finds, each naming the key to fix. validateStackConfig runs them
// all and reports every issue at once, before any resource exists.
import { postgresMembers, writerMember } from "../domain/postgres-members";
import { existsSync, statSync } from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import { APP_SECRET_FILES, MEDIANEST_CONTRACT, SECRET_VALUE_RULES, forbiddenWordIn, type AppSecretFile } from "../domain/app-contract";
import { EDGE_LABEL, MINIO_LABEL, REDIS_LABEL, edgeHosts, placementRequirements, redisHosts, singleInstanceDataPlacements } from "../domain/catalogue";
import { cidrContains, cidrsOverlap, parseIpv4Cidr, type Ipv4Cidr } from "../domain/cidr";
import { hasDigest, isPlaceholderImage } from "../domain/images";
import { hostsMatching } from "../domain/labels";
import { looksLikeSecretName, looksLikeSecretValue } from "../domain/secret-patterns";
import { OVERLAY_NETWORKS, SWARM_INGRESS_SUBNET } from "../domain/networks";
import { placementOptions, type ValidationContext } from "./defaults";
import { minioDataPathOf, otherMountSources, pathRelation } from "./storage-paths";

export type { ValidationContext };
import { configKey, type ConfigIssue } from "./errors";
import { APP_SECRETS_KEY, SECRET_CONFIG_KEYS, type HostConfig, type ParsedStackConfig } from "./shape";

export interface ConfigRule {
  readonly name: string;
  readonly check: (config: ParsedStackConfig, context: ValidationContext) => Iterable<ConfigIssue>;
}

const rule = (name: string, check: ConfigRule["check"]): ConfigRule => ({ name, check });

function* duplicateIssues(hosts: readonly HostConfig[], field: "name" | "address"): Generator<ConfigIssue> {
  const firstIndex = new Map<string, number>();
  for (const [index, host] of hosts.entries()) {
    const seen = firstIndex.get(host[field]);
    if (seen === undefined) firstIndex.set(host[field], index);
    else yield { key: configKey(["hosts", index, field]), message: `duplicate host ${field} "${host[field]}" (also hosts[${seen}])` };
  }
}

const uniqueHosts = rule("unique-hosts", function* (config) {
  yield* duplicateIssues(config.hosts, "name");
  yield* duplicateIssues(config.hosts, "address");
});

const managerQuorum = rule("manager-quorum", function* (config) {
  const managers = config.hosts.filter((h) => h.role === "manager");
  if (managers.length === 0) {
    yield { key: configKey(["hosts"]), message: "no host has role manager; a swarm needs an odd number of managers (1, 3 or 5)" };
  } else if (managers.length % 2 === 0) {
    yield {
      key: configKey(["hosts"]),
      message: `${managers.length} managers is an even count: Raft tolerates no more failures than with ${managers.length - 1}; use an odd count (1, 3 or 5)`,
    };
  }
  if (config.swarm.leader !== undefined && !managers.some((m) => m.name === config.swarm.leader)) {
    yield { key: configKey(["swarm", "leader"]), message: `"${config.swarm.leader}" is not the name of a host with role manager` };
  }
});

const connection = rule("connection", function* (config) {
  if (config.connection === "local" && config.hosts.length !== 1) {
    yield { key: configKey(["hosts"]), message: `the local connection runs on this machine only: exactly one host is allowed, got ${config.hosts.length}` };
  }
  if (config.connection === "ssh") {
    // Unpinned, pulumi-command would not check the key at all and the docker provider would
    // trust the first one it sees: a man in the middle would get every secret and join token.
    for (const [index, host] of config.hosts.entries()) {
      if (host.hostKey === undefined) {
        const port = host.sshPort === 22 ? "" : ` -p ${host.sshPort}`;
        yield {
          key: configKey(["hosts", index, "hostKey"]),
          message: `required for connection ssh: pin ${host.name}'s SSH host key. Read it on the host (cat /etc/ssh/ssh_host_ed25519_key.pub) or with ssh-keyscan -t ed25519${port} ${host.address} over a network you trust, and set the 'ssh-ed25519 AAAA...' part`,
        };
      }
    }
    if (config.sshPrivateKey === undefined) {
      yield { key: configKey(["sshPrivateKey"]), message: "required for connection ssh: pulumi config set --secret medianest:sshPrivateKey < ~/.ssh/id_ed25519" };
    } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(config.sshPrivateKey)) {
      yield { key: configKey(["sshPrivateKey"]), message: "is not a PEM/OpenSSH private key (expected a '-----BEGIN ... PRIVATE KEY-----' block)" };
    }
  }
});

const secretsAreSecret = rule("secrets-are-secret", function* (config, context) {
  for (const key of SECRET_CONFIG_KEYS) {
    if (config[key] !== undefined && !context.secretKeys.has(key)) {
      yield { key: configKey([key]), message: `must be a secret: set it again with \`pulumi config set --secret medianest:${key}\`` };
    }
  }
});

const objectStorage = rule("object-storage", function* (config) {
  if (config.s3.mode === "external") {
    if (config.s3.endpoint === undefined) yield { key: configKey(["s3", "endpoint"]), message: "is required when s3.mode is external" };
    for (const key of ["s3AccessKey", "s3SecretKey"] as const) {
      if (config[key] === undefined) yield { key: configKey([key]), message: "is required when s3.mode is external (set it with --secret)" };
    }
  } else if (config.s3.endpoint !== undefined) {
    yield { key: configKey(["s3", "endpoint"]), message: "only applies when s3.mode is external; the internal MinIO has its own endpoint" };
  }
  if (config.backup.fromReplica && config.services.postgres.replicas === 0) {
    yield { key: configKey(["backup", "fromReplica"]), message: "needs a replica to dump from: set services.postgres.replicas to at least 1, or backup.fromReplica to false" };
  }
  if (config.backup.offsite) {
    for (const key of ["offsiteAccessKey", "offsiteSecretKey"] as const) {
      if (config[key] === undefined) yield { key: configKey([key]), message: "is required when backup.offsite is set (set it with --secret)" };
    }
  }
});

const certificates = rule("certificates", function* (config) {
  if (config.edge.tls === "acme" && config.edge.acme === undefined) {
    yield { key: configKey(["edge", "acme"]), message: "is required when edge.tls is acme: set edge.acme.email (and the challenge)" };
  }
  if (config.edge.tls === "acme" && config.app.hostname === "localhost") {
    yield { key: configKey(["edge", "tls"]), message: "Let's Encrypt cannot issue for localhost: set edge.tls to none or app.hostname to a public name" };
  }
  if (config.edge.acme?.challenge === "dns-cloudflare" && config.cloudflareDnsToken === undefined) {
    yield { key: configKey(["cloudflareDnsToken"]), message: "is required for the dns-cloudflare challenge: a token scoped to Zone:DNS:Edit (set it with --secret)" };
  }
});

const edgeNodes = rule("edge-nodes", function* (config) {
  const edges = new Set(edgeHosts(config.hosts));
  for (const [index, host] of config.hosts.entries()) {
    if (edges.has(host) && host.role !== "manager") {
      yield { key: configKey(["hosts", index, "labels"]), message: `${EDGE_LABEL.key}=${EDGE_LABEL.value} is only allowed on managers: Traefik runs on manager nodes` };
    }
  }
  if (edges.size > 1 && config.edge.tls === "acme" && config.edge.acme?.challenge === "http") {
    yield { key: configKey(["edge", "acme", "challenge"]), message: `${edges.size} edge nodes cannot share HTTP-01 certificates: use dns-cloudflare` };
  }
  if (config.edge.dashboard && config.traefikDashboardUsers === undefined) {
    yield { key: configKey(["traefikDashboardUsers"]), message: "is required when edge.dashboard is on: htpasswd lines (user:bcrypt-hash), set with --secret" };
  }
});

const cloudflare = rule("cloudflare", function* (config) {
  if (!config.cloudflare.enabled) return;
  if (config.edge.tls === "none") {
    // Cloudflare's SSL mode is Full (strict): it refuses the edge's default certificate with a 526 on every request.
    yield {
      key: configKey(["edge", "tls"]),
      message: 'is "none", but Cloudflare (cloudflare.enabled) connects to the edge with SSL Full (strict) and needs a valid certificate there: use edge.tls "acme", or set cloudflare.enabled to false',
    };
  }
  if (config.cloudflare.zone === undefined) yield { key: configKey(["cloudflare", "zone"]), message: "is required when cloudflare.enabled is true" };
  else if (config.app.hostname !== config.cloudflare.zone && !config.app.hostname.endsWith(`.${config.cloudflare.zone}`)) {
    yield { key: configKey(["app", "hostname"]), message: `"${config.app.hostname}" is not inside the Cloudflare zone ${config.cloudflare.zone}` };
  }
  if (config.cloudflareApiToken === undefined) yield { key: configKey(["cloudflareApiToken"]), message: "is required when cloudflare.enabled is true (set it with --secret)" };
  const edges = new Set(edgeHosts(config.hosts));
  for (const [index, host] of config.hosts.entries()) {
    if (edges.has(host) && host.publicAddress === undefined) {
      yield { key: configKey(["hosts", index, "publicAddress"]), message: "is required on edge hosts when cloudflare.enabled is true (the DNS records point there)" };
    }
  }
});

const alerting = rule("alerting", function* (config) {
  const alerts = config.monitoring.alerting;
  if (alerts.webhook && config.alertWebhookUrl === undefined) {
    yield { key: configKey(["alertWebhookUrl"]), message: "is required when monitoring.alerting.webhook is true (set it with --secret)" };
  }
  if (alerts.slack && config.alertSlackWebhookUrl === undefined) {
    yield { key: configKey(["alertSlackWebhookUrl"]), message: "is required when monitoring.alerting.slack is set (set it with --secret)" };
  }
  if (alerts.email?.username !== undefined && config.alertSmtpPassword === undefined) {
    yield { key: configKey(["alertSmtpPassword"]), message: "is required when monitoring.alerting.email.username is set (set it with --secret)" };
  }
});

const deploymentImages = rule("deployment-images", function* (config) {
  if (config.deployment.strategy === "rolling" && (config.deployment.images.blue || config.deployment.images.green)) {
    yield { key: configKey(["deployment", "images"]), message: "only applies to the blue-green strategy; with rolling updates set images.backend" };
  }
});

const redisTopology = rule("redis-topology", function* (config) {
  const redis = config.services.redis;
  if (redis.sentinels !== 0 && (redis.sentinels < 3 || redis.sentinels % 2 === 0)) {
    yield { key: configKey(["services", "redis", "sentinels"]), message: `${redis.sentinels} sentinels cannot fail over safely: use 0 (no Sentinel) or an odd number of at least 3` };
  }
  if (redis.sentinels !== 0 && (redis.quorum > redis.sentinels || redis.quorum < 2)) {
    yield { key: configKey(["services", "redis", "quorum"]), message: `quorum ${redis.quorum} must be at least 2 and at most the ${redis.sentinels} sentinels` };
  }
  if (redis.sentinels > config.hosts.length) {
    yield { key: configKey(["services", "redis", "sentinels"]), message: `${redis.sentinels} sentinels need as many hosts (one per node), there are ${config.hosts.length}` };
  }
  const redisHostCount = redisHosts(config.hosts).length;
  if (redisHostCount > 0 && redis.replicas + 1 > redisHostCount) {
    yield {
      key: configKey(["services", "redis", "replicas"]),
      message: `the master and ${redis.replicas} replicas need ${redis.replicas + 1} hosts labelled ${REDIS_LABEL.key}=${REDIS_LABEL.value} (one per node), there are ${redisHostCount}`,
    };
  }
  if (redis.maxmemoryMb > 450) {
    yield { key: configKey(["services", "redis", "maxmemoryMb"]), message: `${redis.maxmemoryMb} MB does not fit Redis's 512 MB container limit with room for AOF rewrites; use at most 450` };
  }
});

const placementLabels = rule("placement-labels", function* (config) {
  for (const requirement of placementRequirements(placementOptions(config))) {
    if (hostsMatching(config.hosts, requirement.labels).length === 0) {
      const wanted = Object.entries(requirement.labels).map(([k, v]) => `${k}=${v}`).join(", ");
      yield { key: configKey(["hosts"]), message: `no host carries the labels ${wanted} that ${requirement.service} needs; add them to a host's labels` };
    }
  }
});

const firewallIpv4 = rule("firewall-ipv4", function* (config) {
  if (!config.hostSetup.firewall) return;
  for (const [index, host] of config.hosts.entries()) {
    if (isIP(host.address) === 6) {
      yield { key: configKey(["hosts", index, "address"]), message: "is IPv6, but the host firewall manages IPv4 only: use an IPv4 address or set medianest:hostSetup.firewall to false" };
    }
  }
});

const overlaySubnets = rule("overlay-subnets", function* (config) {
  const parsed: { name: string; cidr: Ipv4Cidr }[] = [];
  for (const network of OVERLAY_NETWORKS) {
    const text = config.network.subnets[network.key] ?? network.defaultSubnet;
    const key = configKey(["network", "subnets", network.key]);
    let cidr: Ipv4Cidr;
    try {
      cidr = parseIpv4Cidr(text);
    } catch (error) {
      yield { key, message: (error as Error).message };
      continue;
    }
    if (cidr.prefix < 16 || cidr.prefix > 28) {
      yield { key, message: `"${text}" must have a prefix between /16 and /28 (an overlay needs room for every task, and no more than a /16)` };
    }
    for (const other of parsed) {
      if (cidrsOverlap(cidr, other.cidr)) yield { key, message: `"${text}" (${network.name}) overlaps ${other.cidr.text} (${other.name})` };
    }
    if (cidrsOverlap(cidr, parseIpv4Cidr(SWARM_INGRESS_SUBNET))) {
      yield { key, message: `"${text}" overlaps Swarm's ingress network ${SWARM_INGRESS_SUBNET}` };
    }
    for (const host of config.hosts) {
      if (cidrContains(cidr, host.address)) {
        yield { key, message: `"${text}" contains the address ${host.address} of host ${host.name}; overlay subnets must not overlap the hosts' network` };
      }
    }
    parsed.push({ name: network.name, cidr });
  }
});

const managementCidrs = rule("management-cidrs", function* (config) {
  for (const [index, cidr] of config.network.managementCidrs.entries()) {
    try {
      parseIpv4Cidr(cidr);
    } catch (error) {
      yield { key: configKey(["network", "managementCidrs", index]), message: (error as Error).message };
    }
  }
});

/**
 * Images must carry their digest. The docker provider pins a bare tag to the registry's
 * current digest when it creates a service (docker/client ServiceCreate with
 * QueryRegistry) but not when it updates one, so what Swarm stores differs from what was
 * declared: the next `pulumi up` "updates" the image back to the bare tag and restarts
 * every task. The lab's images are built on its hosts and exist in no registry, so nothing
 * resolves them: its stack may use tags.
 */
const imageDigests = rule("image-digests", function* (config) {
  if (config.environment === "lab") return;
  const images: [(string | number)[], string | undefined][] = [
    ...Object.entries(config.images).flatMap(([key, ref]): [(string | number)[], string | undefined][] => (typeof ref === "string" ? [[["images", key], ref]] : [])),
    [["deployment", "images", "blue"], config.deployment.images.blue],
    [["deployment", "images", "green"], config.deployment.images.green],
  ];
  for (const [path, ref] of images) {
    if (ref === undefined || hasDigest(ref)) continue;
    yield {
      key: configKey(path),
      message:
        `"${ref}" has no digest: pin it as ${ref.replace(/@.*$/, "")}@sha256:<digest> (\`docker buildx imagetools inspect ${ref}\` prints it). ` +
        "The docker provider resolves a bare tag only when it creates a service, so the next `pulumi up` would restart every task of it",
    };
  }
});

/**
 * Building the app images (images.build): only where the image exists on every node, a
 * single-node stack (Swarm pulls nothing for an image ID: it must be on the node already),
 * from a checkout and Dockerfiles that exist, and instead of images.backend/frontend.
 */
const appImagesSource = rule("app-images-source", function* (config) {
  const build = config.images.build;
  if (build === undefined) {
    for (const tier of ["backend", "frontend"] as const) {
      if (config.images[tier] === undefined) {
        yield { key: configKey(["images", tier]), message: "is required: the image to run (repo:tag@sha256:…), or images.build to build it from a checkout on a single-node stack" };
      }
    }
    return;
  }
  if (config.hosts.length !== 1) {
    yield { key: configKey(["images", "build"]), message: `builds on one node, but the stack has ${config.hosts.length} hosts, which would not have the image: push the images to a registry and set images.backend and images.frontend instead` };
  }
  for (const tier of ["backend", "frontend"] as const) {
    if (config.images[tier] !== undefined) yield { key: configKey(["images", tier]), message: "is set and images.build builds it too: unset one of them" };
  }
  if (!existsSync(build.context) || !statSync(build.context).isDirectory()) {
    yield { key: configKey(["images", "build", "context"]), message: `"${build.context}" is not a directory on this machine: clone MediaNest there (git clone https://github.com/KingInYellow18/medianest)` };
    return;
  }
  for (const tier of ["backend", "frontend"] as const) {
    const dockerfile = path.resolve(build.context, build[tier].dockerfile);
    if (!dockerfile.startsWith(`${path.resolve(build.context)}${path.sep}`)) yield { key: configKey(["images", "build", tier, "dockerfile"]), message: "must be inside images.build.context" };
    else if (!existsSync(dockerfile)) yield { key: configKey(["images", "build", tier, "dockerfile"]), message: `${dockerfile} does not exist in the checkout` };
  }
});

/**
 * The internal MinIO's data in a directory of its own. Inside a directory another service
 * mounts, that service can write the buckets' files behind MinIO's back: the media worker
 * mounts the media path read-write and handles untrusted files, so the backups bucket
 * there is one bad file away from corruption. And never on the NFS share: MinIO's docs
 * ("Deploy MinIO: Single-Node Single-Drive", admonition "Network File System Volumes Break
 * Consistency Guarantees", minio/docs source/operations/install-deploy-manage/
 * deploy-minio-single-node-single-drive.rst) say its read-after-write and list-after-write
 * consistency needs a local filesystem and cannot be guaranteed on NFS.
 */
const minioDataPath = rule("minio-data-path", function* (config) {
  if (config.s3.mode !== "internal") return;
  const { storage } = config;
  const minio = minioDataPathOf(storage);
  const key = configKey(["storage", "minioDataPath"]);
  const given = storage.minioDataPath === undefined ? `${minio} (unset: <storage.appDataPath>/minio)` : `"${minio}"`;
  const onShare = storage.nfs !== undefined && pathRelation(minio, storage.mediaPath) !== undefined && pathRelation(minio, storage.mediaPath) !== "contains";
  if (onShare) {
    yield {
      key,
      message:
        `${given} is on the NFS share mounted at storage.mediaPath (${storage.mediaPath}, storage.nfs), and MinIO does not support NFS: ` +
        "its read-after-write and list-after-write consistency needs a local filesystem (MinIO docs, Deploy MinIO: Single-Node Single-Drive). " +
        `Set storage.minioDataPath to a directory on a local disk of the host labelled ${MINIO_LABEL.key}: ${MINIO_LABEL.value}, outside storage.mediaPath`,
    };
  }
  for (const other of otherMountSources(storage)) {
    const relation = pathRelation(minio, other.path);
    if (relation === undefined || (onShare && other.key === "storage.mediaPath")) continue;
    const how = relation === "same" ? "is" : relation === "inside" ? "is inside" : "contains";
    yield {
      key,
      message:
        `${given} ${how} ${other.path} (${other.key}), which ${other.users} mount: that service could write MinIO's files behind its back. ` +
        "Give MinIO a directory of its own that neither contains nor lies inside another service's directory (by default <storage.appDataPath>/minio)",
    };
  }
});

/**
 * Draining or pausing a host that may run a single-instance stateful task moves the task,
 * never its data (a host path on that node): it would start empty elsewhere, or not at all.
 * Only with the host's explicit hosts[].releaseStateful. (Removing a host is guarded when it
 * happens, by swarm/node-remove.sh: a host removed from config has no entry left to check.)
 */
const statefulHosts = rule("stateful-hosts", function* (config) {
  const placements = singleInstanceDataPlacements(placementOptions(config));
  for (const [index, host] of config.hosts.entries()) {
    if (host.availability === "active" || host.releaseStateful) continue;
    const held = placements.filter((p) => hostsMatching([host], p.requirement.labels).length > 0).map((p) => p.what);
    if (held.length === 0) continue;
    yield {
      key: configKey(["hosts", index, "availability"]),
      message:
        `"${host.availability}" moves the tasks of ${held.join(", ")} away from ${host.name} (its labels place them there), but not their data, which stays on its disk: ` +
        `they would start empty elsewhere or not at all. Move the data first (README: Removing a host), then set hosts[${index}].releaseStateful to true to go ahead`,
    };
  }
});

/** Every rule, in the order their issues are reported. */
const appExtraEnv = rule("app-extra-env", function* (config) {
  for (const tier of ["backend", "frontend"] as const) {
    const contract = MEDIANEST_CONTRACT[tier];
    const taken = new Set([...Object.keys(contract.env), ...contract.secrets.map((s) => s.env)]);
    for (const [name, value] of Object.entries(config.app.extraEnv[tier])) {
      const key = configKey(["app", "extraEnv", tier, name]);
      if (taken.has(name)) yield { key, message: `is set by the program from the app contract (domain/app-contract.ts); remove it here` };
      else if (looksLikeSecretName(name) || looksLikeSecretValue(value)) yield { key, message: "looks like a secret: extra settings travel in plain text, so secrets cannot be added this way" };
    }
  }
});

/**
 * A fork's extra secret files: never one the program already mounts, never a variable the
 * contract or app.extraEnv sets, each with a secret value in medianest:appSecrets and no
 * value without a file (a typo would otherwise leave the app without its secret).
 */
const appExtraSecrets = rule("app-extra-secrets", function* (config, context) {
  const values = config.appSecrets ?? {};
  const used = new Set<string>();
  for (const tier of ["backend", "frontend"] as const) {
    const contract = MEDIANEST_CONTRACT[tier];
    const takenEnv = new Set([...Object.keys(contract.env), ...contract.secrets.map((s) => s.env), ...Object.keys(config.app.extraEnv[tier])]);
    const seen = new Set<string>();
    for (const [i, { file, env }] of config.app.extraSecrets[tier].entries()) {
      const at = (field: string) => configKey(["app", "extraSecrets", tier, i, field]);
      if ((APP_SECRET_FILES as readonly string[]).includes(file)) yield { key: at("file"), message: `"${file}" is a secret the program already manages; name the fork's secret differently` };
      else if (seen.has(file)) yield { key: at("file"), message: `"${file}" is listed twice for the ${tier}` };
      seen.add(file);
      used.add(file);
      if (env !== undefined && takenEnv.has(env)) yield { key: at("env"), message: `${env} is set by the app contract or app.extraEnv.${tier}; choose another variable` };
      if (values[file] === undefined) {
        yield { key: configKey(["appSecrets", file]), message: `is needed by app.extraSecrets.${tier}[${i}]: pulumi config set --secret --path 'medianest:appSecrets.${file}' <value>` };
      }
    }
  }
  for (const file of Object.keys(values)) {
    if (!used.has(file)) yield { key: configKey(["appSecrets", file]), message: `is not used by any app.extraSecrets entry: add { file: ${file} } to app.extraSecrets.backend or .frontend, or remove it` };
  }
  if (config.appSecrets !== undefined && !context.secretKeys.has(APP_SECRETS_KEY)) {
    yield { key: configKey(["appSecrets"]), message: "must be a secret: set each value again with pulumi config set --secret --path 'medianest:appSecrets.<file>' <value>" };
  }
});

const appImagesBuilt = rule("app-images-built", function* (config) {
  const images: [readonly (string | number)[], string | undefined][] = [
    [["images", "frontend"], config.images.frontend],
    [["images", "backend"], config.images.backend],
    [["images", "worker"], config.images.worker],
    [["deployment", "images", "blue"], config.deployment.images.blue],
    [["deployment", "images", "green"], config.deployment.images.green],
  ];
  for (const [path, ref] of images) {
    if (ref !== undefined && isPlaceholderImage(ref)) {
      yield {
        key: configKey([...path]),
        message:
          `is the sample's placeholder: no MediaNest image is published. Build it (README "Building the MediaNest images"), push it to your registry, then pulumi config set --path medianest:${path.join(".")} <repo>:<tag>@sha256:<digest>` +
          (config.hosts.length === 1 && path[0] === "images" ? "; or, on this single-node stack, remove it and let the program build it: pulumi config set --path medianest:images.build.context <checkout>" : ""),
      };
    }
  }
});

/** Config secrets that become the app's secret files, with the rules the app applies to them. */
const APP_SECRET_KEYS = {
  jwtSecret: "jwt_secret",
  encryptionKey: "encryption_key",
  metricsToken: "metrics_token",
  nextAuthSecret: "nextauth_secret",
  plexClientId: "plex_client_id",
  plexClientSecret: "plex_client_secret",
} as const satisfies Partial<Record<(typeof SECRET_CONFIG_KEYS)[number], AppSecretFile>>;

const appSecretValues = rule("app-secret-values", function* (config) {
  for (const [key, file] of Object.entries(APP_SECRET_KEYS) as [keyof typeof APP_SECRET_KEYS, AppSecretFile][]) {
    const value = config[key];
    if (value === undefined) continue;
    const { minLength, noForbiddenWords } = SECRET_VALUE_RULES[file];
    if (value.length < minLength) yield { key: configKey([key]), message: `is ${value.length} characters; MediaNest refuses to start with fewer than ${minLength}: set a longer value, or unset it to have one generated` };
    const word = noForbiddenWords ? forbiddenWordIn(value) : undefined;
    if (word) yield { key: configKey([key]), message: `contains "${word}", which MediaNest refuses in production secrets: choose another value, or unset it to have one generated` };
  }
  // The password, role and database end up in DATABASE_URL, which the backend checks too.
  const pg = config.services.postgres;
  for (const [path, value] of [
    [["postgresPassword"], config.postgresPassword],
    [["services", "postgres", "user"], pg.user],
    [["services", "postgres", "database"], pg.database],
  ] as const) {
    const word = value === undefined ? undefined : forbiddenWordIn(value);
    if (word) yield { key: configKey([...path]), message: `contains "${word}"; it goes into DATABASE_URL, which MediaNest refuses in production when it contains that word: choose another` };
  }
});

/**
 * Every app process holds a Prisma pool: the backend's is fixed at 20 (contract), the
 * frontend's is Prisma's default, 2 × CPUs + 1 of its host. Backends of both colors, the
 * migration step and the frontends must fit max_connections, with room for the exporter,
 * the backup dump and operators (10) and Postgres's superuser reserve (3).
 */
export function connectionBudget(config: ParsedStackConfig): { needed: number; available: number; detail: string } {
  const perBackend = MEDIANEST_CONTRACT.connectionsPerProcess;
  const { backend, frontend } = config.services;
  const backends = config.deployment.strategy === "blue-green" ? backend.replicas + (config.deployment.idleReplicas ?? backend.replicas) : backend.replicas;
  const maxCpus = Math.max(...config.hosts.map((h) => h.cpus));
  const perFrontend = 2 * Math.ceil(maxCpus) + 1;
  const reserve = 10;
  const needed = (backends + 1) * perBackend + frontend.replicas * perFrontend + reserve;
  return {
    needed,
    available: config.services.postgres.maxConnections - 3,
    detail: `${backends} backend tasks + 1 migration × ${perBackend}, ${frontend.replicas} frontend tasks × ${perFrontend}, ${reserve} for exporter, backups and operators`,
  };
}

const connectionBudgetFits = rule("connection-budget", function* (config) {
  const { needed, available, detail } = connectionBudget(config);
  if (needed > available) {
    yield {
      key: configKey(["services", "postgres", "maxConnections"]),
      message: `the app can open ${needed} Postgres connections (${detail}) but max_connections ${config.services.postgres.maxConnections} leaves ${available}: raise it to at least ${needed + 3} or run fewer tasks`,
    };
  }
});

/** The primary is a member that exists; synchronous commit needs a standby to wait for. */
const postgresMembership = rule("postgres-members", function* (config) {
  const pg = config.services.postgres;
  if (!writerMember(pg.replicas, pg.primary)) {
    yield {
      key: configKey(["services", "postgres", "primary"]),
      message: `names ${pg.primary}, but services.postgres.replicas is ${pg.replicas}: name "primary" or one of ${postgresMembers(pg.replicas).filter((m) => m.name !== "primary").map((m) => `"${m.name}"`).join(", ") || "no replica (there is none)"}`,
    };
  }
  if (pg.synchronousCommit === true && pg.replicas === 0) {
    yield { key: configKey(["services", "postgres", "synchronousCommit"]), message: "needs a replica to wait for, but services.postgres.replicas is 0: add replicas or set it to false" };
  }
});

/** A warning threshold that is not past its critical one would page before it warns. */
const monitoringThresholds = rule("monitoring-thresholds", function* (config) {
  const t = config.monitoring.thresholds;
  const key = (name: string) => configKey(["monitoring", "thresholds", name]);
  if (t.diskFreeCriticalPercent >= t.diskFreeWarningPercent) {
    yield { key: key("diskFreeCriticalPercent"), message: `${t.diskFreeCriticalPercent}% must be below diskFreeWarningPercent (${t.diskFreeWarningPercent}%): the warning comes first` };
  }
  if (t.certExpiryCriticalDays >= t.certExpiryWarningDays) {
    yield { key: key("certExpiryCriticalDays"), message: `${t.certExpiryCriticalDays} days must be below certExpiryWarningDays (${t.certExpiryWarningDays}): the warning comes first` };
  }
});

export const CONFIG_RULES: readonly ConfigRule[] = [
  uniqueHosts,
  managerQuorum,
  connection,
  secretsAreSecret,
  objectStorage,
  minioDataPath,
  certificates,
  edgeNodes,
  cloudflare,
  alerting,
  deploymentImages,
  redisTopology,
  placementLabels,
  statefulHosts,
  firewallIpv4,
  overlaySubnets,
  managementCidrs,
  imageDigests,
  appSecretValues,
  connectionBudgetFits,
  appImagesBuilt,
  appExtraEnv,
  appExtraSecrets,
  appImagesSource,
  postgresMembership,
  monitoringThresholds,
];

export function* crossFieldIssues(config: ParsedStackConfig, context: ValidationContext): Generator<ConfigIssue> {
  for (const { check } of CONFIG_RULES) yield* check(config, context);
}
