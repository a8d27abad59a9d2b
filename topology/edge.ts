// The edge: Traefik v3 on the labelled managers, its Docker API through a
// read-only socket proxy, routers as service labels, middlewares and the
// dashboard in a generated dynamic file. Pure: tests read the exact labels.
import { stringify } from "yaml";
import type { StackConfig } from "../config/schema";
import { MEDIANEST_CONTRACT } from "../domain/app-contract";
import { EDGE_ROUTERS, latencyBucketsSeconds } from "../domain/benchmarks";
import { edgeHosts } from "../domain/catalogue";
import type { TopologyPlan } from "./plan";

export const TRAEFIK_PORTS = { web: 80, websecure: 443, internal: 8081, metrics: 8082 } as const;
export const SOCKET_PROXY_PORT = 2375;
export const CERT_RESOLVER = "le";
export const TRAEFIK_DYNAMIC_PATH = "/etc/traefik/dynamic.yml";
export const ACME_DIR = "/acme";

/** Middlewares every public router uses (defined in the dynamic file). */
export const PUBLIC_MIDDLEWARES = ["secure-headers@file", "compress@file", "rate-limit@file"] as const;
export const MGMT_ONLY_MIDDLEWARE = "mgmt-only@file";

export function edgeHostNames(config: StackConfig): string[] {
  return edgeHosts(config.hosts).map((h) => h.name);
}

export const grafanaHostname = (config: StackConfig): string => `grafana.${config.app.hostname}`;
export const dashboardHostname = (config: StackConfig): string => `traefik.${config.app.hostname}`;

/** Traefik's static configuration, as command-line arguments. */
export function traefikArgs(config: StackConfig): string[] {
  const acme = config.edge.tls === "acme" ? config.edge.acme : undefined;
  const args = [
    `--entrypoints.web.address=:${TRAEFIK_PORTS.web}`,
    "--entrypoints.web.http.redirections.entrypoint.to=websecure",
    "--entrypoints.web.http.redirections.entrypoint.scheme=https",
    `--entrypoints.websecure.address=:${TRAEFIK_PORTS.websecure}`,
    "--entrypoints.websecure.http.tls=true",
    // Plain HTTP on the overlay only (not published): the frontend reaches the active backend through it.
    `--entrypoints.internal.address=:${TRAEFIK_PORTS.internal}`,
    `--entrypoints.metrics.address=:${TRAEFIK_PORTS.metrics}`,
    "--metrics.prometheus=true",
    "--metrics.prometheus.entrypoint=metrics",
    // Per-router series: the benchmarks read the api, api-search and frontend routers.
    "--metrics.prometheus.addRoutersLabels=true",
    `--metrics.prometheus.buckets=${latencyBucketsSeconds().join(",")}`,
    "--ping=true",
    "--ping.entrypoint=metrics",
    "--providers.swarm=true",
    `--providers.swarm.endpoint=tcp://tasks.docker-socket-proxy:${SOCKET_PROXY_PORT}`,
    "--providers.swarm.exposedByDefault=false",
    "--providers.swarm.network=frontend-net",
    "--providers.swarm.refreshSeconds=15",
    `--providers.file.filename=${TRAEFIK_DYNAMIC_PATH}`,
    `--api.dashboard=${config.edge.dashboard}`,
    "--api.insecure=false",
    "--accesslog=true",
    "--log.level=INFO",
    "--global.checknewversion=false",
    "--global.sendanonymoususage=false",
  ];
  if (acme) {
    args.push(
      `--entrypoints.websecure.http.tls.certresolver=${CERT_RESOLVER}`,
      `--certificatesresolvers.${CERT_RESOLVER}.acme.email=${acme.email}`,
      // Per node: each Traefik keeps its own ACME account and certificates (acme.json, 0600).
      `--certificatesresolvers.${CERT_RESOLVER}.acme.storage=${ACME_DIR}/acme.json`,
      ...(acme.staging ? [`--certificatesresolvers.${CERT_RESOLVER}.acme.caserver=https://acme-staging-v02.api.letsencrypt.org/directory`] : []),
      ...(acme.challenge === "http"
        ? [`--certificatesresolvers.${CERT_RESOLVER}.acme.httpchallenge.entrypoint=web`]
        : [
            `--certificatesresolvers.${CERT_RESOLVER}.acme.dnschallenge.provider=cloudflare`,
            `--certificatesresolvers.${CERT_RESOLVER}.acme.dnschallenge.resolvers=1.1.1.1:53,1.0.0.1:53`,
          ]),
    );
  }
  return args;
}

