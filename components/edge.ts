// The edge: the read-only Docker socket proxy, Traefik on the labelled managers,
// and (when the stack enables it) Cloudflare DNS, cache rules and zone settings.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { EdgeTier } from "../topology/services";
import type { EdgePlan } from "../topology/stack-plan";
import { CloudflareEdge } from "./cloudflare-edge";
import { SwarmService, createdServiceNames, type CreatedServices, type SwarmServiceRefs } from "./swarm-service";

export interface EdgeArgs {
  readonly tier: EdgeTier;
  readonly plan: EdgePlan;
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  readonly cloudflareApiToken?: pulumi.Output<string>;
}

export class Edge extends pulumi.ComponentResource {
  readonly services: CreatedServices<EdgeTier>;
  readonly traefik: SwarmService;
  readonly cloudflare?: CloudflareEdge;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:edge:Edge", name, {}, opts);
    const { tier } = args;
    const socketProxy = new SwarmService("docker-socket-proxy", { ...args.refs, spec: tier.socketProxy, provider: args.provider }, { parent: this });
    this.traefik = new SwarmService("traefik", { ...args.refs, spec: tier.traefik, provider: args.provider }, { parent: this, dependsOn: [socketProxy] });
    this.services = { socketProxy, traefik: this.traefik };
    const input = args.plan.cloudflare;
    if (input) {
      if (!args.cloudflareApiToken) throw new pulumi.ResourceError("cloudflare.enabled needs medianest:cloudflareApiToken (set it with --secret)", this);
      this.cloudflare = new CloudflareEdge("cloudflare", { input, apiToken: args.cloudflareApiToken }, { parent: this, dependsOn: [this.traefik] });
    }
    this.registerOutputs({ services: createdServiceNames(this.services), cloudflare: input ? input.hostnames : [] });
  }
}
