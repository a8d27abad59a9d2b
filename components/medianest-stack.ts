// The whole installation: hosts prepared, swarm formed, overlay networks created.
// Later layers (data, app, edge, monitoring) hang off the provider and networks.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigSecrets } from "../config/load";
import type { StackConfig } from "../config/schema";
import { planServices } from "../topology/services";
import { generatedFiles } from "../topology/generated-files";
import { SECRET_SOURCES } from "../topology/secret-sources";
import type { OverlayNetworkKey } from "../domain/networks";
import type { PlannedNode, TopologyPlan } from "../topology/plan";
import { leaderDockerProvider } from "./docker-provider";
import { Host } from "./host";
import { Networks } from "./networks";
import type { ScriptTarget } from "./script-command";
import { Swarm } from "./swarm";
import { DataServices } from "./data-services";
import { MediaNestApp } from "./medianest-app";
import { ObjectStorage } from "./object-storage";
import { ServiceConfigs } from "./service-configs";
import { Edge } from "./edge";
import { Monitoring } from "./monitoring";
import { PreDeployBackup } from "./predeploy-backup";
import { SwarmSecrets } from "./swarm-secrets";
import type { SwarmServiceRefs } from "./swarm-service";

export interface MediaNestStackArgs {
  readonly config: StackConfig;
  readonly plan: TopologyPlan;
  readonly secrets: ConfigSecrets;
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
  readonly serviceNames: pulumi.Output<string[]>;
  readonly buckets: pulumi.Output<Record<"media" | "thumbnails" | "backups", string>>;

  constructor(name: string, args: MediaNestStackArgs, opts?: pulumi.ComponentResourceOptions) {
    // Stack-wide facts for policies: which environment, how many users it is sized for.
    super("medianest:stack:MediaNest", name, { environment: args.config.environment, expectedUsers: args.config.capacity.expectedUsers }, opts);
    const { config, plan } = args;
    const sshPrivateKey = args.secrets.sshPrivateKey;
    const targets = new Map(plan.nodes.map((node) => [node.name, scriptTarget(config, node, sshPrivateKey)]));
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
      { connection: config.connection, leader: plan.leader, sshPrivateKey, swarmReady: swarm.formed },
      { parent: this, dependsOn: swarm.ready },
    );
    this.networks = new Networks("overlays", { subnets: plan.subnets, provider: this.provider, dependsOn: swarm.ready }, { parent: this });

    // Services: secrets and config files first, then storage, data, app, edge, monitoring.
    const specs = planServices(config, plan);
    const provider = this.provider;
    const secrets = new SwarmSecrets("secrets", { provider }, { parent: this, dependsOn: swarm.ready });
    const fromConfig = args.secrets;
    const needed = new Set(specs.flatMap((s) => s.secrets));
    for (const name of [...needed].sort()) {
      const source = SECRET_SOURCES[name];
      if (source.kind === "generated") secrets.generated(name, fromConfig[source.configKey], source.length);
      if (source.kind === "config") {
        const value = fromConfig[source.configKey];
        if (!value) throw new Error(`secret ${name} needs medianest:${source.configKey}`);
        secrets.fromValue(name, value);
      }
    }
    const configs = new ServiceConfigs(
      "configs",
      { provider, scripts: specs.flatMap((s) => s.scripts), files: generatedFiles(config, plan, specs) },
      { parent: this, dependsOn: swarm.ready },
    );
    const refs = (): SwarmServiceRefs => ({ networkIds: this.networks.ids, secrets: secrets.refs(), configs: configs.refs });
    const edge = new Edge(
      "edge",
      { config, specs, provider, refs: refs(), cloudflareApiToken: fromConfig.cloudflareApiToken },
      { parent: this, dependsOn: [this.networks] },
    );
    const storage = new ObjectStorage(
      "object-storage",
      { config, plan, provider, specs, secrets, refs, configSecrets: fromConfig, edgeReady: [edge.traefik] },
      { parent: this, dependsOn: [this.networks] },
    );
    const data = new DataServices("data", { specs, provider, refs: refs(), storageReady: storage.ready }, { parent: this, dependsOn: [this.networks] });
    const backup = config.deployment.preDeployBackup
      ? new PreDeployBackup("predeploy-backup", { config, plan, specs, targets, dependsOn: [data] }, { parent: this }).done
      : [];
    const app = new MediaNestApp(
      "app",
      { specs, provider, refs: refs(), dependsOn: [...data.ready, ...storage.ready, ...backup] },
      { parent: this, dependsOn: [this.networks] },
    );
    new Monitoring("monitoring", { specs, provider, refs: refs(), dataReady: data.ready }, { parent: this, dependsOn: [this.networks, app] });
    this.serviceNames = pulumi.output(specs.map((s) => s.name));
    this.buckets = storage.buckets;

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
      serviceNames: this.serviceNames,
      clusterId: this.clusterId,
      unlockKey: this.unlockKey,
    });
  }
}
