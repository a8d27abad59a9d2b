// Where each Docker secret's value comes from: generated (unless the stack sets the
// config secret), required from config (external systems decide it), derived from another
// secret (the app's connection URLs carry the generated passwords), or an output of the
// object-storage component (the MinIO root user and the users' keys it creates).
// The stack declares every secret up front from this table; none is added later.
import type { SecretConfigKey, StackConfig } from "../config/schema";
import { PORTS, SECRETS_DIR, appRedisHost, isExtraSecret, postgresWriterHost, redisExporterDataUri, redisSentinelUri, secretPath, type SecretName } from "./services";

/** Where the first source's value stands in a derived secret's template. */
export const DERIVED_VALUE = "{value}";
/** Where source `index` (0-based) stands in a derived secret's template. */
export const derivedValue = (index: number): string => (index === 0 ? DERIVED_VALUE : `{value${index}}`);

export type SecretSource =
  | {
      readonly kind: "generated";
      readonly configKey: SecretConfigKey;
      readonly length: number;
      /** Drawn from SAFE_SECRET_ALPHABET: the value ends up where the app refuses forbidden words. */
      readonly appSafe?: boolean;
    }
  | { readonly kind: "config"; readonly configKey: SecretConfigKey }
  /**
   * Other secrets' values filled into a template: URL-encoded (connection URLs) or as JSON
   * string content (a JSON file's values).
   */
  | { readonly kind: "derived"; readonly from: readonly SecretName[]; readonly template: string; readonly encoding: "url" | "json" }
  | { readonly kind: "object-storage" }
  /** A fork's extra secret file: its value is medianest:appSecrets.<file>. */
  | { readonly kind: "app-config"; readonly file: string };

export const SECRET_SOURCES: Readonly<Record<SecretName, SecretSource>> = {
  // Inside database_url, which the backend checks for forbidden words.
  "postgres-password": { kind: "generated", configKey: "postgresPassword", length: 32, appSafe: true },
  "postgres-replication-password": { kind: "generated", configKey: "replicationPassword", length: 32 },
  "redis-password": { kind: "generated", configKey: "redisPassword", length: 32 },
  "redis-sentinel-password": { kind: "generated", configKey: "sentinelPassword", length: 32 },
  // Filled in per stack by secretSource (host, role and database come from config).
  database_url: { kind: "derived", from: ["postgres-password"], template: "", encoding: "url" },
  redis_url: { kind: "derived", from: ["redis-password"], template: "", encoding: "url" },
  "redis-exporter-passwords": { kind: "derived", from: ["redis-password", "redis-sentinel-password"], template: "", encoding: "json" },
  jwt_secret: { kind: "generated", configKey: "jwtSecret", length: 64, appSafe: true },
  // Encrypts the Plex tokens the app stores: generated once and kept (the RandomPassword is stable).
  encryption_key: { kind: "generated", configKey: "encryptionKey", length: 64, appSafe: true },
  metrics_token: { kind: "generated", configKey: "metricsToken", length: 40, appSafe: true },
  // The app sends PLEX_CLIENT_ID as X-Plex-Client-Identifier, an id the client chooses
  // (controllers/auth.controller.ts; services/plex-auth.service.ts makes one up when unset);
  // PLEX_CLIENT_SECRET is required by the validator but sent nowhere. Both can be generated.
  plex_client_id: { kind: "generated", configKey: "plexClientId", length: 32 },
  plex_client_secret: { kind: "generated", configKey: "plexClientSecret", length: 48 },
  nextauth_secret: { kind: "generated", configKey: "nextAuthSecret", length: 64 },
  "grafana-admin-password": { kind: "generated", configKey: "grafanaAdminPassword", length: 32 },
  "minio-root-user": { kind: "object-storage" },
  "minio-root-password": { kind: "generated", configKey: "minioRootPassword", length: 32 },
  "s3-app-access-key": { kind: "object-storage" },
  "s3-app-secret-key": { kind: "object-storage" },
  "s3-backup-access-key": { kind: "object-storage" },
  "s3-backup-secret-key": { kind: "object-storage" },
  "offsite-access-key": { kind: "config", configKey: "offsiteAccessKey" },
  "offsite-secret-key": { kind: "config", configKey: "offsiteSecretKey" },
  "cloudflare-dns-token": { kind: "config", configKey: "cloudflareDnsToken" },
  "traefik-dashboard-users": { kind: "config", configKey: "traefikDashboardUsers" },
  "alert-webhook-url": { kind: "config", configKey: "alertWebhookUrl" },
  "alert-smtp-password": { kind: "config", configKey: "alertSmtpPassword" },
  "alert-slack-webhook-url": { kind: "config", configKey: "alertSlackWebhookUrl" },
};

