// The data tier's Swarm services: Postgres (primary, then streaming replicas
// that bootstrap from it), Redis (master, replicas following it, Sentinels
// monitoring it) and the scheduled backups. Order matters at creation: replicas
// need a running primary or master to copy from.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../topology/services";
import { SwarmService, type SwarmServiceRefs } from "./swarm-service";

export interface DataServicesArgs {
  readonly specs: readonly ServiceSpec[];
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** Object storage must be ready before the backup uploader starts. */
  readonly storageReady: pulumi.Input<pulumi.Resource>[];
}

export class DataServices extends pulumi.ComponentResource {
  readonly services: ReadonlyMap<string, SwarmService>;
  /** Services the app depends on (Postgres primary, Redis master). */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: DataServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:data:DataServices", name, {}, opts);
    const services = new Map<string, SwarmService>();
    const create = (spec: ServiceSpec, dependsOn: pulumi.Input<pulumi.Resource>[]): SwarmService => {
      const created = new SwarmService(spec.name, { ...args.refs, spec, provider: args.provider }, { parent: this, dependsOn });
      services.set(spec.name, created);
      return created;
    };
    const byRole = (role: ServiceSpec["role"]) => args.specs.filter((s) => s.role === role);
    const one = (serviceName: string): ServiceSpec => {
      const spec = args.specs.find((s) => s.name === serviceName);
      if (!spec) throw new Error(`the plan has no ${serviceName} service`);
      return spec;
    };

    const primary = create(one("postgres-primary"), []);
    for (const replica of byRole("postgres-replica")) create(replica, [primary]);

    const master = create(one("redis-master"), []);
    const redisReplicas = args.specs.filter((s) => s.name === "redis-replica").map((spec) => create(spec, [master]));
    for (const sentinel of byRole("redis-sentinel")) create(sentinel, [master, ...redisReplicas]);

    const dumper = create(one("postgres-backup"), [primary]);
    create(one("backup-upload"), [dumper, ...args.storageReady]);

    this.services = services;
    this.ready = [primary, master];
    this.registerOutputs({ services: [...services.keys()] });
  }
}
