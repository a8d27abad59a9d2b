// What the MediaNest images need to start, as data: the environment and the secret files
// each tier reads, the rules the app applies to their values, its ports, health paths, the
// routes it owns, its migration command, uid and writable paths. The app wiring, the edge
// routes, the scrape config and config validation derive from this one table.
//
// Read from KingInYellow18/medianest: the backend at bad4ba6d (main, 2025-09-09), the
// frontend at d5b4f266 (the last commit with the full Next.js app). File references below
// are paths in that repository at those commits.

export const UPSTREAM = {
  repository: "https://github.com/KingInYellow18/medianest",
  backendCommit: "bad4ba6df4e38ec401e2968c70155f4d8f0156f7",
  frontendCommit: "d5b4f26688057826db3dc9886e5b950899e293c3",
} as const;

/** Secret files under /run/secrets, named as the images read them. */
export const APP_SECRET_FILES = [
  "database_url",
  "redis_url",
  "jwt_secret",
  "encryption_key",
  "plex_client_id",
  "plex_client_secret",
  "metrics_token",
  "nextauth_secret",
] as const;
export type AppSecretFile = (typeof APP_SECRET_FILES)[number];

/**
 * How a tier gets a secret into the variable it reads: the image's own entrypoint exports
 * the file (backend/Dockerfile.prod, frontend/Dockerfile.prod docker-entrypoint.sh), or the
 * app reads the variable only and our wrapper exports the file before the image's
 * entrypoint runs (the value never enters the service's spec).
 */
export interface SecretRead {
  readonly file: AppSecretFile;
  readonly env: string;
  readonly exportedBy: "image" | "wrapper";
}

/** Settings the program derives from the stack; the contract names which variable carries each. */
export type SettingSource =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "port" }
  /** The portal's public origin, e.g. https://medianest.example.com. */
  | { readonly kind: "public-origin" }
  /** The edge's internal entrypoint, where the active backend answers (blue-green safe). */
  | { readonly kind: "internal-api" };

export interface TierContract {
  /** The port the server listens on (and the variable that sets it). */
  readonly port: number;
  readonly env: Readonly<Record<string, SettingSource>>;
  readonly secrets: readonly SecretRead[];
  /** An HTTP path that answers < 400 once the server is up (the image has node, and curl for the backend). */
  readonly healthPath: string;
  /** The image's ENTRYPOINT + CMD, which our environment wrapper execs. */
  readonly entrypoint: readonly string[];
  /** USER of the image. */
  readonly uid: number;
  readonly gid: number;
  /** Where the process writes (tmpfs or volumes); everything else may be read-only. */
  readonly writablePaths: readonly string[];
  /** Path prefixes this tier serves on the public host. */
  readonly publicRoutes: readonly string[];
}

export interface AppContract {
  readonly upstream: typeof UPSTREAM;
  readonly backend: TierContract & {
    /** Socket.IO (websocket and polling, no Redis adapter: polling needs a sticky backend). */
    readonly socketIoPath: string;
    /** /metrics, answered only with `Authorization: Bearer <METRICS_TOKEN>` in production. */
    readonly metricsPath: string;
    /** What /metrics serves: the names with samples, and the ones it declares but never fills. */
    readonly metrics: AppMetrics;
    /** The search endpoints (exact paths): the edge gives them a router of their own, whose latency is the search benchmark. */
    readonly searchRoutes: readonly string[];
  };
  readonly frontend: TierContract;
  /**
   * The one-off schema migration: run from the new backend image before its tasks start.
   * The image's own entrypoint would start the server after migrating (RUN_MIGRATIONS=true),
   * so the step runs the command itself with DATABASE_URL exported.
   */
  readonly migration: { readonly command: readonly string[]; readonly secrets: readonly SecretRead[] };
  /** The worker's command; the app has none upstream, so no worker runs until a stack names one. */
  readonly workerCommand?: readonly string[];
  /** Prisma's pool per backend process: db/prisma.ts getDatabaseUrl forces connection_limit=20. */
  readonly connectionsPerProcess: number;
}

export interface AppMetrics {
  /** Families with samples on every scrape. */
  readonly exported: readonly string[];
  /**
   * Families registered (so they have # HELP and # TYPE lines) but never observed by the
   * running server: a labelled prom-client metric has no sample until its first observation
   * (prom-client 15.1.3 lib/histogram.js and lib/counter.js start an empty hashMap when there
   * are labels). A rule on them would never see data.
   */
  readonly withoutSamples: readonly string[];
}

