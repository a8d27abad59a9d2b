// The app tier: the backend (one service, or one per color for blue-green), the
// frontend and the media workers, wired to the data tier and the edge.
import type { StackConfig } from "../../config/schema";
import { NOT_ROUTED, TRAEFIK_PORTS, backendRoutingLabels, frontendRoutingLabels } from "../edge";
import { PORTS, SENTINEL_MASTER_NAME, postgresReadHosts, s3Endpoint, secretPath, service, tasksHost, type Base, type HealthcheckSpec, type ServiceSpec } from "./spec";

const nodeHealth = (url: string): HealthcheckSpec => ({
  // node is in every Node.js image; curl/wget are not.
  test: ["CMD", "node", "-e", `require('http').get('${url}',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))`],
  interval: "10s",
  timeout: "5s",
  retries: 3,
  startPeriod: "30s",
});

function dsn(config: StackConfig, host: string): string {
  const { user, database } = config.services.postgres;
  return `postgresql://${user}@${host}:${PORTS.postgres}/${database}?keepalives=1&keepalives_idle=300`;
}

function appConnectionEnv(config: StackConfig): Record<string, string> {
  const { redis, postgres } = config.services;
  return {
    NODE_ENV: "production",
    DATABASE_URL: dsn(config, tasksHost("postgres-primary")),
    DATABASE_READ_URLS: postgresReadHosts(config).map((host) => dsn(config, host)).join(","),
    DATABASE_USER: postgres.user,
    DATABASE_NAME: postgres.database,
    DATABASE_PASSWORD_FILE: secretPath("postgres-password"),
    REDIS_URL: `redis://${tasksHost("redis-master")}:${PORTS.redis}`,
    REDIS_SENTINELS: redis.sentinels > 0 ? `${tasksHost("redis-sentinel")}:${PORTS.sentinel}` : "",
    REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
    REDIS_PASSWORD_FILE: secretPath("redis-password"),
    S3_ENDPOINT: s3Endpoint(config),
    S3_REGION: config.s3.region,
    S3_FORCE_PATH_STYLE: "true",
    S3_BUCKET_MEDIA: config.s3.buckets.media,
    S3_BUCKET_THUMBNAILS: config.s3.buckets.thumbnails,
    S3_ACCESS_KEY_FILE: secretPath("s3-app-access-key"),
    S3_SECRET_KEY_FILE: secretPath("s3-app-secret-key"),
  };
}

/**
 * MediaNest's images (backend and frontend alike: backend/Dockerfile.prod at bad4ba6d,
 * frontend/Dockerfile.prod at d5b4f266): ENTRYPOINT ["dumb-init", "--"], CMD
 * ["/app/docker-entrypoint.sh"] (the script that reads /run/secrets and starts node).
 */
export const APP_IMAGE_ENTRYPOINT = ["dumb-init", "--", "/app/docker-entrypoint.sh"] as const;

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];

/** The backend services: one (rolling) or one per color (blue-green), Traefik routing only the active one. */
export function backendServiceNames(config: StackConfig): string[] {
  return config.deployment.strategy === "rolling" ? ["medianest-backend"] : COLORS.map((c) => `medianest-backend-${c}`);
}

export interface AppTier {
  /** One (rolling) or one per color (blue-green). */
  readonly backends: readonly ServiceSpec[];
  readonly frontend: ServiceSpec;
  readonly worker: ServiceSpec;
}

export function appTier(base: Base): AppTier {
  const { config, plan } = base;
  const publicUrl = config.app.hostname === "localhost" ? "http://localhost" : `https://${config.app.hostname}`;
  const deployment = config.deployment;
  const backend = (name: string, image: string, replicas: number, routed: boolean, color?: Color): ServiceSpec =>
    service(base, "backend", {
      name,
      image,
      replicas,
      placement: { constraints: plan.placement["medianest-backend"], spread: [] },
      healthcheck: nodeHealth(`http://127.0.0.1:${PORTS.backend}/api/health`),
      entrypoint: APP_IMAGE_ENTRYPOINT,
      env: {
        ...appConnectionEnv(config),
        PORT: String(PORTS.backend),
        PUBLIC_URL: publicUrl,
        JWT_SECRET_FILE: secretPath("jwt-secret"),
      },
      secrets: ["postgres-password", "redis-password", "s3-app-access-key", "s3-app-secret-key", "jwt-secret"],
      scripts: [],
      mounts: [],
      // In-flight requests finish on SIGTERM before the task goes.
      stopGracePeriod: "30s",
      labels: {
        ...(routed ? backendRoutingLabels(config, PORTS.backend) : NOT_ROUTED),
        ...(color ? { "com.medianest.color": color } : {}),
      },
    });
  const backends =
    deployment.strategy === "rolling"
      ? [backend("medianest-backend", config.images.backend, config.services.backend.replicas, true)]
      : COLORS.map((color) => {
          const active = color === deployment.activeColor;
          const replicas = active ? config.services.backend.replicas : (deployment.idleReplicas ?? config.services.backend.replicas);
          return backend(`medianest-backend-${color}`, deployment.images[color] ?? config.images.backend, replicas, active, color);
        });
  return {
    backends,
    frontend: service(base, "frontend", {
      name: "medianest-frontend",
      image: config.images.frontend,
      replicas: config.services.frontend.replicas,
      placement: { constraints: plan.placement["medianest-frontend"], spread: ["node.labels.az"] },
      healthcheck: nodeHealth(`http://127.0.0.1:${PORTS.frontend}/`),
      entrypoint: APP_IMAGE_ENTRYPOINT,
      env: {
        NODE_ENV: "production",
        PORT: String(PORTS.frontend),
        NEXTAUTH_URL: publicUrl,
        NEXTAUTH_SECRET_FILE: secretPath("nextauth-secret"),
        // Server-side API calls go through the edge's internal entrypoint, which routes to
        // the active backend: a blue-green switch is a label change on the backends only.
        BACKEND_URL: `http://traefik:${TRAEFIK_PORTS.internal}`,
      },
      secrets: ["nextauth-secret"],
      scripts: [],
      mounts: [],
      labels: frontendRoutingLabels(config, PORTS.frontend),
    }),
    worker: service(base, "worker", {
      name: "medianest-worker",
      image: config.images.worker,
      replicas: config.services.worker.replicas,
      placement: { constraints: plan.placement["medianest-worker"], spread: [] },
      entrypoint: APP_IMAGE_ENTRYPOINT,
      env: {
        ...appConnectionEnv(config),
        WORKER_QUEUES: config.services.worker.queues.join(","),
        // Swarm template: each task knows its slot (logs, metrics, queue sharding).
        WORKER_INSTANCE: "{{.Task.Slot}}",
        MEDIA_PATH: "/media",
      },
      secrets: ["postgres-password", "redis-password", "s3-app-access-key", "s3-app-secret-key"],
      scripts: [],
      mounts: [{ source: config.storage.mediaPath, target: "/media", readOnly: false }],
    }),
  };
}
