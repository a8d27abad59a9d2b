// Monitoring on monitor-net: Prometheus (targets by tasks.<service> DNS), its
// generated alert rules, Alertmanager, Grafana (provisioned, reachable through
// Traefik from the management networks only), node-exporter and cAdvisor on
// every node, and the Postgres and Redis exporters.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceRole } from "../domain/catalogue";
import type { ServiceSpec } from "../topology/services";
import { SwarmService, type SwarmServiceRefs } from "./swarm-service";

const MONITORING_ROLES: ReadonlySet<ServiceRole> = new Set<ServiceRole>([
  "prometheus",
  "alertmanager",
  "grafana",
  "node-exporter",
  "cadvisor",
  "postgres-exporter",
  "redis-exporter",
]);

export interface MonitoringArgs {
  readonly specs: readonly ServiceSpec[];
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** The exporters need the data services they watch. */
  readonly dataReady: pulumi.Input<pulumi.Resource>[];
}

export class Monitoring extends pulumi.ComponentResource {
  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:monitoring:Monitoring", name, {}, opts);
    for (const spec of args.specs.filter((s) => MONITORING_ROLES.has(s.role))) {
      const dependsOn = spec.role === "postgres-exporter" || spec.role === "redis-exporter" ? args.dataReady : [];
      new SwarmService(spec.name, { ...args.refs, spec, provider: args.provider }, { parent: this, dependsOn });
    }
    this.registerOutputs({});
  }
}
