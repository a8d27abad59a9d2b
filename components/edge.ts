// The edge: the read-only Docker socket proxy, Traefik on the labelled managers,
// and (when the stack enables it) Cloudflare DNS, cache rules and zone settings.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { edgeHosts } from "../domain/catalogue";
import type { CloudflareEdgeInput } from "../topology/cloudflare-plan";
import type { ServiceSpec } from "../topology/services";
import { CloudflareEdge } from "./cloudflare-edge";
import { SwarmService, type SwarmServiceRefs } from "./swarm-service";

export interface EdgeArgs {
  readonly config: StackConfig;
  readonly specs: readonly ServiceSpec[];
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  readonly cloudflareApiToken?: pulumi.Output<string>;
}

/** What Cloudflare gets: the app host name, pointing at every edge node's public address. */
export function cloudflareInput(config: StackConfig): CloudflareEdgeInput | undefined {
  const cloudflare = config.cloudflare;
  if (!cloudflare.enabled || cloudflare.zone === undefined) return undefined;
  return {
    zone: cloudflare.zone,
    hostnames: [config.app.hostname],
    edgeAddresses: edgeHosts(config.hosts)
      .map((h) => h.publicAddress)
      .filter((a): a is string => a !== undefined),
    staticCacheTtlSeconds: cloudflare.staticCacheTtlSeconds,
    imageCacheTtlSeconds: cloudflare.imageCacheTtlSeconds,
  };
}

export class Edge extends pulumi.ComponentResource {
  readonly traefik: SwarmService;
  readonly cloudflare?: CloudflareEdge;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:edge:Edge", name, {}, opts);
    const spec = (serviceName: string): ServiceSpec => {
      const found = args.specs.find((s) => s.name === serviceName);
      if (!found) throw new Error(`the plan has no ${serviceName} service`);
      return found;
    };
    const proxy = new SwarmService("docker-socket-proxy", { ...args.refs, spec: spec("docker-socket-proxy"), provider: args.provider }, { parent: this });
    this.traefik = new SwarmService("traefik", { ...args.refs, spec: spec("traefik"), provider: args.provider }, { parent: this, dependsOn: [proxy] });
    const input = cloudflareInput(args.config);
    if (input) {
      if (!args.cloudflareApiToken) throw new Error("cloudflare.enabled needs medianest:cloudflareApiToken");
      this.cloudflare = new CloudflareEdge("cloudflare", { input, apiToken: args.cloudflareApiToken }, { parent: this, dependsOn: [this.traefik] });
    }
    this.registerOutputs({});
  }
}
