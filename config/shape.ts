// The shape of a stack's `medianest:*` config (zod): every key, its type, its default from
// the spec, and its description. The descriptions are the README's configuration reference
// (config/reference.ts renders them; a test keeps the README equal to it).
import { z } from "zod";
import { OVERLAY_NETWORK_KEYS } from "../domain/networks";
import { absolutePath, bucketName, hostnameOrIp, ipAddress, labelKey, labelValue, pinnedImage, replicas } from "./fields";

export const CONFIG_NAMESPACE = "medianest";

/**
 * Secret config keys. Each is optional (a random value is generated when unset,
 * except where external systems dictate it) and must be set with --secret.
 */
export const SECRET_CONFIG_KEYS = [
  "sshPrivateKey",
  "postgresPassword",
  "replicationPassword",
  "redisPassword",
  "sentinelPassword",
  "jwtSecret",
  "encryptionKey",
  "metricsToken",
  "plexClientId",
  "plexClientSecret",
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
/** The one secret key holding a map (file name → value) rather than one value: app.extraSecrets' values. */
export const APP_SECRETS_KEY = "appSecrets";
/** Every key that must be given as a secret (pulumi config set --secret). */
export const SECRET_KEYS: readonly string[] = [...SECRET_CONFIG_KEYS, APP_SECRETS_KEY];

const SECRET_DESCRIPTIONS: Readonly<Record<SecretConfigKey, string>> = {
  sshPrivateKey: "Private key the program logs in with (PEM/OpenSSH); required for the ssh connection",
  postgresPassword: "Password of the application's Postgres role; generated when unset",
  replicationPassword: "Password of the streaming-replication role; generated when unset",
  redisPassword: "Redis password (requirepass and masterauth); generated when unset",
  sentinelPassword: "Password of the Redis Sentinels (their requirepass and sentinel-pass; every SENTINEL command needs it, the app never gets it); generated when unset",
  jwtSecret: "The backend's JWT signing secret (JWT_SECRET, at least 32 characters, none of the app's forbidden words); generated when unset",
  encryptionKey: "Key the backend encrypts stored Plex tokens with (ENCRYPTION_KEY, at least 32 characters); generated once when unset and never rotated by the program: a new key makes the stored tokens unreadable",
  metricsToken: "Bearer token the backend requires on /metrics (METRICS_TOKEN, at least 20 characters); Prometheus sends it; generated when unset",
  plexClientId: "The app's Plex client identifier (PLEX_CLIENT_ID, sent as X-Plex-Client-Identifier); generated when unset",
  plexClientSecret: "PLEX_CLIENT_SECRET, which the backend requires in production; generated when unset",
  nextAuthSecret: "The frontend's NextAuth secret; generated when unset",
  minioRootPassword: "The internal MinIO's root password; generated when unset",
  s3AccessKey: "Access key for external S3 (s3.mode external)",
  s3SecretKey: "Secret key for external S3 (s3.mode external)",
  offsiteAccessKey: "Access key of the off-site backup target (backup.offsite)",
  offsiteSecretKey: "Secret key of the off-site backup target (backup.offsite)",
  cloudflareApiToken: "API token for the Cloudflare records, cache rules and zone settings (cloudflare.enabled)",
  cloudflareDnsToken: "Token scoped to Zone:DNS:Edit for Traefik's DNS-01 challenge (edge.acme.challenge dns-cloudflare)",
  grafanaAdminPassword: "Grafana's admin password; generated when unset",
  traefikDashboardUsers: "htpasswd lines (user:bcrypt-hash) of the Traefik dashboard's users (edge.dashboard)",
  alertWebhookUrl: "URL of the alert webhook (monitoring.alerting.webhook)",
  alertSmtpPassword: "SMTP password for e-mail alerts (monitoring.alerting.email.username)",
  alertSlackWebhookUrl: "Slack incoming-webhook URL (monitoring.alerting.slack)",
};

/** Plain app settings by variable name. */
const envSettings = z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "variable names are A-Z, 0-9 and _"), z.string()).default({});
/** A secret file name under /run/secrets, as an image reads it (the upstream images use snake_case). */
const secretFileName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "secret file names are a-z, 0-9 and _ (up to 64), starting with a letter");
const extraSecrets = z
  .array(
    z.strictObject({
      file: secretFileName.describe("A secret file the tier gets besides its contract's (a fork's SMTP password, an API key): its name under /run/secrets; the value is medianest:appSecrets.<file>"),
      env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, "variable names are A-Z, 0-9 and _")
        .optional()
        .describe("Variable the process gets the value in (exported from the file just before the image's entrypoint); unset: the file only"),
    }),
  )
  .default([]);

const hostSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a lowercase hostname label (a-z, 0-9, '-')")
    .describe("Host name; names its resources, so renaming a host is a new host"),
  address: ipAddress.describe("Address the program connects to and the swarm advertises and listens on"),
  role: z.enum(["manager", "worker"]).describe("Swarm role; an odd number of managers (1, 3 or 5)"),
  cpus: z.number().positive().describe("CPUs of the host, for the scheduling check against the services' reservations"),
  memoryGb: z.number().positive().describe("Memory of the host in GB, for the scheduling check"),
  labels: z
    .record(labelKey, z.union([labelValue, z.array(labelValue).min(1)]))
    .default({})
    .describe("Node labels, applied exactly (see Node labels below); a list value becomes one boolean label per item"),
  sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, "must be a Unix user name").default("root").describe("SSH user"),
  sshPort: z.number().int().min(1).max(65535).default(22).describe("SSH port"),
  hostKey: z
    .string()
    .regex(/^(ssh|ecdsa)-[a-z0-9-]+ [A-Za-z0-9+/=]+$/, "must be a public key line such as 'ssh-ed25519 AAAA...'")
    .optional()
    .describe(
      "The host's SSH host key ('ssh-ed25519 AAAA...'), checked strictly by pulumi-command and the docker provider; required for connection ssh",
    ),
  sudo: z.boolean().optional().describe("Run the scripts through `sudo -n`; by default when the SSH user is not root"),
  dataPathAddress: ipAddress.optional().describe("Separate address for VXLAN data traffic (`--data-path-addr`)"),
  publicAddress: ipAddress.optional().describe("Public address of an edge host (the Cloudflare records point there), e.g. a homelab router's WAN address"),
  availability: z
    .enum(["active", "pause", "drain"])
    .default("active")
    .describe("Swarm availability of the node; pause or drain is refused on a host that may hold single-instance data (see hosts[].releaseStateful)"),
  releaseStateful: z
    .boolean()
    .default(false)
    .describe(
      "Let this host be drained, paused or removed although its labels place a single-instance stateful service on it (Postgres primary or a replica, MinIO, the Redis master, Prometheus/Alertmanager/Grafana), whose data stays on this host's disk when the task moves. Set it and apply before removing the host (README: Removing a host)",
    ),
});

const subnetsSchema = z.strictObject(
  Object.fromEntries(
    OVERLAY_NETWORK_KEYS.map((key) => [
      key,
      z.string().optional().describe(`Subnet of ${key}-net (default 10.0.${OVERLAY_NETWORK_KEYS.indexOf(key) + 1}.0/24); /16-/28, overlapping neither the other overlays, Swarm's ingress 10.0.0.0/24 nor the hosts`),
    ]),
  ) as Record<(typeof OVERLAY_NETWORK_KEYS)[number], z.ZodOptional<z.ZodString>>,
);

const image = (what: string) => pinnedImage.describe(what);

