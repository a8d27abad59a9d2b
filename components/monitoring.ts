// Monitoring on monitor-net: Prometheus (targets by tasks.<service> DNS), its
// generated alert rules, Alertmanager, Grafana (provisioned, reachable through
// Traefik from the management networks only), node-exporter and cAdvisor on
// every node, and the Postgres and Redis exporters.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { MonitoringTier, ServiceSpec } from "../topology/services";
import { SwarmService, createdServiceNames, type CreatedServices, type SwarmServiceRefs } from "./swarm-service";

export interface MonitoringArgs {
  readonly tier: MonitoringTier;
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** The exporters need the data services they watch. */
  readonly dataReady: pulumi.Input<pulumi.Resource>[];
}

export class Monitoring extends pulumi.ComponentResource {
  readonly services: CreatedServices<MonitoringTier>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:monitoring:Monitoring", name, {}, opts);
    const create = (spec: ServiceSpec, dependsOn: pulumi.Input<pulumi.Resource>[] = []) =>
      new SwarmService(spec.name, { ...args.refs, spec, provider: args.provider }, { parent: this, dependsOn });
    const { tier } = args;
    this.services = {
      prometheus: create(tier.prometheus),
      alertmanager: create(tier.alertmanager),
      grafana: create(tier.grafana),
      nodeExporter: create(tier.nodeExporter),
      cadvisor: create(tier.cadvisor),
      postgresExporter: create(tier.postgresExporter, args.dataReady),
      redisExporter: create(tier.redisExporter, args.dataReady),
    };
    this.registerOutputs({ services: createdServiceNames(this.services) });
  }
}