/** Router labels for a service Traefik should expose; `routers` share the service's load balancer. */
export interface RouterSpec {
  readonly name: string;
  readonly rule: string;
  readonly entrypoint: "websecure" | "internal";
  readonly middlewares: readonly string[];
  readonly priority?: number;
}

export function routingLabels(
  config: StackConfig,
  service: string,
  port: number,
  routers: readonly RouterSpec[],
  network?: string,
  /** false for routers matched by IP address: Let's Encrypt issues for names only. */
  acmeCertificate = true,
): Record<string, string> {
  const labels: Record<string, string> = {
    "traefik.enable": "true",
    [`traefik.http.services.${service}.loadbalancer.server.port`]: String(port),
  };
  if (network) labels["traefik.swarm.network"] = network;
  for (const router of routers) {
    const prefix = `traefik.http.routers.${router.name}`;
    labels[`${prefix}.rule`] = router.rule;
    labels[`${prefix}.entrypoints`] = router.entrypoint;
    labels[`${prefix}.service`] = service;
    if (router.middlewares.length > 0) labels[`${prefix}.middlewares`] = router.middlewares.join(",");
    if (router.priority !== undefined) labels[`${prefix}.priority`] = String(router.priority);
    if (router.entrypoint === "websecure") {
      labels[`${prefix}.tls`] = "true";
      if (config.edge.tls === "acme" && acmeCertificate) labels[`${prefix}.tls.certresolver`] = CERT_RESOLVER;
    }
  }
  return labels;
}

const host = (name: string) => `Host(\`${name}\`)`;

export function frontendRoutingLabels(config: StackConfig, port: number): Record<string, string> {
  return routingLabels(config, "frontend", port, [
    { name: EDGE_ROUTERS.frontend, rule: host(config.app.hostname), entrypoint: "websecure", middlewares: PUBLIC_MIDDLEWARES },
  ]);
}

/** Traefik's rule for a contract's public paths: exact `/health`, prefixes otherwise. */
function pathsRule(paths: readonly string[]): string {
  return paths.map((p) => (p === "/health" ? `Path(\`${p}\`)` : `PathPrefix(\`${p}\`)`)).join(" || ");
}

const exactPathsRule = (paths: readonly string[]): string => paths.map((p) => `Path(\`${p}\`)`).join(" || ");

/** The cookie that keeps a browser on one backend task (Socket.IO polling has no shared state). */
export const BACKEND_STICKY_COOKIE = "medianest_backend";

/**
 * The backend's routes from the app contract (its API, health and Socket.IO; websocket
 * upgrades pass through Traefik as they are), with a sticky cookie: the backend has no
 * Socket.IO Redis adapter, so a polling client must stay on the task that holds its
 * session. The frontend's own `/api/auth` and `/api/media` stay with the frontend (its
 * host rule catches everything the backend's rule does not). The internal entrypoint
 * serves the frontend's server side.
 * Three public routers share the one service (and its cookie), so that Traefik's per-router
 * metrics separate them: search has its own benchmark, and Socket.IO's long polls and
 * websockets would otherwise swamp the API's latency.
 */
