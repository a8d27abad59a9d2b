// The edge tier: the read-only Docker socket proxy on the managers and Traefik on the
// managers labelled edge=traefik, the only services that publish ports.
import { ACME_DIR, TRAEFIK_DYNAMIC_PATH, TRAEFIK_PORTS, edgeHostNames, traefikArgs } from "../edge";
import { secretPath, service, type Base, type SecretName, type ServiceSpec } from "./spec";

/** tecnativa/docker-socket-proxy 0.3.0 inherits haproxy:2.2-alpine's ENTRYPOINT and CMD. */
export const SOCKET_PROXY_ENTRYPOINT = ["docker-entrypoint.sh", "haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"] as const;
export interface EdgeTier {
  readonly socketProxy: ServiceSpec;
  readonly traefik: ServiceSpec;
}

export function edgeTier(base: Base): EdgeTier {
  const { config, plan } = base;
  const dnsChallenge = config.edge.tls === "acme" && config.edge.acme?.challenge === "dns-cloudflare";
  const secrets: SecretName[] = [...(dnsChallenge ? (["cloudflare-dns-token"] as const) : []), ...(config.edge.dashboard ? (["traefik-dashboard-users"] as const) : [])];
  return {
    socketProxy: service(base, "socket-proxy", {
      name: "docker-socket-proxy",
      image: config.images.socketProxy,
      replicas: 1,
      // The Swarm API answers on managers only; one proxy per manager.
      global: true,
      placement: { constraints: ["node.role == manager"], spread: [] },
      entrypoint: SOCKET_PROXY_ENTRYPOINT,
      // Read-only: exactly the endpoints Traefik's Swarm provider reads.
      env: { SERVICES: "1", TASKS: "1", NETWORKS: "1", NODES: "1", INFO: "1", VERSION: "1", PING: "1", EVENTS: "1", CONTAINERS: "0", POST: "0" },
      secrets: [],
      scripts: [],
      mounts: [{ source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true }],
    }),
    traefik: service(base, "traefik", {
      name: "traefik",
      image: config.images.traefik,
      replicas: edgeHostNames(config).length,
      placement: { constraints: ["node.role == manager", ...plan.placement.traefik], spread: [], maxReplicasPerNode: 1 },
      env: dnsChallenge ? { CF_DNS_API_TOKEN_FILE: secretPath("cloudflare-dns-token") } : {},
      secrets,
      scripts: [],
      files: [{ file: "traefik-dynamic.yml", target: TRAEFIK_DYNAMIC_PATH }],
      mounts: [{ source: `${config.storage.appDataPath}/traefik`, target: ACME_DIR, readOnly: false }],
      args: traefikArgs(config),
      healthcheck: {
        test: ["CMD", "traefik", "healthcheck", "--ping", "--ping.entrypoint=metrics", `--entrypoints.metrics.address=:${TRAEFIK_PORTS.metrics}`],
        interval: "10s",
        timeout: "5s",
        retries: 3,
        startPeriod: "20s",
      },
      hostPorts: [
        { target: TRAEFIK_PORTS.web, published: TRAEFIK_PORTS.web },
        { target: TRAEFIK_PORTS.websecure, published: TRAEFIK_PORTS.websecure },
      ],
    }),
  };
}
