// Networks: the spec's five overlay networks with the planned subnets.
// docker.Network replaces on any input change, so inputs are derived only from
// the plan and stay stable between runs.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { OverlayNetworkKey } from "../topology/networks";
import type { PlannedSubnet } from "../topology/plan";

export interface NetworksArgs {
  readonly subnets: readonly PlannedSubnet[];
  readonly provider: docker.Provider;
  /** The swarm must exist before an overlay can be created. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** The docker.Network inputs for one planned subnet (pure; reused by the lab). */
export function overlayNetworkArgs(subnet: PlannedSubnet): docker.NetworkArgs {
  return {
    name: subnet.name,
    driver: "overlay",
    attachable: subnet.attachable,
    internal: subnet.internal,
    ipamConfigs: [{ subnet: subnet.subnet, gateway: subnet.gateway }],
    // The engine reports `--opt encrypted` as an empty string; match it to avoid diffs.
    options: subnet.encrypted ? { encrypted: "" } : {},
    labels: [
      { label: "com.medianest.network", value: subnet.key },
      { label: "com.medianest.managed-by", value: "pulumi" },
    ],
  };
}

export class Networks extends pulumi.ComponentResource {
  /** Network ids by key: services attach by id (attaching by name causes perpetual replaces). */
  readonly ids: pulumi.Output<Record<OverlayNetworkKey, string>>;
  readonly networks: ReadonlyMap<OverlayNetworkKey, docker.Network>;

  constructor(name: string, args: NetworksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:network:Networks", name, {}, opts);
    const networks = new Map<OverlayNetworkKey, docker.Network>();
    for (const subnet of args.subnets) {
      networks.set(
        subnet.key,
        new docker.Network(subnet.name, overlayNetworkArgs(subnet), { parent: this, provider: args.provider, dependsOn: args.dependsOn }),
      );
    }
    this.networks = networks;
    this.ids = pulumi.all(Object.fromEntries([...networks].map(([key, network]) => [key, network.id]))) as pulumi.Output<
      Record<OverlayNetworkKey, string>
    >;
    this.registerOutputs({ ids: this.ids });
  }
}
