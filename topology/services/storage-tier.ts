// The storage tier: the internal MinIO (when s3.mode is internal) on the host labelled
// s3=minio.
import { minioAdminRoutingLabels } from "../edge";
import { PORTS, secretPath, service, type Base, type ServiceSpec } from "./spec";

export interface StorageTier {
  /** The internal MinIO; undefined with external S3. */
  readonly minio?: ServiceSpec;
}

export function storageTier(base: Base): StorageTier {
  const { config, plan } = base;
  if (config.s3.mode !== "internal") return {};
  return {
    minio: service(base, "minio", {
      name: "minio",
      image: config.images.minio,
      replicas: 1,
      placement: { constraints: plan.placement.minio, spread: [] },
      env: {
        MINIO_ROOT_USER_FILE: secretPath("minio-root-user"),
        MINIO_ROOT_PASSWORD_FILE: secretPath("minio-root-password"),
        MINIO_BROWSER: "off",
        // Prometheus scrapes /minio/v2/metrics/cluster over storage-net without a token.
        MINIO_PROMETHEUS_AUTH_TYPE: "public",
      },
      secrets: ["minio-root-user", "minio-root-password"],
      scripts: [],
      // Its own directory, apart from every other service's mounts and off NFS (config rule
      // minio-data-path): never the media path the worker writes untrusted files into.
      mounts: [{ source: config.storage.minioDataPath, target: "/data", readOnly: false }],
      command: ["minio", "server", "/data", "--address", `:${PORTS.minio}`],
      // The MinIO image ships mc with a "local" alias; `mc ready` probes the health endpoint.
      healthcheck: { test: ["CMD", "mc", "ready", "local"], interval: "10s", timeout: "5s", retries: 5, startPeriod: "30s" },
      // Operators' minio provider reaches the API through the edge, management networks only.
      labels: minioAdminRoutingLabels(config, PORTS.minio),
    }),
  };
}