/** External S3 is provisioned outside this program: one key pair from config serves both users. */
const EXTERNAL_S3_KEYS: Partial<Record<SecretName, SecretSource>> = {
  "s3-app-access-key": { kind: "config", configKey: "s3AccessKey" },
  "s3-app-secret-key": { kind: "config", configKey: "s3SecretKey" },
  "s3-backup-access-key": { kind: "config", configKey: "s3AccessKey" },
  "s3-backup-secret-key": { kind: "config", configKey: "s3SecretKey" },
};

/**
 * The app's connection URLs with the password left as DERIVED_VALUE: Prisma's DSN for the
 * primary (backend/src/db/prisma.ts adds its own pool parameters), and ioredis's URL.
 */
export function appConnectionTemplates(config: StackConfig): { database_url: string; redis_url: string } {
  const { user, database } = config.services.postgres;
  return {
    database_url: `postgresql://${user}:${DERIVED_VALUE}@${postgresWriterHost()}:${PORTS.postgres}/${database}`,
    // The user is named: redis-cli 7 sends AUTH "" pw for redis://:pw@, which Redis refuses
    // (seen in the data lab). ioredis 5 (the app's ^5.4.1) takes the user and the password
    // from the URL (lib/utils parseURL: auth split at the first ":"), and "default" is
    // requirepass's user on Redis 6+; BullMQ, which keeps only the password
    // (upstream config/queues.ts), still authenticates.
    redis_url: `redis://default:${DERIVED_VALUE}@${appRedisHost(config)}:${PORTS.redis}`,
  };
}

export function secretSource(name: SecretName, config: StackConfig): SecretSource {
  if (isExtraSecret(name)) return { kind: "app-config", file: secretPath(name).slice(SECRETS_DIR.length + 1) };
  if (name === "database_url" || name === "redis_url") {
    const from = SECRET_SOURCES[name];
    if (from.kind !== "derived") throw new Error(`${name} is derived`);
    return { ...from, template: appConnectionTemplates(config)[name] };
  }
  if (name === "redis-exporter-passwords") return redisExporterPasswords(config);
  return (config.s3.mode === "external" ? EXTERNAL_S3_KEYS[name] : undefined) ?? SECRET_SOURCES[name];
}

/**
 * redis_exporter's password file (v1.76.0 main.go: --redis.password-file is read by
 * exporter/pwd_file.go LoadPwdFile as a JSON object; a plain password file makes it exit):
 * each address it dials, exactly as it looks it up (exporter/redis.go
 * lookupPasswordInPasswordMap: the parsed URI, re-printed), to that server's password.
 * The sentinels have their own (requirepass of Sentinel), and are listed only where they run.
 */
export function redisExporterPasswords(config: StackConfig): SecretSource {
  const withSentinel = config.services.redis.sentinels > 0;
  const entries: Record<string, string> = { [redisExporterDataUri(config)]: derivedValue(0), ...(withSentinel ? { [redisSentinelUri()]: derivedValue(1) } : {}) };
  return {
    kind: "derived",
    from: withSentinel ? ["redis-password", "redis-sentinel-password"] : ["redis-password"],
    template: `${JSON.stringify(entries)}\n`,
    encoding: "json",
  };
}

/** A derived secret's value: the template with each source filled in, URL-encoded or as JSON string content. */
export function renderDerivedSecret(template: string, values: readonly string[], encoding: "url" | "json"): string {
  const encode = encoding === "url" ? encodeURIComponent : (value: string) => JSON.stringify(value).slice(1, -1);
  // One pass: a value that happens to contain "{value}" is never filled in again.
  return template.replace(/\{value(\d*)\}/g, (placeholder: string, index: string) => {
    const value = values[index === "" ? 0 : Number(index)];
    if (value === undefined) throw new Error(`derived secret template names ${placeholder}, which has no source`);
    return encode(value);
  });
}
