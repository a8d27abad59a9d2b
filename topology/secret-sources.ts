// Where each Docker secret's value comes from: generated (unless the stack sets the
// config secret), required from config (external systems decide it), or an output of
// the object-storage component (the MinIO root user and the users' keys it creates).
// The stack declares every secret up front from this table; none is added later.
import type { SecretConfigKey, StackConfig } from "../config/schema";
import type { SecretName } from "./services";

export type SecretSource =
  | { readonly kind: "generated"; readonly configKey: SecretConfigKey; readonly length: number }
  | { readonly kind: "config"; readonly configKey: SecretConfigKey }
  | { readonly kind: "object-storage" };

export const SECRET_SOURCES: Readonly<Record<SecretName, SecretSource>> = {
  "postgres-password": { kind: "generated", configKey: "postgresPassword", length: 32 },
  "postgres-replication-password": { kind: "generated", configKey: "replicationPassword", length: 32 },
  "redis-password": { kind: "generated", configKey: "redisPassword", length: 32 },
  "jwt-secret": { kind: "generated", configKey: "jwtSecret", length: 64 },
  "nextauth-secret": { kind: "generated", configKey: "nextAuthSecret", length: 64 },
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

export function secretSource(name: SecretName, s3Mode: StackConfig["s3"]["mode"]): SecretSource {
  return (s3Mode === "external" ? EXTERNAL_S3_KEYS[name] : undefined) ?? SECRET_SOURCES[name];
}
