// The five overlay networks of the spec ("Overlay Network Topology"), as data.
// Every other module (config defaults, the Networks component, policies, the lab)
// reads them from here.

export const OVERLAY_NETWORK_KEYS = ["frontend", "backend", "database", "storage", "monitor"] as const;
export type OverlayNetworkKey = (typeof OVERLAY_NETWORK_KEYS)[number];

export interface OverlayNetworkSpec {
  readonly key: OverlayNetworkKey;
  /** Docker network name, as the spec names it. */
  readonly name: string;
  readonly defaultSubnet: string;
  /** database-net has no egress at all ("None (isolated)" in the security table). */
  readonly internal: boolean;
  readonly purpose: string;
}

export const OVERLAY_NETWORKS: readonly OverlayNetworkSpec[] = [
  { key: "frontend", name: "frontend-net", defaultSubnet: "10.0.1.0/24", internal: false, purpose: "edge and frontend" },
  { key: "backend", name: "backend-net", defaultSubnet: "10.0.2.0/24", internal: false, purpose: "API and workers" },
  { key: "database", name: "database-net", defaultSubnet: "10.0.3.0/24", internal: true, purpose: "PostgreSQL and Redis" },
  { key: "storage", name: "storage-net", defaultSubnet: "10.0.4.0/24", internal: false, purpose: "S3 gateway" },
  { key: "monitor", name: "monitor-net", defaultSubnet: "10.0.5.0/24", internal: false, purpose: "metrics collection" },
];

/**
 * Swarm's ingress network takes 10.0.0.0/24 unless the swarm was created with
 * another default address pool; an overlay overlapping it breaks routing mesh traffic.
 */
export const SWARM_INGRESS_SUBNET = "10.0.0.0/24";

/** The Docker network name of an overlay, e.g. "database-net". */
export function overlayNetworkName(key: OverlayNetworkKey): string {
  const network = OVERLAY_NETWORKS.find((n) => n.key === key);
  if (!network) throw new Error(`no overlay network ${key}`);
  return network.name;
}