/**
 * The backend's /metrics (backend/src/server.ts app.get('/metrics') serves the registry of
 * backend/src/middleware/metrics.ts), prom-client ^15.1.3 (15.1.3 in package-lock.json):
 * - collectDefaultMetrics({ register }) (prom-client lib/defaultMetrics.js and lib/metrics/*.js);
 * - app_info (set when the module loads), and the unlabelled gauges
 *   database_connections_active, redis_connections_active, user_sessions_active, which hold 0
 *   (prom-client lib/gauge.js sets an unlabelled gauge to 0; their setters are called nowhere);
 * - its own nodejs_eventloop_lag_seconds collides with the default metric of that name, so
 *   registerMetric throws (caught) and the default one is served.
 * The request, database, Redis, external-API, media and queue families are registered but
 * never observed: metricsMiddleware is mounted only by server-minimal.ts, while the image
 * runs dist/server.js (backend/Dockerfile.prod), and trackDbQuery, trackRedisOperation,
 * trackExternalApiCall, trackMediaRequest and setQueueSize have no callers (metrics-helpers.ts,
 * which wraps them, is imported nowhere). So the app reports no request latency of its own:
 * the benchmarks read the edge's per-router histograms instead.
 */
const BACKEND_METRICS: AppMetrics = {
  exported: [
    "process_cpu_user_seconds_total",
    "process_cpu_system_seconds_total",
    "process_cpu_seconds_total",
    "process_start_time_seconds",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_heap_bytes",
    "process_open_fds",
    "process_max_fds",
    "nodejs_eventloop_lag_seconds",
    "nodejs_eventloop_lag_min_seconds",
    "nodejs_eventloop_lag_max_seconds",
    "nodejs_eventloop_lag_mean_seconds",
    "nodejs_eventloop_lag_stddev_seconds",
    "nodejs_eventloop_lag_p50_seconds",
    "nodejs_eventloop_lag_p90_seconds",
    "nodejs_eventloop_lag_p99_seconds",
    "nodejs_active_resources",
    "nodejs_active_resources_total",
    "nodejs_active_handles",
    "nodejs_active_handles_total",
    "nodejs_active_requests",
    "nodejs_active_requests_total",
    "nodejs_heap_size_total_bytes",
    "nodejs_heap_size_used_bytes",
    "nodejs_external_memory_bytes",
    "nodejs_heap_space_size_total_bytes",
    "nodejs_heap_space_size_used_bytes",
    "nodejs_heap_space_size_available_bytes",
    "nodejs_version_info",
    "nodejs_gc_duration_seconds_bucket",
    "nodejs_gc_duration_seconds_sum",
    "nodejs_gc_duration_seconds_count",
    "app_info",
    "database_connections_active",
    "redis_connections_active",
    "user_sessions_active",
  ],
  withoutSamples: [
    "http_request_duration_seconds",
    "http_requests_total",
    "http_request_size_bytes",
    "http_response_size_bytes",
    "database_query_duration_seconds",
    "redis_operation_duration_seconds",
    "external_api_duration_seconds",
    "media_requests_total",
    "queue_size",
  ],
};

/**
 * Words the backend refuses inside JWT_SECRET, ENCRYPTION_KEY, DATABASE_URL and
 * METRICS_TOKEN in production, case-insensitive, as substrings
 * (backend/src/config/secrets-validator.ts isObviousTestValue).
 */
export const FORBIDDEN_SECRET_WORDS = ["test", "demo", "example", "default", "changeme", "password", "123456", "secret", "development", "dev"] as const;

export interface SecretValueRule {
  readonly minLength: number;
  /** Checked against FORBIDDEN_SECRET_WORDS. */
  readonly noForbiddenWords: boolean;
}

/** The validator's rules per secret file (secrets-validator.ts, config.service.ts validateRequiredConfig). */
export const SECRET_VALUE_RULES: Readonly<Record<AppSecretFile, SecretValueRule>> = {
  database_url: { minLength: 10, noForbiddenWords: true },
  redis_url: { minLength: 1, noForbiddenWords: false },
  jwt_secret: { minLength: 32, noForbiddenWords: true },
  encryption_key: { minLength: 32, noForbiddenWords: true },
  plex_client_id: { minLength: 1, noForbiddenWords: false },
  plex_client_secret: { minLength: 1, noForbiddenWords: false },
  metrics_token: { minLength: 20, noForbiddenWords: true },
  // Not validated by the app; NextAuth only needs one in production.
  nextauth_secret: { minLength: 1, noForbiddenWords: false },
};

