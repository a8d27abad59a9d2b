// The whole installation, wired from the stack plan: hosts prepared, swarm formed,
// overlay networks, secrets and config files, then object storage, the data tier,
// the pre-deploy backup, the app, the edge and monitoring. Nothing is decided here:
// each component gets its section of the plan and creates exactly that.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigSecrets } from "../config/load";
import type { OverlayNetworkKey } from "../domain/networks";
import type { PlannedNode } from "../topology/plan";
import { servicesOf, type SecretName } from "../topology/services";
import type { BucketKey, DeclaredSecret, StackPlan } from "../topology/stack-plan";
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
import { SchemaMigration } from "./schema-migration";
import { LocalAppImages } from "./local-images";
import { SwarmSecrets, type SecretValue } from "./swarm-secrets";
import type { SwarmServiceRefs } from "./swarm-service";

export interface MediaNestStackArgs {
  readonly plan: StackPlan;
  readonly secrets: ConfigSecrets;
}

export function scriptTarget(connection: StackPlan["config"]["connection"], node: PlannedNode, sshPrivateKey?: pulumi.Output<string>): ScriptTarget {
  if (connection === "local") return { kind: "local", sudo: node.ssh.sudo };
  if (!sshPrivateKey) throw new pulumi.RunError("medianest:sshPrivateKey is required for the ssh connection: pulumi config set --secret medianest:sshPrivateKey < ~/.ssh/id_ed25519");
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

/**
 * Each declared secret's value. Object storage's are deferred: the secrets exist before
 * the MinIO service that mounts some of them, the users' keys only after it.
 */
function secretValues(declared: readonly DeclaredSecret[], fromConfig: ConfigSecrets) {
  const values = new Map<SecretName, SecretValue>();
  const deferred = new Map<SecretName, (source: pulumi.Output<string>) => void>();
  for (const { name, source } of declared) {
    if (source.kind === "generated") {
      const configValue = fromConfig[source.configKey];
      values.set(name, { kind: "generated", length: source.length, appSafe: source.appSafe ?? false, ...(configValue ? { fromConfig: configValue } : {}) });
    } else if (source.kind === "derived") {
      values.set(name, source);
    } else if (source.kind === "app-config") {
      const value = fromConfig.appSecrets?.[source.file];
      if (!value) throw new pulumi.RunError(`secret ${name} needs medianest:appSecrets.${source.file}: pulumi config set --secret --path 'medianest:appSecrets.${source.file}' <value>`);
      values.set(name, { kind: "given", value });
    } else if (source.kind === "config") {
      const value = fromConfig[source.configKey];
      if (!value) throw new pulumi.RunError(`secret ${name} needs medianest:${source.configKey}: set it with pulumi config set --secret medianest:${source.configKey}`);
      values.set(name, { kind: "given", value });
    } else {
      const [value, resolve] = pulumi.deferredOutput<string>();
      values.set(name, { kind: "given", value });
      deferred.set(name, resolve);
    }
  }
  return { values, deferred };
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
  readonly buckets: pulumi.Output<Record<BucketKey, string>>;

  constructor(name: string, args: MediaNestStackArgs, opts?: pulumi.ComponentResourceOptions) {
    const { plan } = args;
    const { config, topology, services } = plan;
    // Stack-wide facts for policies: which environment, how many users it is sized for.
    super("medianest:stack:MediaNest", name, { environment: config.environment, expectedUsers: config.capacity.expectedUsers }, opts);
    const fromConfig = args.secrets;
    const targets = new Map(topology.nodes.map((node) => [node.name, scriptTarget(config.connection, node, fromConfig.sshPrivateKey)]));
    const targetOf = (host: string): ScriptTarget => targets.get(host) as ScriptTarget;
    const hosts = new Map(plan.hosts.map((host) => [host.node.name, new Host(host.node.name, { plan: host, target: targetOf(host.node.name) }, { parent: this })]));
    const swarm = new Swarm(
      "swarm",
      {
        plan: topology,
        autolock: plan.swarm.autolock,
        drainTimeoutSeconds: plan.swarm.drainTimeoutSeconds,
        statefulServices: plan.swarm.statefulServices,
        targets,
        hosts,
      },
      { parent: this },
    );
    this.provider = leaderDockerProvider(
      "leader-docker",
      { connection: config.connection, leader: topology.leader, sshPrivateKey: fromConfig.sshPrivateKey, swarmReady: swarm.formed },
      { parent: this, dependsOn: swarm.ready },
    );
    const provider = this.provider;
    this.networks = new Networks("overlays", { subnets: topology.subnets, provider, dependsOn: swarm.ready }, { parent: this });

    // Services: secrets and config files first, then storage, data, app, edge, monitoring.
    const { values, deferred } = secretValues(plan.secrets, fromConfig);
    const secrets = new SwarmSecrets("secrets", { provider, secrets: values }, { parent: this, dependsOn: swarm.ready });
    const configs = new ServiceConfigs("configs", { provider, ...plan.configFiles }, { parent: this, dependsOn: swarm.ready });
    const builtImages = plan.localImages.length > 0 ? new LocalAppImages("local-images", { images: plan.localImages, provider }, { parent: this, dependsOn: swarm.ready }).ids : new Map<string, pulumi.Output<string>>();
    const refs: SwarmServiceRefs = { networkIds: this.networks.ids, secrets: secrets.refs, configs: configs.refs, builtImages };
    const afterNetworks = { parent: this, dependsOn: [this.networks] };

    const edge = new Edge(
      "edge",
      { tier: services.edge, plan: plan.edge, provider, refs, ...(fromConfig.cloudflareApiToken ? { cloudflareApiToken: fromConfig.cloudflareApiToken } : {}) },
      afterNetworks,
    );
    const storage = new ObjectStorage(
      "object-storage",
      {
        plan: plan.storage,
        provider,
        refs,
        ...(values.has("minio-root-password") ? { rootPassword: secrets.value("minio-root-password") } : {}),
        edgeReady: [edge.traefik],
      },
      afterNetworks,
    );
    for (const [secretName, resolve] of deferred) {
      const value = storage.secretValues.get(secretName);
      if (!value) throw new pulumi.ResourceError(`secret ${secretName} is declared from object storage, which does not create it`, storage);
      resolve(value);
    }
    const data = new DataServices("data", { data: services.data, backup: services.backup, provider, refs, storageReady: storage.ready }, afterNetworks);
    const backup = plan.predeployBackup
      ? new PreDeployBackup("predeploy-backup", { plan: plan.predeployBackup, targets, builtImages, dependsOn: [data] }, { parent: this }).done
      : [];
    const migrationSecret = secrets.refs.get(plan.migration.secret);
    if (!migrationSecret) throw new pulumi.ResourceError(`the migration needs secret ${plan.migration.secret}, which the plan does not declare`, this);
    const migration = new SchemaMigration(
      "schema-migration",
      { plan: plan.migration, target: targetOf(plan.migration.host), secret: migrationSecret, builtImages, dependsOn: [secrets, this.networks, ...data.ready, ...backup] },
      { parent: this },
    );
    const app = new MediaNestApp("app", { tier: services.app, provider, refs, dependsOn: [...data.ready, ...storage.ready, ...backup], backendsAfter: [migration.done] }, afterNetworks);
    if (services.monitoring) {
      new Monitoring("monitoring", { tier: services.monitoring, provider, refs, dataReady: data.ready }, { parent: this, dependsOn: [this.networks, app] });
    }
    this.serviceNames = pulumi.output(servicesOf(services).map((s) => s.name));
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
