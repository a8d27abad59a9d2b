// The whole installation: hosts prepared, swarm formed, overlay networks created.
// Later layers (data, app, edge, monitoring) hang off the provider and networks.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import type { OverlayNetworkKey } from "../topology/networks";
import type { PlannedNode, TopologyPlan } from "../topology/plan";
import { leaderDockerProvider } from "./docker-provider";
import { Host } from "./host";
import { Networks } from "./networks";
import type { ScriptTarget } from "./script-command";
import { Swarm } from "./swarm";

export interface MediaNestStackArgs {
  readonly config: StackConfig;
  readonly plan: TopologyPlan;
  readonly sshPrivateKey?: pulumi.Output<string>;
  /** Stack name, to keep per-run files of concurrent stacks apart. */
  readonly stackName: string;
}

export function scriptTarget(config: StackConfig, node: PlannedNode, sshPrivateKey?: pulumi.Output<string>): ScriptTarget {
  if (config.connection === "local") return { kind: "local", sudo: node.ssh.sudo };
  if (!sshPrivateKey) throw new Error("medianest:sshPrivateKey is required for the ssh connection");
  return {
    kind: "ssh",
    sudo: node.ssh.sudo,
    connection: {
      host: node.address,
      port: node.ssh.port,
      user: node.ssh.user,
      privateKey: sshPrivateKey,
      ...(node.ssh.hostKey ? { hostKey: node.ssh.hostKey } : {}),
      // Bounded: a host that never answers fails the run instead of hanging it.
      dialErrorLimit: 10,
      perDialTimeout: 30,
    },
  };
}

export class MediaNestStack extends pulumi.ComponentResource {
  readonly leaderAddress: pulumi.Output<string>;
  readonly nodeIds: pulumi.Output<Record<string, string>>;
  readonly networkIds: pulumi.Output<Record<OverlayNetworkKey, string>>;
  readonly clusterId: pulumi.Output<string>;
  readonly unlockKey: pulumi.Output<string>;
  readonly workerToken: pulumi.Output<string>;
  readonly managerToken: pulumi.Output<string>;
  readonly provider: docker.Provider;
  readonly networks: Networks;

  constructor(name: string, args: MediaNestStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:stack:MediaNest", name, {}, opts);
    const { config, plan } = args;
    const targets = new Map(plan.nodes.map((node) => [node.name, scriptTarget(config, node, args.sshPrivateKey)]));
    const hosts = new Map(
      plan.nodes.map((node) => {
        const target = targets.get(node.name) as ScriptTarget;
        return [node.name, new Host(node.name, { node, plan, config, target }, { parent: this })];
      }),
    );
    const swarm = new Swarm(
      "swarm",
      { plan, autolock: config.swarm.autolock, drainTimeoutSeconds: config.swarm.drainTimeoutSeconds, targets, hosts },
      { parent: this },
    );
    this.provider = leaderDockerProvider(
      "leader-docker",
      { connection: config.connection, leader: plan.leader, sshPrivateKey: args.sshPrivateKey, scope: args.stackName },
      { parent: this, dependsOn: swarm.ready },
    );
    this.networks = new Networks("overlays", { subnets: plan.subnets, provider: this.provider, dependsOn: swarm.ready }, { parent: this });

    this.leaderAddress = swarm.leaderAddress;
    this.nodeIds = swarm.nodeIds;
    this.networkIds = this.networks.ids;
    this.clusterId = swarm.clusterId;
    this.unlockKey = swarm.unlockKey;
    this.workerToken = swarm.workerToken;
    this.managerToken = swarm.managerToken;
    this.registerOutputs({
      leaderAddress: this.leaderAddress,
      nodeIds: this.nodeIds,
      networkIds: this.networkIds,
      clusterId: this.clusterId,
      unlockKey: this.unlockKey,
    });
  }
}