export function backendRoutingLabels(config: StackConfig, port: number): Record<string, string> {
  const contract = MEDIANEST_CONTRACT.backend;
  const site = host(config.app.hostname);
  const apiRoutes = contract.publicRoutes.filter((p) => p !== contract.socketIoPath);
  const labels = routingLabels(config, "api", port, [
    { name: EDGE_ROUTERS.api, rule: `${site} && (${pathsRule(apiRoutes)})`, entrypoint: "websecure", middlewares: PUBLIC_MIDDLEWARES, priority: 100 },
    // Above the api router: its paths are inside /api/v1.
    { name: EDGE_ROUTERS.search, rule: `${site} && (${exactPathsRule(contract.searchRoutes)})`, entrypoint: "websecure", middlewares: PUBLIC_MIDDLEWARES, priority: 110 },
    { name: EDGE_ROUTERS.socketIo, rule: `${site} && PathPrefix(\`${contract.socketIoPath}\`)`, entrypoint: "websecure", middlewares: PUBLIC_MIDDLEWARES, priority: 100 },
    { name: "api-internal", rule: "PathPrefix(`/api`)", entrypoint: "internal", middlewares: [] },
  ]);
  const sticky = "traefik.http.services.api.loadbalancer.sticky.cookie";
  return {
    ...labels,
    [`${sticky}.name`]: BACKEND_STICKY_COOKIE,
    [`${sticky}.secure`]: String(config.app.hostname !== "localhost"),
    [`${sticky}.httponly`]: "true",
    [`${sticky}.samesite`]: "lax",
  };
}

export function grafanaRoutingLabels(config: StackConfig, port: number): Record<string, string> {
  return routingLabels(
    config,
    "grafana",
    port,
    [{ name: "grafana", rule: host(grafanaHostname(config)), entrypoint: "websecure", middlewares: [MGMT_ONLY_MIDDLEWARE, "secure-headers@file"] }],
    "monitor-net",
  );
}

/** Cluster addresses of the edge nodes: operators reach admin routes (MinIO's API) there. */
export function edgeClusterAddresses(config: StackConfig): string[] {
  return edgeHosts(config.hosts).map((h) => h.address);
}

/**
 * MinIO's S3 API for the minio provider that operators run: through the edge
 * (the only published ports are 80/443), matched by the edge nodes' own
 * addresses, management networks only, with Traefik's default certificate.
 */
export function minioAdminRoutingLabels(config: StackConfig, port: number): Record<string, string> {
  const rule = edgeClusterAddresses(config)
    .map((address) => host(address))
    .join(" || ");
  return routingLabels(
    config,
    "minio-admin",
    port,
    [{ name: "minio-admin", rule, entrypoint: "websecure", middlewares: [MGMT_ONLY_MIDDLEWARE] }],
    "storage-net",
    false,
  );
}

/** A service Traefik must not route to (the idle color). */
export const NOT_ROUTED: Readonly<Record<string, string>> = { "traefik.enable": "false" };

/** Dynamic configuration: middlewares, and the dashboard router when enabled. */
export function traefikDynamicConfig(config: StackConfig, plan: TopologyPlan): string {
  // Only the operators' networks (and the cluster itself) reach management routes.
  const mgmtRanges = [...config.network.managementCidrs, ...plan.nodes.map((n) => `${n.address}/32`)];
  const dynamic: Record<string, unknown> = {
    http: {
      middlewares: {
        "secure-headers": {
          headers: {
            stsSeconds: 31_536_000,
            stsIncludeSubdomains: true,
            frameDeny: true,
            contentTypeNosniff: true,
            browserXssFilter: true,
            referrerPolicy: "strict-origin-when-cross-origin",
          },
        },
        compress: { compress: {} },
        "rate-limit": { rateLimit: { average: config.edge.rateLimit.average, burst: config.edge.rateLimit.burst } },
        "mgmt-only": { ipAllowList: { sourceRange: mgmtRanges } },
        ...(config.edge.dashboard ? { "dashboard-auth": { basicAuth: { usersFile: "/run/secrets/traefik-dashboard-users" } } } : {}),
      },
      ...(config.edge.dashboard
        ? {
            routers: {
              dashboard: {
                rule: host(dashboardHostname(config)),
                entryPoints: ["websecure"],
                service: "api@internal",
                middlewares: ["mgmt-only", "dashboard-auth", "secure-headers"],
                tls: config.edge.tls === "acme" ? { certResolver: CERT_RESOLVER } : {},
              },
            },
          }
        : {}),
    },
  };
  return stringify(dynamic);
}