export const stackConfigSchema = z.strictObject({
  environment: z
    .enum(["production", "staging", "homelab", "local", "lab"])
    .describe("What the stack is; production turns swarm autolock and overlay encryption on by default"),
  connection: z.enum(["ssh", "local"]).default("ssh").describe("ssh, or local: exactly one host, this machine, through its Docker socket"),
  hosts: z.array(hostSchema).min(1, "at least one host is required"),
  ...(Object.fromEntries(SECRET_CONFIG_KEYS.map((key) => [key, z.string().min(1, "must not be empty").optional().describe(SECRET_DESCRIPTIONS[key])])) as Record<
    SecretConfigKey,
    z.ZodOptional<z.ZodString>
  >),
  app: z.strictObject({
    hostname: z
      .string()
      .regex(/^(localhost|([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})$/, "must be a DNS name such as medianest.example.com")
      .describe("Public host name of the portal (NEXTAUTH_URL, the edge routers, DNS)"),
    extraEnv: z
      .strictObject({
        backend: envSettings.describe("Settings the backend gets besides its contract's (e.g. LOG_LEVEL for a fork or a newer upstream); never secrets"),
        frontend: envSettings.describe("Settings the frontend gets besides its contract's; never secrets"),
      })
      .prefault({}),
    extraSecrets: z
      .strictObject({
        backend: extraSecrets,
        frontend: extraSecrets,
      })
      .prefault({}),
  }),
  appSecrets: z
    .record(secretFileName, z.string().min(1, "must not be empty"))
    .optional()
    .describe("Values of app.extraSecrets by file name; set each with pulumi config set --secret --path 'medianest:appSecrets.<file>'"),
  // Every default is pinned by digest (the multi-arch index digest), with its tag kept for
  // people: config/rules.ts imageDigestIssues says why a tag alone is not enough.
  images: z.strictObject({
    frontend: image(
      "MediaNest frontend image, pinned as repo:tag@sha256:… (`docker buildx imagetools inspect` prints the digest); a bare tag is refused except on the lab stack; unset with images.build",
    ).optional(),
    backend: image("MediaNest backend image, pinned by digest like images.frontend; unset with images.build").optional(),
    build: z
      .strictObject({
        context: absolutePath.describe(
          "Single-node stacks: build the app images on the node itself, no registry (images.backend and images.frontend stay unset), from this checkout of MediaNest or your fork on the machine running pulumi",
        ),
        backend: z
          .strictObject({
            dockerfile: z.string().min(1).default("backend/Dockerfile.prod").describe("The backend's Dockerfile, relative to images.build.context"),
            target: z.string().min(1).optional().describe("Its build stage (docker build --target)"),
            args: z.record(z.string(), z.string()).default({}).describe("Build arguments (docker build --build-arg); only ARGs the Dockerfile declares take effect"),
          })
          .prefault({}),
        frontend: z
          .strictObject({
            dockerfile: z.string().min(1).default("frontend/Dockerfile.prod").describe("The frontend's Dockerfile, relative to images.build.context"),
            target: z.string().min(1).optional().describe("Its build stage (docker build --target)"),
            args: z
              .record(z.string(), z.string())
              .default({})
              .describe("Build arguments; only ARGs the Dockerfile declares take effect (a NEXT_PUBLIC_* value must be an ARG there: Next.js bakes them in at build time)"),
          })
          .prefault({}),
      })
      .optional(),
    worker: pinnedImage.optional().describe("Worker image (with services.worker.command); by default the backend image"),
    postgres: image("PostgreSQL 15 (the official image)").default(
      "postgres:15.10-bookworm@sha256:06dd85a64e950719a3ee8435ce1bdc32b5f8acf406185d7ff875bcced5817165",
    ),
    redis: image("Redis 7 (the official image)").default("redis:7.4.2-bookworm@sha256:7e880ff9649ce77761ed7b5532a7147ca1c29202ce988ed3a91beee66a1be767"),
    // Index digest of haproxy:3.0.28 (LTS) as docker-library/repo-info records it
    // (repos/haproxy/remote/3.0.28.md at 0ed0a0ed): Debian trixie, user haproxy (uid 99).
    redisProxy: image("HAProxy (the official image): the app's Redis address, forwarding to the current master when Sentinel runs").default(
      "haproxy:3.0.28@sha256:22616fc57f687ef88d57d5c1e540128ff6f26e9dfdac5d4214347dcfa8ff7db5",
    ),
    minio: image("MinIO; its community edition stopped shipping binaries in late 2025, so the last image").default(
      "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e",
    ),
    mc: image("MinIO client, for the backup uploads").default(
      "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z@sha256:a7fe349ef4bd8521fb8497f55c6042871b2ae640607cf99d9bede5e9bdf11727",
    ),
    traefik: image("Traefik v3").default("traefik:v3.5.3@sha256:d6be8725d21b45bdd84b93ea01438256e0e3c94aa8fa51834fe87f37cd5d4af8"),
    socketProxy: image("Read-only Docker socket proxy in front of Traefik").default(
      "tecnativa/docker-socket-proxy:0.3.0@sha256:9e4b9e7517a6b660f2cc903a19b257b1852d5b3344794e3ea334ff00ae677ac2",
    ),
    prometheus: image("Prometheus").default("prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996"),
    alertmanager: image("Alertmanager").default("prom/alertmanager:v0.28.1@sha256:27c475db5fb156cab31d5c18a4251ac7ed567746a2483ff264516437a39b15ba"),
    grafana: image("Grafana").default("grafana/grafana:12.1.1@sha256:a1701c2180249361737a99a01bc770db39381640e4d631825d38ff4535efa47d"),
    nodeExporter: image("Prometheus node exporter (every node)").default(
      "prom/node-exporter:v1.9.1@sha256:d00a542e409ee618a4edc67da14dd48c5da66726bbd5537ab2af9c1dfc442c8a",
    ),
    cadvisor: image("cAdvisor (every node)").default("gcr.io/cadvisor/cadvisor:v0.52.1@sha256:f40e65878e25c2e78ea037f73a449527a0fb994e303dc3e34cb6b187b4b91435"),
    postgresExporter: image("Postgres exporter").default(
      "quay.io/prometheuscommunity/postgres-exporter:v0.17.1@sha256:38606faa38c54787525fb0ff2fd6b41b4cfb75d455c1df294927c5f611699b17",
    ),
    redisExporter: image("Redis exporter").default("oliver006/redis_exporter:v1.76.0@sha256:1542bc6a88decfc16db6603045accd502cc3a46c46659d7cfd568e1f6965fe59"),
  }),
  edge: z
    .strictObject({
      tls: z.enum(["acme", "none"]).default("acme").describe("acme: Let's Encrypt certificates; none: Traefik's default certificate (local use only)"),
      acme: z
        .strictObject({
          email: z.email({ error: "must be an e-mail address (Let's Encrypt account)" }).describe("Let's Encrypt account e-mail; required with edge.tls acme"),
          challenge: z
            .enum(["http", "dns-cloudflare"])
            .default("http")
            .describe("http: HTTP-01 on port 80 (one edge node); dns-cloudflare: DNS-01 (cloudflareDnsToken), needed when several edge nodes share certificates"),
          staging: z.boolean().default(false).describe("Use Let's Encrypt's staging CA"),
        })
        .optional(),
      rateLimit: z
        .strictObject({
          average: z.number().int().min(1).default(100).describe("Requests per second per client on the public routers"),
          burst: z.number().int().min(1).default(200).describe("Burst above the average"),
        })
        .prefault({}),
      dashboard: z
        .boolean()
        .default(false)
        .describe("Traefik's dashboard at traefik.<app.hostname>, management networks only, users from traefikDashboardUsers"),
    })
    .prefault({}),
  cloudflare: z
    .strictObject({
      enabled: z.boolean().default(false).describe("Proxied DNS records for app.hostname at the edge hosts' public addresses, cache rules and TLS settings (cloudflareApiToken)"),
      zone: z
        .string()
        .regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, "must be a DNS zone such as example.com")
        .optional()
        .describe("The Cloudflare zone app.hostname is in; required when enabled"),
      staticCacheTtlSeconds: z.number().int().min(60).default(31_536_000).describe("Edge TTL of /_next/static/*"),
      imageCacheTtlSeconds: z.number().int().min(60).default(86_400).describe("Edge TTL of images and thumbnails"),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      enabled: z.boolean().default(true).describe("Prometheus, Alertmanager and Grafana on the host labelled monitoring: main, and the exporters"),
      retentionDays: z.number().int().min(1).max(3650).default(15).describe("Prometheus retention"),
      // The availability and data alerts' thresholds (topology/availability-alert-rules.ts and
      // the data rules read them here, nowhere else).
      thresholds: z
        .strictObject({
          targetDownMinutes: z
            .number()
            .int()
            .min(1)
            .max(60)
            .default(2)
            .describe("Minutes a scrape target may fail to answer, or a service may answer with fewer tasks than planned, before TargetDown / ServiceTasksMissing / NodeDown fire"),
          diskFreeWarningPercent: z.number().min(1).max(99).default(15).describe("Free space on a filesystem holding Postgres, MinIO or backup data below which DataDiskSpaceLow warns"),
          diskFreeCriticalPercent: z.number().min(0.1).max(98).default(5).describe("Free space below which DataDiskSpaceCritical pages; below diskFreeWarningPercent"),
          replicationLagMb: z.number().int().min(1).default(128).describe("WAL a streaming replica may be behind the primary (replay position) before PostgresReplicationLag fires"),
          certExpiryWarningDays: z
            .number()
            .int()
            .min(2)
            .max(89)
            .default(21)
            .describe("Days left on an edge certificate below which EdgeCertificateExpiring warns (Traefik renews Let's Encrypt's 90-day certificates 30 days ahead)"),
          certExpiryCriticalDays: z.number().int().min(1).max(88).default(7).describe("Days left below which EdgeCertificateExpiryCritical pages; below certExpiryWarningDays"),
        })
        .prefault({}),
      alerting: z
        .strictObject({
          webhook: z.boolean().default(false).describe("Send alerts to a webhook; the URL is the secret alertWebhookUrl"),
          email: z
            .strictObject({
              to: z.email().describe("Recipient of alert e-mails"),
              from: z.email().describe("Sender of alert e-mails"),
              smarthost: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/, "must be host:port").describe("SMTP server as host:port"),
              username: z.string().optional().describe("SMTP user; its password is the secret alertSmtpPassword"),
              requireTls: z.boolean().default(true).describe("Require STARTTLS"),
            })
            .optional(),
          slack: z
            .strictObject({ channel: z.string().regex(/^#?[a-z0-9_-]+$/, "must be a channel name").describe("Slack channel; the webhook URL is the secret alertSlackWebhookUrl") })
            .optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  deployment: z
    .strictObject({
      strategy: z
        .enum(["rolling", "blue-green"])
        .default("rolling")
        .describe("rolling: one backend service updated task by task; blue-green: two colored backends, Traefik routes to activeColor"),
      activeColor: z.enum(["blue", "green"]).default("blue").describe("Blue-green: the color Traefik routes to"),
      idleReplicas: z
        .number()
        .int()
        .min(0)
        .max(50)
        .optional()
        .describe("Blue-green: replicas of the idle color; by default as many as the active one (an instant switch back), 0 parks it"),
      images: z
        .strictObject({
          blue: pinnedImage.optional().describe("Blue-green: the blue backend's image; by default images.backend"),
          green: pinnedImage.optional().describe("Blue-green: the green backend's image; by default images.backend"),
        })
        .prefault({}),
      preDeployBackup: z.boolean().default(true).describe("pg_dump on the database node before app images change"),
      migrationTimeoutSeconds: z
        .number()
        .int()
        .min(30)
        .max(7200)
        .default(600)
        .describe("How long the schema migration step (prisma migrate deploy from the new backend image) may take before the rollout stops"),
    })
    .prefault({}),
  services: z
    .strictObject({
      reservationScale: z
        .number()
        .min(0.05)
        .max(1)
        .default(1)
        .describe("Multiplies every reservation (never a limit): a developer machine running the whole topology cannot reserve what a production node can"),
      endpointMode: z
        .enum(["vip", "dnsrr"])
        .default("vip")
        .describe("vip needs IPVS in the kernel; dnsrr works everywhere (data clients always use tasks.<service>)"),
      frontend: z.strictObject({ replicas: replicas(3).describe("Frontend tasks") }).prefault({}),
      backend: z.strictObject({ replicas: replicas(3).describe("Backend tasks (per color with blue-green)") }).prefault({}),
      worker: z
        .strictObject({
          replicas: replicas(2).describe("Media worker tasks, once a command is known (services.worker.command)"),
          command: z
            .array(z.string().min(1))
            .min(1)
            .optional()
            .describe("The worker's command in the worker image; upstream MediaNest has none, so no worker runs until this is set"),
        })
        .prefault({}),
      postgres: z
        .strictObject({
          replicas: replicas(2, 0)
            .refine((n) => n <= 5, "at most 5 replicas")
            .describe("Streaming replicas; replica N runs on the host labelled postgres: replica-N"),
          database: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lowercase SQL identifier").default("medianest").describe("Application database"),
          user: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lowercase SQL identifier").default("medianest").describe("Application role"),
          maxConnections: z
            .number()
            .int()
            .min(20)
            .max(10_000)
            .default(200)
            .describe("Postgres max_connections on the primary and every replica; must fit every app process's Prisma pool (checked)"),
          maxSlotWalKeepSizeMb: z
            .number()
            .int()
            .min(256)
            .default(8192)
            .describe(
              "WAL (MB) the primary keeps for a replica that is away (max_slot_wal_keep_size); past it the replica's slot is invalidated instead of the primary's disk filling up, and that replica needs a fresh clone (empty its data directory). Slots of replicas no longer configured are dropped. The WAL kept for rejoins without a slot (wal_keep_size) is 1024 MB or this value if smaller, so this is the bound on what pg_wal keeps for an absent replica",
            ),
          primary: z
            .string()
            .regex(/^(primary|replica-[1-9])$/, 'must be "primary" or "replica-N"')
            .default("primary")
            .describe(
              "Which member is the primary: \"primary\" (the service on the database host) or \"replica-N\" (promoted in place; the others follow it, the app's address follows it). README: \"The database host died\"",
            ),
          synchronousCommit: z
            .boolean()
            .optional()
            .describe(
              "A commit returns only once at least one replica has it on disk (synchronous_standby_names = ANY 1 over the replicas), so losing the primary loses no acknowledged write; with every replica gone, writes wait until one is back. By default on in production when there are replicas",
            ),
        })
        .prefault({}),
      redis: z
        .strictObject({
          replicas: replicas(2, 0).describe("Redis replicas besides the master, one task per node labelled redis: data"),
          sentinels: z.number().int().min(0).max(7).default(3).describe("0 (one Redis, clients connect directly) or an odd number of at least 3"),
          quorum: z.number().int().min(1).default(2).describe("Sentinels that must agree the master is down"),
          maxmemoryMb: z.number().int().min(16).default(400).describe("Redis maxmemory (at most 450 within the 512 MB limit)"),
          maxmemoryPolicy: z
            .enum(["noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl", "allkeys-lru", "allkeys-lfu"])
            .default("volatile-lru")
            .describe("Eviction policy; by default only keys with a TTL (cache) are evicted, never queue keys"),
        })
        .prefault({}),
    })
    .prefault({}),
  s3: z
    .strictObject({
      mode: z
        .enum(["internal", "external"])
        .default("internal")
        .describe("internal: MinIO on the host labelled s3: minio; external: s3.endpoint with s3AccessKey/s3SecretKey"),
      endpoint: z.url({ error: "must be a URL such as https://s3.example.com" }).optional().describe("External S3 endpoint; required with s3.mode external"),
      region: z.string().default("us-east-1").describe("S3 region the app and the uploads sign for"),
      buckets: z
        .strictObject({
          media: bucketName.default("media").describe("Bucket of the media files"),
          thumbnails: bucketName.default("thumbnails").describe("Bucket of the thumbnails"),
          backups: bucketName.default("backups").describe("Bucket of the database dumps (versioned; the uploader prunes it like the disk, a hidden version expires after backup.retentionDays)"),
        })
        .prefault({}),
    })
    .prefault({}),
  backup: z
    .strictObject({
      intervalHours: z.number().int().min(1).max(168).default(24).describe("pg_dump schedule; each dump is uploaded as soon as it is complete, and the backup-age alerts follow it"),
      retentionDays: z.number().int().min(1).max(3650).default(14).describe("Dumps older than this are pruned on disk and in the buckets, except the newest backup.keepLast"),
      keepLast: z.number().int().min(1).max(1000).default(7).describe("The newest N complete dumps (with their checksums) are never pruned, on disk or in a bucket, whatever their age"),
      fromReplica: z.boolean().default(false).describe("Take the dumps from replica 1 (services.postgres.replicas > 0) to spare the primary"),
      offsite: z
        .strictObject({
          endpoint: z.url({ error: "must be a URL such as https://s3.backup.example.net" }).describe("Off-site S3-compatible endpoint every dump is copied to (offsiteAccessKey/offsiteSecretKey)"),
          bucket: bucketName.describe("Off-site bucket"),
        })
        .optional(),
    })
    .prefault({}),
  capacity: z
    .strictObject({
      expectedUsers: z.number().int().min(1).default(50).describe("Users the installation is sized for: the compliance run compares the cluster with the capacity matrix"),
    })
    .prefault({}),
  swarm: z
    .strictObject({
      leader: z.string().optional().describe("The manager that runs `swarm init`; by default the first manager"),
      autolock: z.boolean().optional().describe("Encrypt the managers' Raft keys at rest (the unlock key is exported as a secret); by default on in production"),
      drainTimeoutSeconds: z.number().int().min(10).max(3600).default(300).describe("How long a removed host is drained before `docker node rm`"),
    })
    .prefault({}),
  network: z
    .strictObject({
      encrypted: z.boolean().optional().describe("IPsec for overlay traffic (ESP is then allowed between nodes); by default on in production and wherever there is more than one host"),
      subnets: subnetsSchema.prefault({}),
      attachable: z.array(z.enum(OVERLAY_NETWORK_KEYS)).default([]).describe("Overlays standalone containers may join"),
      managementCidrs: z.array(z.string()).default([]).describe("Operator networks (CIDRs) that may reach every published port and the management routes"),
    })
    .prefault({}),
  storage: z
    .strictObject({
      mediaPath: absolutePath.default("/mnt/media").describe("Media directory on every host, mounted read-write by the media worker; the NFS mountpoint with storage.nfs"),
      backupPath: absolutePath.default("/mnt/backup").describe("Directory of the database dumps"),
      appDataPath: absolutePath.default("/opt/medianest").describe("Service data (Postgres, Redis, MinIO, Traefik, Prometheus, Grafana) below this directory"),
      minioDataPath: absolutePath
        .optional()
        .describe(
          "The internal MinIO's data directory (by default <appDataPath>/minio): on a local disk of the host labelled s3: minio, never inside or around a directory another service mounts (the media path, the backups, another service's data), never on NFS",
        ),
      nfs: z
        .strictObject({
          server: hostnameOrIp.describe("NAS serving the media share, mounted at storage.mediaPath on every host (a managed fstab line)"),
          export: absolutePath.describe("Exported path on the NAS"),
          options: z
            .string()
            .regex(/^[A-Za-z0-9_=.,-]+$/, "must be a comma-separated mount option list")
            .default("rw,hard,noatime,nfsvers=4.1,_netdev")
            .describe("Mount options"),
        })
        .optional(),
    })
    .prefault({}),
  hostSetup: z
    .strictObject({
      installDocker: z.boolean().default(true).describe("Check the OS and install Docker Engine from Docker's apt repository"),
      daemonConfig: z.boolean().default(true).describe("Write /etc/docker/daemon.json (log rotation)"),
      firewall: z.boolean().default(true).describe("Swarm ports from the cluster's peers only, published ports guarded in DOCKER-USER (IPv4)"),
      logMaxSize: z.string().regex(/^\d+[kmg]$/, "must look like 10m").default("10m").describe("Container log size before rotation"),
      logMaxFiles: z.number().int().min(1).max(100).default(3).describe("Rotated container logs kept"),
      publicPorts: z.array(z.number().int().min(1).max(65535)).default([80, 443]).describe("Published ports reachable from anywhere; the rest only from peers and managementCidrs"),
      sshdMaxSessions: z
        .union([z.literal(false), z.number().int().min(10).max(1000)])
        .default(64)
        .describe(
          "sshd's MaxSessions on managers (a checked sshd_config.d drop-in), or false to leave sshd alone: the docker provider multiplexes its API calls over one SSH connection to the leader",
        ),
    })
    .prefault({}),
});

export type RawStackConfig = z.input<typeof stackConfigSchema>;
export type ParsedStackConfig = z.output<typeof stackConfigSchema>;
export type HostConfig = ParsedStackConfig["hosts"][number];
