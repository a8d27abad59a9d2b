// Networks: the five overlay networks with the planned subnets.
// docker.Network replaces on any input change (every field is ForceNew in
// terraform-provider-docker v4.5.0 resource_docker_network.go), so inputs are derived
// only from the plan and must equal what the provider reads back
// (resourceDockerNetworkReadRefreshFunc). A changed network (subnet, internal,
// encryption) is a migration, not an update: see the README.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { OverlayNetworkKey } from "../domain/networks";
import type { PlannedSubnet } from "../topology/plan";

export interface NetworksArgs {
  readonly subnets: readonly PlannedSubnet[];
  readonly provider: docker.Provider;
  /** The swarm must exist before an overlay can be created. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * Network inputs the engine would otherwise keep diffing. The provider stores the
 * engine's whole options map, and the engine adds the VXLAN ids it allocates
 * (`com.docker.network.driver.overlay.vxlanid_list`) to every swarm overlay: an
 * `encrypted` option alone then differs from what is stored on every run, and `options`
 * is replace-on-change. The encryption asked for at create is checked against the stored
 * options instead (checkEncryption).
 */
export const NETWORK_IGNORE_CHANGES = ["options"] as const;

/** The docker.Network inputs for one planned subnet (pure; reused by the lab). */
export function overlayNetworkArgs(subnet: PlannedSubnet): docker.NetworkArgs {
  return {
    name: subnet.name,
    driver: "overlay",
    attachable: subnet.attachable,
    internal: subnet.internal,
    ipamConfigs: [{ subnet: subnet.subnet, gateway: subnet.gateway }],
    // `--opt encrypted` is stored as an empty string. No options at all when unencrypted:
    // options is Optional+Computed, so an absent map keeps what the engine stored.
    ...(subnet.encrypted ? { options: { encrypted: "" } } : {}),
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
    const checked: pulumi.Output<string>[] = [];
    for (const subnet of args.subnets) {
      const network = new docker.Network(subnet.name, overlayNetworkArgs(subnet), {
        parent: this,
        provider: args.provider,
        dependsOn: args.dependsOn,
        ignoreChanges: [...NETWORK_IGNORE_CHANGES],
      });
      networks.set(subnet.key, network);
      // Services attach only after the live network is known to be as encrypted as planned.
      checked.push(pulumi.all([network.id, network.options]).apply(([id, options]) => checkEncryption(subnet, options ?? {}, id)));
    }
    this.networks = networks;
    const keys = [...networks.keys()];
    this.ids = pulumi.all(checked).apply((ids) => Object.fromEntries(keys.map((key, i) => [key, ids[i]])) as Record<OverlayNetworkKey, string>);
    this.registerOutputs({ ids: this.ids });
  }
}

export class NetworkMigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkMigrationError";
  }
}

/**
 * The stored options of an existing network against the plan: encryption cannot change in
 * place (a new network is a migration of every service on it). Returns the id when they
 * agree. During a preview of a new network the options are not known yet.
 */
export function checkEncryption(subnet: PlannedSubnet, storedOptions: Readonly<Record<string, string>>, id: string): string {
  if (Object.keys(storedOptions).length === 0) return id;
  const encrypted = "encrypted" in storedOptions;
  if (encrypted !== subnet.encrypted) {
    throw new NetworkMigrationError(
      `medianest:network.encrypted: ${subnet.name} exists ${encrypted ? "encrypted" : "unencrypted"}, the config asks for ${subnet.encrypted ? "encryption" : "none"}; ` +
        "an overlay's encryption cannot change in place: set it back, or migrate the network (README, \"Changing a network\")",
    );
  }
  return id;
}
