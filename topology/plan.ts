// Config → topology plan: who leads, who manages, who works, with which labels,
// in what join order, on which overlay subnets. Plain data, no Pulumi: the
// components, the policies and the lab all consume this one plan.
import { placementOptions, type StackConfig } from "../config/schema";
import { OVERLAY_NETWORKS, type OverlayNetworkKey } from "../domain/networks";
import { placementRequirements } from "../domain/catalogue";
import { encodeNodeLabels, hostsMatching, labelConstraint, labelEncodingFor, type LabelEncoding } from "../domain/labels";
import { firstHost, parseIpv4Cidr } from "../domain/cidr";
import { PlanError } from "./plan-error";

export type NodeRole = "manager" | "worker";

export interface PlannedNode {
  readonly name: string;
  readonly address: string;
  readonly role: NodeRole;
  readonly isLeader: boolean;
  readonly cpus: number;
  readonly memoryGb: number;
  /** Node labels exactly as they are applied to the Swarm node. */
  readonly labels: Readonly<Record<string, string>>;
  readonly availability: "active" | "pause" | "drain";
  /** hosts[].releaseStateful: it may be drained, paused or removed although it holds single-instance data. */
  readonly releaseStateful: boolean;
  readonly advertiseAddress: string;
  /** Bound to the node's own address, never 0.0.0.0. */
  readonly listenAddress: string;
  /** Empty when data traffic shares the advertise address. */
  readonly dataPathAddress: string;
  readonly ssh: { readonly user: string; readonly port: number; readonly hostKey?: string; readonly sudo: boolean };
}

export interface PlannedSubnet {
  readonly key: OverlayNetworkKey;
  readonly name: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly internal: boolean;
  readonly encrypted: boolean;
  readonly attachable: boolean;
}

export interface TopologyPlan {
  readonly leader: PlannedNode;
  /** Managers other than the leader, in the order they join (one after another, to keep quorum safe). */
  readonly joiningManagers: readonly PlannedNode[];
  /** Workers; they join once every manager is in. */
  readonly workers: readonly PlannedNode[];
  /** Every node, in config order. */
  readonly nodes: readonly PlannedNode[];
  readonly subnets: readonly PlannedSubnet[];
  readonly labelEncoding: LabelEncoding;
  /** Placement constraints per service of the catalogue. */
  readonly placement: Readonly<Record<string, readonly string[]>>;
}

export function planTopology(config: StackConfig): TopologyPlan {
  const labelEncoding = labelEncodingFor(config.hosts.map((h) => h.labels));
  const nodes: PlannedNode[] = config.hosts.map((host) => ({
    name: host.name,
    address: host.address,
    role: host.role,
    isLeader: host.name === config.swarm.leader,
    cpus: host.cpus,
    memoryGb: host.memoryGb,
    labels: encodeNodeLabels(host.labels, labelEncoding),
    availability: host.availability,
    releaseStateful: host.releaseStateful,
    advertiseAddress: host.address,
    listenAddress: host.address,
    dataPathAddress: host.dataPathAddress ?? "",
    ssh: { user: host.sshUser, port: host.sshPort, sudo: host.sudo, ...(host.hostKey ? { hostKey: host.hostKey } : {}) },
  }));
  const leader = nodes.find((n) => n.isLeader);
  if (!leader) throw new PlanError(`medianest:swarm.leader: "${config.swarm.leader}" is not among the hosts`);

  const attachable = new Set(config.network.attachable);
  const subnets: PlannedSubnet[] = OVERLAY_NETWORKS.map((network) => {
    const cidr = parseIpv4Cidr(config.network.subnets[network.key]);
    return {
      key: network.key,
      name: network.name,
      subnet: cidr.text,
      gateway: firstHost(cidr),
      internal: network.internal,
      encrypted: config.network.encrypted,
      attachable: attachable.has(network.key),
    };
  });

  const placement: Record<string, readonly string[]> = {};
  for (const requirement of placementRequirements(placementOptions(config))) {
    const labelConstraints = Object.entries(requirement.labels).map(([k, v]) => labelConstraint(k, v, labelEncoding));
    const workerCarriesLabels = hostsMatching(config.hosts.filter((h) => h.role === "worker"), requirement.labels).length > 0;
    placement[requirement.service] = requirement.preferWorkers && workerCarriesLabels ? ["node.role == worker", ...labelConstraints] : labelConstraints;
  }

  return {
    leader,
    joiningManagers: nodes.filter((n) => n.role === "manager" && !n.isLeader),
    workers: nodes.filter((n) => n.role === "worker"),
    nodes,
    subnets,
    labelEncoding,
    placement,
  };
}
