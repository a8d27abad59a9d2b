// The stack configuration schema (zod): shapes, defaults from the spec, and the
// cross-field rules. Pure (no Pulumi imports) so every rule is unit-tested and the
// error messages can name the exact config key.
import { isIP } from "node:net";
import { z } from "zod";
import { IMAGE_REFERENCE, hasDigest, unpinnedReason } from "../domain/images";
import { OVERLAY_NETWORKS, OVERLAY_NETWORK_KEYS, SWARM_INGRESS_SUBNET } from "../domain/networks";
import { EDGE_LABEL, REDIS_LABEL, edgeHosts, placementRequirements, redisHosts, type PlacementOptions } from "../domain/catalogue";
import { hostsMatching } from "../domain/labels";
import { cidrContains, cidrsOverlap, parseIpv4Cidr, type Ipv4Cidr } from "../domain/cidr";

export const CONFIG_NAMESPACE = "medianest";

const ipAddress = z.string().refine((value) => isIP(value) !== 0, { error: (issue) => `"${String(issue.input)}" is not a valid IP address` });
const hostnameOrIp = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:]+$/, "must be a hostname or an IP address");
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, "must be an absolute path of letters, digits, '.', '_', '-' and '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");
const labelKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "label keys are letters, digits, '.', '_' and '-'");
const labelValue = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "label values are letters, digits, '.', '_' and '-'");

/** A pinned image: a tag other than "latest", or a digest (domain/images unpinnedReason). */
export const pinnedImage = z
  .string()
  .regex(IMAGE_REFERENCE, "is not an image reference")
  .superRefine((ref, ctx) => {
    const reason = unpinnedReason(ref);
    if (reason === "no-tag") ctx.addIssue({ code: "custom", message: "must be pinned: add a tag or @sha256 digest" });
    if (reason === "latest") ctx.addIssue({ code: "custom", message: 'must not use the moving "latest" tag; pin a version or a digest' });
  });

/**
 * Secret config keys. Each is optional (a random value is generated when unset,
 * except where external systems dictate it) and must be set with --secret.
 */
export const SECRET_CONFIG_KEYS = [
  "sshPrivateKey",
  "postgresPassword",
  "replicationPassword",
  "redisPassword",
  "jwtSecret",
  "nextAuthSecret",
  "minioRootPassword",
  "s3AccessKey",
  "s3SecretKey",
  "offsiteAccessKey",
  "offsiteSecretKey",
  "cloudflareApiToken",
  "cloudflareDnsToken",
  "grafanaAdminPassword",
  "traefikDashboardUsers",
  "alertWebhookUrl",
  "alertSmtpPassword",
  "alertSlackWebhookUrl",
] as const;
export type SecretConfigKey = (typeof SECRET_CONFIG_KEYS)[number];

const replicas = (fallback: number, min = 1) => z.number().int().min(min).max(50).default(fallback);

const hostSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a lowercase hostname label (a-z, 0-9, '-')"),
  address: ipAddress,
  role: z.enum(["manager", "worker"]),
  cpus: z.number().positive(),
  memoryGb: z.number().positive(),
  labels: z.record(labelKey, z.union([labelValue, z.array(labelValue).min(1)])).default({}),
  sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, "must be a Unix user name").default("root"),
  sshPort: z.number().int().min(1).max(65535).default(22),
  /** Expected SSH host key ("ssh-ed25519 AAAA..."); unset means the key is not verified. */
  hostKey: z.string().regex(/^(ssh|ecdsa)-[a-z0-9-]+ [A-Za-z0-9+/=]+$/, "must be a public key line such as 'ssh-ed25519 AAAA...'").optional(),
  /** Run scripts through `sudo -n`; defaults to true unless the SSH user is root. */
  sudo: z.boolean().optional(),
  /** Separate address for VXLAN data traffic (`--data-path-addr`). */
  dataPathAddress: ipAddress.optional(),
  /** Public address of an edge node (Cloudflare records point here); e.g. the router's WAN IP in a homelab. */
  publicAddress: ipAddress.optional(),
  availability: z.enum(["active", "pause", "drain"]).default("active"),
});

