// The MediaNest application: backend (API), frontend (Next.js) and media
// workers. The backend comes before the frontend, so a version bump updates the
// API first, as the spec's rolling timeline does.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../topology/services";
import { SwarmService, type SwarmServiceRefs } from "./swarm-service";

export interface MediaNestAppArgs {
  readonly specs: readonly ServiceSpec[];
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** Data services and object storage the app needs. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class MediaNestApp extends pulumi.ComponentResource {
  /** One backend (rolling) or one per color (blue-green). */
  readonly backends: readonly SwarmService[];
  readonly frontend: SwarmService;
  readonly worker: SwarmService;

  constructor(name: string, args: MediaNestAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:app:MediaNestApp", name, {}, opts);
    const spec = (role: ServiceSpec["role"]): ServiceSpec => {
      const found = args.specs.find((s) => s.role === role);
      if (!found) throw new Error(`the plan has no ${role} service`);
      return found;
    };
    const create = (s: ServiceSpec, dependsOn: pulumi.Input<pulumi.Resource>[]) =>
      new SwarmService(s.name, { ...args.refs, spec: s, provider: args.provider }, { parent: this, dependsOn });
    this.backends = args.specs.filter((s) => s.role === "backend").map((s) => create(s, args.dependsOn));
    if (this.backends.length === 0) throw new Error("the plan has no backend service");
    this.worker = create(spec("worker"), args.dependsOn);
    // After the backend: a new version reaches the API first (the spec's rolling timeline).
    this.frontend = create(spec("frontend"), [...this.backends]);
    this.registerOutputs({});
  }
}
