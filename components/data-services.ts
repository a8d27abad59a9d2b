// The data tier's Swarm services: Postgres (the member configured as primary, then the
// others, which bootstrap from it), Redis (master, replicas following it, Sentinels
// monitoring it) and the scheduled backups. Order matters at creation: replicas
// need a running primary or master to copy from.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { POSTGRES_WRITER } from "../domain/postgres-members";
import type { BackupTier, DataTier, ServiceSpec } from "../topology/services";
import { SwarmService, createdServiceNames, type CreatedServices, type SwarmServiceRefs } from "./swarm-service";

export interface DataServicesArgs {
  readonly data: DataTier;
  readonly backup: BackupTier;
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** Object storage must be ready before the backup uploader starts. */
  readonly storageReady: pulumi.Input<pulumi.Resource>[];
}

export class DataServices extends pulumi.ComponentResource {
  readonly data: CreatedServices<DataTier>;
  readonly backup: CreatedServices<BackupTier>;
  /** Services the app depends on (Postgres primary, the app's Redis address). */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: DataServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:data:DataServices", name, {}, opts);
    const create = (spec: ServiceSpec, dependsOn: pulumi.Input<pulumi.Resource>[]): SwarmService =>
      new SwarmService(spec.name, { ...args.refs, spec, provider: args.provider }, { parent: this, dependsOn });
    const { data, backup } = args;

    // The member configured as primary (the one carrying the writer alias) first; the
    // others clone from it on their first start.
    const members = [data.postgresPrimary, ...data.postgresReplicas];
    const writerSpec = members.find((m) => m.aliases?.database?.includes(POSTGRES_WRITER));
    if (!writerSpec) throw new Error("no Postgres member carries the writer alias");
    const writer = create(writerSpec, []);
    const member = (spec: ServiceSpec) => (spec === writerSpec ? writer : create(spec, [writer]));
    const postgresPrimary = member(data.postgresPrimary);
    const postgresReplicas = data.postgresReplicas.map(member);
    const redisMaster = create(data.redisMaster, []);
    const redisReplica = data.redisReplica ? create(data.redisReplica, [redisMaster]) : null;
    const redisSentinel = data.redisSentinel ? create(data.redisSentinel, [redisMaster, ...(redisReplica ? [redisReplica] : [])]) : null;
    const redisProxy = data.redisProxy ? create(data.redisProxy, [redisMaster, ...(redisReplica ? [redisReplica] : [])]) : null;
    this.data = { postgresPrimary, postgresReplicas, redisMaster, redisReplica, redisSentinel, redisProxy };

    const dump = create(backup.dump, [writer]);
    const upload = create(backup.upload, [dump, ...args.storageReady]);
    this.backup = { dump, upload };

    this.ready = [writer, redisProxy ?? redisMaster];
    this.registerOutputs({ services: [...createdServiceNames(this.data), ...createdServiceNames(this.backup)] });
  }
}