const subnetsSchema = z.strictObject(
  Object.fromEntries(OVERLAY_NETWORK_KEYS.map((key) => [key, z.string().optional()])) as Record<
    (typeof OVERLAY_NETWORK_KEYS)[number],
    z.ZodOptional<z.ZodString>
  >,
);

export const stackConfigSchema = z.strictObject({
  environment: z.enum(["production", "staging", "homelab", "local", "lab"]),
  connection: z.enum(["ssh", "local"]).default("ssh"),
  hosts: z.array(hostSchema).min(1, "at least one host is required"),
  ...(Object.fromEntries(SECRET_CONFIG_KEYS.map((key) => [key, z.string().min(1, "must not be empty").optional()])) as Record<
    SecretConfigKey,
    z.ZodOptional<z.ZodString>
  >),
  app: z.strictObject({
    /** Public host name of the portal (NEXTAUTH_URL, and later the edge routers and DNS). */
    hostname: z.string().regex(/^(localhost|([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})$/, "must be a DNS name such as medianest.example.com"),
  }),
  /**
   * Every default is pinned by digest (the multi-arch index digest), with its tag kept for
   * people: see imageDigestIssues for why a tag alone is not enough.
   */
  images: z.strictObject({
    frontend: pinnedImage,
    backend: pinnedImage,
    /** Defaults to the backend image (the worker is the backend in worker mode). */
    worker: pinnedImage.optional(),
    postgres: pinnedImage.default("postgres:15.10-bookworm@sha256:06dd85a64e950719a3ee8435ce1bdc32b5f8acf406185d7ff875bcced5817165"),
    redis: pinnedImage.default("redis:7.4.2-bookworm@sha256:7e880ff9649ce77761ed7b5532a7147ca1c29202ce988ed3a91beee66a1be767"),
    /** MinIO CE stopped shipping binaries in late 2025: pin the last image by digest. */
    minio: pinnedImage.default(
      "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e",
    ),
    mc: pinnedImage.default(
      "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z@sha256:a7fe349ef4bd8521fb8497f55c6042871b2ae640607cf99d9bede5e9bdf11727",
    ),
    traefik: pinnedImage.default("traefik:v3.5.3@sha256:d6be8725d21b45bdd84b93ea01438256e0e3c94aa8fa51834fe87f37cd5d4af8"),
    socketProxy: pinnedImage.default("tecnativa/docker-socket-proxy:0.3.0@sha256:9e4b9e7517a6b660f2cc903a19b257b1852d5b3344794e3ea334ff00ae677ac2"),
    prometheus: pinnedImage.default("prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996"),
    alertmanager: pinnedImage.default("prom/alertmanager:v0.28.1@sha256:27c475db5fb156cab31d5c18a4251ac7ed567746a2483ff264516437a39b15ba"),
    grafana: pinnedImage.default("grafana/grafana:12.1.1@sha256:a1701c2180249361737a99a01bc770db39381640e4d631825d38ff4535efa47d"),
    nodeExporter: pinnedImage.default("prom/node-exporter:v1.9.1@sha256:d00a542e409ee618a4edc67da14dd48c5da66726bbd5537ab2af9c1dfc442c8a"),
    cadvisor: pinnedImage.default("gcr.io/cadvisor/cadvisor:v0.52.1@sha256:f40e65878e25c2e78ea037f73a449527a0fb994e303dc3e34cb6b187b4b91435"),
    postgresExporter: pinnedImage.default(
      "quay.io/prometheuscommunity/postgres-exporter:v0.17.1@sha256:38606faa38c54787525fb0ff2fd6b41b4cfb75d455c1df294927c5f611699b17",
    ),
    redisExporter: pinnedImage.default("oliver006/redis_exporter:v1.76.0@sha256:1542bc6a88decfc16db6603045accd502cc3a46c46659d7cfd568e1f6965fe59"),
  }),
  edge: z
    .strictObject({
      /** acme: Let's Encrypt certificates; none: Traefik's default certificate (local use only). */
      tls: z.enum(["acme", "none"]).default("acme"),
      acme: z
        .strictObject({
          email: z.email({ error: "must be an e-mail address (Let's Encrypt account)" }),
          /** http: HTTP-01 on port 80 (one edge node); dns-cloudflare: DNS-01, needed when several edge nodes share certificates. */
          challenge: z.enum(["http", "dns-cloudflare"]).default("http"),
          staging: z.boolean().default(false),
        })
        .optional(),
      rateLimit: z
        .strictObject({ average: z.number().int().min(1).default(100), burst: z.number().int().min(1).default(200) })
        .prefault({}),
      /** Traefik's dashboard at traefik.<app.hostname>, management networks only, users from traefikDashboardUsers (htpasswd lines). */
      dashboard: z.boolean().default(false),
    })
    .prefault({}),
  cloudflare: z
    .strictObject({
      enabled: z.boolean().default(false),
      zone: z.string().regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, "must be a DNS zone such as example.com").optional(),
      staticCacheTtlSeconds: z.number().int().min(60).default(31_536_000),
      imageCacheTtlSeconds: z.number().int().min(60).default(86_400),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      enabled: z.boolean().default(true),
      retentionDays: z.number().int().min(1).max(3650).default(15),
      alerting: z
        .strictObject({
          /** Generic webhook; the URL is the secret alertWebhookUrl. */
          webhook: z.boolean().default(false),
          email: z
            .strictObject({
              to: z.email(),
              from: z.email(),
              smarthost: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/, "must be host:port"),
              username: z.string().optional(),
              requireTls: z.boolean().default(true),
            })
            .optional(),
          /** Slack incoming webhook; the URL is the secret alertSlackWebhookUrl. */
          slack: z.strictObject({ channel: z.string().regex(/^#?[a-z0-9_-]+$/, "must be a channel name") }).optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  deployment: z
    .strictObject({
      /** rolling: one backend service updated task by task; blue-green: two colored backends, Traefik routes to activeColor. */
      strategy: z.enum(["rolling", "blue-green"]).default("rolling"),
      activeColor: z.enum(["blue", "green"]).default("blue"),
      /** Replicas of the idle color (default: as many as the active one, for an instant switch back; 0 to park it). */
      idleReplicas: z.number().int().min(0).max(50).optional(),
      /** Backend image per color (default images.backend). */
      images: z.strictObject({ blue: pinnedImage.optional(), green: pinnedImage.optional() }).prefault({}),
      /** pg_dump on the database node before app images change. */
      preDeployBackup: z.boolean().default(true),
    })
    .prefault({}),
  services: z
    .strictObject({
      /**
       * Multiplies every reservation (never a limit): a developer machine running the
       * whole topology (the local stack) cannot reserve what a production node can.
       */
      reservationScale: z.number().min(0.05).max(1).default(1),
      /** vip needs IPVS in the kernel; dnsrr works everywhere (clients then see every task's address). */
      endpointMode: z.enum(["vip", "dnsrr"]).default("vip"),
      frontend: z.strictObject({ replicas: replicas(3) }).prefault({}),
      backend: z.strictObject({ replicas: replicas(3) }).prefault({}),
      worker: z
        .strictObject({
          replicas: replicas(2),
          /** Queues every worker task consumes (spec: media processing and thumbnail generation). */
          queues: z.array(z.string().regex(/^[a-z0-9-]+$/, "queue names are a-z, 0-9 and '-'")).min(1).default(["media-processing", "thumbnails"]),
        })
        .prefault({}),
      postgres: z
        .strictObject({
          /** Streaming replicas; replica N runs on the host labelled postgres=replica-N. */
          replicas: replicas(2, 0).refine((n) => n <= 5, "at most 5 replicas"),
          database: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lowercase SQL identifier").default("medianest"),
          user: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lowercase SQL identifier").default("medianest"),
        })
        .prefault({}),
      redis: z
        .strictObject({
          /** Replicas besides the master (spec: 3 Redis nodes in all). */
          replicas: replicas(2, 0),
          /** 0 (single Redis, clients connect directly) or an odd number of at least 3. */
          sentinels: z.number().int().min(0).max(7).default(3),
          quorum: z.number().int().min(1).default(2),
          maxmemoryMb: z.number().int().min(16).default(400),
          /** Only keys with a TTL (cache) are evicted; queue keys never are. */
          maxmemoryPolicy: z
            .enum(["noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl", "allkeys-lru", "allkeys-lfu"])
            .default("volatile-lru"),
        })
        .prefault({}),
    })
    .prefault({}),
  s3: z
    .strictObject({
      /** internal: a MinIO service on storage-net; external: an existing S3/MinIO endpoint (keys from s3AccessKey/s3SecretKey). */
      mode: z.enum(["internal", "external"]).default("internal"),
      endpoint: z.url({ error: "must be a URL such as https://s3.example.com" }).optional(),
      region: z.string().default("us-east-1"),
      buckets: z
        .strictObject({
          media: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not a valid bucket name").default("media"),
          thumbnails: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not a valid bucket name").default("thumbnails"),
          backups: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not a valid bucket name").default("backups"),
        })
        .prefault({}),
    })
    .prefault({}),
  backup: z
    .strictObject({
      intervalHours: z.number().int().min(1).max(168).default(24),
      retentionDays: z.number().int().min(1).max(3650).default(14),
      /** Copy of every dump on an off-site S3-compatible target (keys from offsiteAccessKey/offsiteSecretKey). */
      offsite: z
        .strictObject({
          endpoint: z.url({ error: "must be a URL such as https://s3.backup.example.net" }),
          bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not a valid bucket name"),
        })
        .optional(),
    })
    .prefault({}),
  capacity: z
    .strictObject({
      /** Users the installation is sized for: the compliance run compares the cluster with the spec's capacity matrix. */
      expectedUsers: z.number().int().min(1).default(50),
    })
    .prefault({}),
  swarm: z
    .strictObject({
      /** Name of the manager that runs `swarm init`; defaults to the first manager. */
      leader: z.string().optional(),
      /** Defaults to on in production. */
      autolock: z.boolean().optional(),
      drainTimeoutSeconds: z.number().int().min(10).max(3600).default(300),
    })
    .prefault({}),
  network: z
    .strictObject({
      /** IPsec encryption of overlay traffic; defaults to on in production. */
      encrypted: z.boolean().optional(),
      subnets: subnetsSchema.prefault({}),
      /** Networks standalone containers may attach to (none by default). */
      attachable: z.array(z.enum(OVERLAY_NETWORK_KEYS)).default([]),
      /** Operator networks allowed past the firewall (e.g. the mgmt subnet). */
      managementCidrs: z.array(z.string()).default([]),
    })
    .prefault({}),
  storage: z
    .strictObject({
      mediaPath: absolutePath.default("/mnt/media"),
      backupPath: absolutePath.default("/mnt/backup"),
      appDataPath: absolutePath.default("/opt/medianest"),
      /** Media share on a NAS (spec Option 2), mounted at mediaPath on every host. */
      nfs: z
        .strictObject({
          server: hostnameOrIp,
          export: absolutePath,
          options: z
            .string()
            .regex(/^[A-Za-z0-9_=.,-]+$/, "must be a comma-separated mount option list")
            .default("rw,hard,noatime,nfsvers=4.1,_netdev"),
        })
        .optional(),
    })
    .prefault({}),
  hostSetup: z
    .strictObject({
      installDocker: z.boolean().default(true),
      daemonConfig: z.boolean().default(true),
      firewall: z.boolean().default(true),
      logMaxSize: z.string().regex(/^\d+[kmg]$/, "must look like 10m").default("10m"),
      logMaxFiles: z.number().int().min(1).max(100).default(3),
      /** Ports reachable from anywhere; everything else published is cluster/mgmt only. */
      publicPorts: z.array(z.number().int().min(1).max(65535)).default([80, 443]),
      /**
       * sshd's MaxSessions on managers (sshd_config.d drop-in), or false to leave sshd alone:
       * the docker provider multiplexes every API call over one SSH connection to the leader.
       */
      sshdMaxSessions: z.union([z.literal(false), z.number().int().min(10).max(1000)]).default(64),
    })
    .prefault({}),
});

export type RawStackConfig = z.input<typeof stackConfigSchema>;
type ParsedStackConfig = z.output<typeof stackConfigSchema>;
export type HostConfig = ParsedStackConfig["hosts"][number];

/** A validated stack configuration with every default resolved. The SSH key is not here: it stays a Pulumi secret. */
export interface StackConfig extends Omit<ParsedStackConfig, SecretConfigKey | "swarm" | "network" | "hosts" | "images"> {
  readonly images: ParsedStackConfig["images"] & { worker: string };
  readonly hosts: readonly (HostConfig & { sudo: boolean })[];
  readonly swarm: ParsedStackConfig["swarm"] & { leader: string; autolock: boolean };
  readonly network: Omit<ParsedStackConfig["network"], "subnets"> & {
    encrypted: boolean;
    subnets: Record<(typeof OVERLAY_NETWORK_KEYS)[number], string>;
  };
}

export interface ConfigIssue {
  /** Fully qualified key, e.g. "medianest:hosts[1].address". */
  readonly key: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`Invalid stack configuration:\n${issues.map((i) => `  - ${i.key}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function configKey(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path;
  const tail = rest.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
  return `${CONFIG_NAMESPACE}:${head === undefined ? "" : String(head)}${tail}`;
}

export interface ValidationContext {
  /** Bare names of the keys that were given as secrets (`pulumi config set --secret`). */
  readonly secretKeys: ReadonlySet<string>;
  /** Whether the program runs as root; decides the sudo default of the local connection. */
  readonly runningAsRoot: boolean;
}

/** Validates raw config; throws ConfigError listing every problem, each naming its key. */
export function validateStackConfig(raw: unknown, context: ValidationContext): StackConfig {
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        if (issue.code === "unrecognized_keys") {
          const keys = issue.keys.map((k) => configKey([...issue.path, k]));
          return { key: keys.join(", "), message: "unknown key (check the spelling against README's config reference)" };
        }
        return { key: configKey(issue.path), message: issue.message };
      }),
    );
  }
  const config = parsed.data;
  const issues = [...crossFieldIssues(config, context)];
  if (issues.length > 0) throw new ConfigError(issues);
  return resolveDefaults(config, context);
}

function* crossFieldIssues(config: ParsedStackConfig, context: ValidationContext): Generator<ConfigIssue> {
  yield* duplicateIssues(config.hosts, "name");
  yield* duplicateIssues(config.hosts, "address");

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

  if (config.connection === "local" && config.hosts.length !== 1) {
    yield { key: configKey(["hosts"]), message: `the local connection runs on this machine only: exactly one host is allowed, got ${config.hosts.length}` };
  }
  if (config.connection === "ssh") {
    if (config.sshPrivateKey === undefined) {
      yield { key: configKey(["sshPrivateKey"]), message: "required for connection ssh: pulumi config set --secret medianest:sshPrivateKey < ~/.ssh/id_ed25519" };
    } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(config.sshPrivateKey)) {
      yield { key: configKey(["sshPrivateKey"]), message: "is not a PEM/OpenSSH private key (expected a '-----BEGIN ... PRIVATE KEY-----' block)" };
    }
  }

  for (const key of SECRET_CONFIG_KEYS) {
    if (config[key] !== undefined && !context.secretKeys.has(key)) {
      yield { key: configKey([key]), message: `must be a secret: set it again with \`pulumi config set --secret medianest:${key}\`` };
    }
  }
  if (config.s3.mode === "external") {
    if (config.s3.endpoint === undefined) yield { key: configKey(["s3", "endpoint"]), message: "is required when s3.mode is external" };
    for (const key of ["s3AccessKey", "s3SecretKey"] as const) {
      if (config[key] === undefined) yield { key: configKey([key]), message: "is required when s3.mode is external (set it with --secret)" };
    }
  } else if (config.s3.endpoint !== undefined) {
    yield { key: configKey(["s3", "endpoint"]), message: "only applies when s3.mode is external; the internal MinIO has its own endpoint" };
  }
  if (config.backup.offsite) {
    for (const key of ["offsiteAccessKey", "offsiteSecretKey"] as const) {
      if (config[key] === undefined) yield { key: configKey([key]), message: "is required when backup.offsite is set (set it with --secret)" };
    }
  }
  if (config.edge.tls === "acme" && config.edge.acme === undefined) {
    yield { key: configKey(["edge", "acme"]), message: "is required when edge.tls is acme: set edge.acme.email (and the challenge)" };
  }
  if (config.edge.tls === "acme" && config.app.hostname === "localhost") {
    yield { key: configKey(["edge", "tls"]), message: "Let's Encrypt cannot issue for localhost: set edge.tls to none or app.hostname to a public name" };
  }
  if (config.edge.acme?.challenge === "dns-cloudflare" && config.cloudflareDnsToken === undefined) {
    yield { key: configKey(["cloudflareDnsToken"]), message: "is required for the dns-cloudflare challenge: a token scoped to Zone:DNS:Edit (set it with --secret)" };
  }
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
  if (config.cloudflare.enabled) {
    if (config.edge.tls === "none") {
      // Cloudflare's SSL mode is Full (strict): it refuses the edge's default certificate with a 526 on every request.
      yield { key: configKey(["edge", "tls"]), message: 'is "none", but Cloudflare (cloudflare.enabled) connects to the edge with SSL Full (strict) and needs a valid certificate there: use edge.tls "acme", or set cloudflare.enabled to false' };
    }
    if (config.cloudflare.zone === undefined) yield { key: configKey(["cloudflare", "zone"]), message: "is required when cloudflare.enabled is true" };
    else if (config.app.hostname !== config.cloudflare.zone && !config.app.hostname.endsWith(`.${config.cloudflare.zone}`)) {
      yield { key: configKey(["app", "hostname"]), message: `"${config.app.hostname}" is not inside the Cloudflare zone ${config.cloudflare.zone}` };
    }
    if (config.cloudflareApiToken === undefined) yield { key: configKey(["cloudflareApiToken"]), message: "is required when cloudflare.enabled is true (set it with --secret)" };
    for (const [index, host] of config.hosts.entries()) {
      if (edges.has(host) && host.publicAddress === undefined) {
        yield { key: configKey(["hosts", index, "publicAddress"]), message: "is required on edge hosts when cloudflare.enabled is true (the DNS records point there)" };
      }
    }
  }
  const alerting = config.monitoring.alerting;
  if (alerting.webhook && config.alertWebhookUrl === undefined) {
    yield { key: configKey(["alertWebhookUrl"]), message: "is required when monitoring.alerting.webhook is true (set it with --secret)" };
  }
  if (alerting.slack && config.alertSlackWebhookUrl === undefined) {
    yield { key: configKey(["alertSlackWebhookUrl"]), message: "is required when monitoring.alerting.slack is set (set it with --secret)" };
  }
  if (alerting.email?.username !== undefined && config.alertSmtpPassword === undefined) {
    yield { key: configKey(["alertSmtpPassword"]), message: "is required when monitoring.alerting.email.username is set (set it with --secret)" };
  }
  if (config.deployment.strategy === "rolling" && (config.deployment.images.blue || config.deployment.images.green)) {
    yield { key: configKey(["deployment", "images"]), message: "only applies to the blue-green strategy; with rolling updates set images.backend" };
  }

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

  for (const requirement of placementRequirements(placementOptions(config))) {
    const satisfied = hostsMatching(config.hosts, requirement.labels).length > 0;
    if (!satisfied) {
      const wanted = Object.entries(requirement.labels).map(([k, v]) => `${k}=${v}`).join(", ");
      yield { key: configKey(["hosts"]), message: `no host carries the labels ${wanted} that ${requirement.service} needs; add them to a host's labels` };
    }
  }

  if (config.hostSetup.firewall) {
    for (const [index, host] of config.hosts.entries()) {
      if (isIP(host.address) === 6) {
        yield { key: configKey(["hosts", index, "address"]), message: "is IPv6, but the host firewall manages IPv4 only: use an IPv4 address or set medianest:hostSetup.firewall to false" };
      }
    }
  }

  yield* subnetIssues(config);

  for (const [index, cidr] of config.network.managementCidrs.entries()) {
    try {
      parseIpv4Cidr(cidr);
    } catch (error) {
      yield { key: configKey(["network", "managementCidrs", index]), message: (error as Error).message };
    }
  }
  yield* imageDigestIssues(config);
}

/**
 * Images must carry their digest. The docker provider pins a bare tag to the registry's
 * current digest when it creates a service (docker/client ServiceCreate with
 * QueryRegistry) but not when it updates one, so what Swarm stores differs from what was
 * declared: the next `pulumi up` "updates" the image back to the bare tag and restarts
 * every task. The lab's images are built on its hosts and exist in no registry, so nothing
 * resolves them: its stack may use tags.
 */
function* imageDigestIssues(config: ParsedStackConfig): Generator<ConfigIssue> {
  if (config.environment === "lab") return;
  const images: [(string | number)[], string | undefined][] = [
    ...Object.entries(config.images).map(([key, ref]): [(string | number)[], string | undefined] => [["images", key], ref]),
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
}

export function placementOptions(config: Pick<ParsedStackConfig, "services" | "s3" | "monitoring">): PlacementOptions {
  return { postgresReplicas: config.services.postgres.replicas, internalS3: config.s3.mode === "internal", monitoring: config.monitoring.enabled };
}

function* duplicateIssues(hosts: readonly HostConfig[], field: "name" | "address"): Generator<ConfigIssue> {
  const firstIndex = new Map<string, number>();
  for (const [index, host] of hosts.entries()) {
    const seen = firstIndex.get(host[field]);
    if (seen === undefined) firstIndex.set(host[field], index);
    else yield { key: configKey(["hosts", index, field]), message: `duplicate host ${field} "${host[field]}" (also hosts[${seen}])` };
  }
}

function* subnetIssues(config: ParsedStackConfig): Generator<ConfigIssue> {
  const parsed: { key: string; name: string; cidr: Ipv4Cidr }[] = [];
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
    parsed.push({ key, name: network.name, cidr });
  }
}

function resolveDefaults(config: ParsedStackConfig, context: ValidationContext): StackConfig {
  const production = config.environment === "production";
  const firstManager = config.hosts.find((h) => h.role === "manager");
  if (!firstManager) throw new Error("unreachable: validated config has a manager");
  const rest = Object.fromEntries(Object.entries(config).filter(([key]) => !(SECRET_CONFIG_KEYS as readonly string[]).includes(key))) as Omit<
    ParsedStackConfig,
    SecretConfigKey
  >;
  return {
    ...rest,
    images: { ...config.images, worker: config.images.worker ?? config.images.backend },
    hosts: config.hosts.map((host) => ({
      ...host,
      sudo: host.sudo ?? (config.connection === "local" ? !context.runningAsRoot : host.sshUser !== "root"),
    })),
    swarm: { ...config.swarm, leader: config.swarm.leader ?? firstManager.name, autolock: config.swarm.autolock ?? production },
    network: {
      ...config.network,
      encrypted: config.network.encrypted ?? production,
      subnets: Object.fromEntries(
        OVERLAY_NETWORKS.map((n) => [n.key, parseIpv4Cidr(config.network.subnets[n.key] ?? n.defaultSubnet).text]),
      ) as StackConfig["network"]["subnets"],
    },
  };
}