/** The forbidden word a value contains, if any. */
export function forbiddenWordIn(value: string): string | undefined {
  const lower = value.toLowerCase();
  return FORBIDDEN_SECRET_WORDS.find((word) => lower.includes(word));
}

/**
 * The alphabet of generated secrets: every forbidden word has a character outside it
 * (t, m, w, v and 1 are left out, in both cases), so no generated value can contain one.
 */
export const SAFE_SECRET_ALPHABET = "abcdefghijklnopqrsuxyzABCDEFGHIJKLNOPQRSUXYZ023456789";

const imageEntrypoint = ["dumb-init", "--", "/app/docker-entrypoint.sh"] as const;

export const MEDIANEST_CONTRACT: AppContract = {
  upstream: UPSTREAM,
  backend: {
    // backend/Dockerfile.prod: ENV PORT=4000, EXPOSE 4000; server.ts listens on PORT on all interfaces.
    port: 4000,
    env: {
      NODE_ENV: { kind: "literal", value: "production" },
      PORT: { kind: "port" },
      // CORS (server.ts) and the Socket.IO handshake (socket/socket-server.ts) allow these origins.
      FRONTEND_URL: { kind: "public-origin" },
      ALLOWED_ORIGINS: { kind: "public-origin" },
    },
    secrets: [
      { file: "database_url", env: "DATABASE_URL", exportedBy: "image" },
      { file: "redis_url", env: "REDIS_URL", exportedBy: "image" },
      { file: "jwt_secret", env: "JWT_SECRET", exportedBy: "image" },
      { file: "encryption_key", env: "ENCRYPTION_KEY", exportedBy: "image" },
      { file: "plex_client_id", env: "PLEX_CLIENT_ID", exportedBy: "image" },
      { file: "plex_client_secret", env: "PLEX_CLIENT_SECRET", exportedBy: "image" },
      // Read from the environment only (config.service.ts getStringEnv); required in production.
      { file: "metrics_token", env: "METRICS_TOKEN", exportedBy: "wrapper" },
    ],
    // routes/health.ts; no database check, so it says the process is up.
    healthPath: "/api/health",
    entrypoint: imageEntrypoint,
    uid: 1001,
    gid: 1001,
    // utils/logger.ts writes ./logs; the image creates /app/uploads and /app/downloads.
    writablePaths: ["/app/logs", "/app/uploads", "/app/downloads"],
    publicRoutes: ["/api/v1", "/api/health", "/health", "/socket.io"],
    socketIoPath: "/socket.io",
    metricsPath: "/metrics",
    metrics: BACKEND_METRICS,
    // routes/v1/media.ts and routes/v1/plex.ts GET /search, mounted at /api/v1/media and
    // /api/v1/plex (routes/v1/index.ts protectedRouter, routes/index.ts app.use('/api/v1')).
    searchRoutes: ["/api/v1/media/search", "/api/v1/plex/search"],
  },
  frontend: {
    port: 3000,
    env: {
      NODE_ENV: { kind: "literal", value: "production" },
      PORT: { kind: "port" },
      // Next's standalone server.js binds HOSTNAME.
      HOSTNAME: { kind: "literal", value: "0.0.0.0" },
      NEXTAUTH_URL: { kind: "public-origin" },
      BACKEND_URL: { kind: "internal-api" },
    },
    secrets: [
      { file: "nextauth_secret", env: "NEXTAUTH_SECRET", exportedBy: "image" },
      // NextAuth's Prisma adapter (lib/db/prisma.ts, lib/auth) and the Plex provider read these
      // from the environment; the image's entrypoint exports only nextauth_secret.
      { file: "database_url", env: "DATABASE_URL", exportedBy: "wrapper" },
      { file: "plex_client_id", env: "PLEX_CLIENT_ID", exportedBy: "wrapper" },
      { file: "plex_client_secret", env: "PLEX_CLIENT_SECRET", exportedBy: "wrapper" },
    ],
    // The app has no /api/health route (its Dockerfile's check would fail); the root page answers.
    healthPath: "/",
    entrypoint: imageEntrypoint,
    uid: 1001,
    gid: 1001,
    writablePaths: ["/app/.next/cache"],
    // NextAuth and the media API routes (src/app/api/auth, src/app/api/media); pages otherwise.
    publicRoutes: ["/", "/api/auth", "/api/media"],
  },
  migration: {
    command: ["npx", "prisma", "migrate", "deploy"],
    secrets: [{ file: "database_url", env: "DATABASE_URL", exportedBy: "wrapper" }],
  },
  connectionsPerProcess: 20,
};
