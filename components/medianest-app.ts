// The MediaNest application: backend (API), frontend (Next.js) and media
// workers. The backend comes before the frontend, so a version bump updates the
// API first, as the spec's rolling timeline does.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { AppTier, ServiceSpec } from "../topology/services";
import { SwarmService, createdServiceNames, type CreatedServices, type SwarmServiceRefs } from "./swarm-service";

export interface MediaNestAppArgs {
  readonly tier: AppTier;
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** Data services and object storage the app needs. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
  /** What must finish before a backend task of a new image starts: the schema migration. */
  readonly backendsAfter: pulumi.Input<pulumi.Resource>[];
}

export class MediaNestApp extends pulumi.ComponentResource {
  readonly services: CreatedServices<AppTier>;

  constructor(name: string, args: MediaNestAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:app:MediaNestApp", name, {}, opts);
    const create = (spec: ServiceSpec, dependsOn: pulumi.Input<pulumi.Resource>[]) =>
      new SwarmService(spec.name, { ...args.refs, spec, provider: args.provider }, { parent: this, dependsOn });
    const { tier } = args;
    // One backend (rolling) or one per color (blue-green).
    const backends = tier.backends.map((spec) => create(spec, [...args.dependsOn, ...args.backendsAfter]));
    const worker = tier.worker ? create(tier.worker, [...args.dependsOn, ...args.backendsAfter]) : null;
    // After the backend: a new version reaches the API first (the spec's rolling timeline).
    const frontend = create(tier.frontend, [...backends]);
    this.services = { backends, frontend, worker };
    this.registerOutputs({ services: createdServiceNames(this.services) });
  }
}
