// images.build: the app images built from a local checkout by the stack's own Docker
// daemon (the single node, over the docker provider's connection), never pushed. A
// service then runs the image by its ID: content-addressed, so a new build is a new ID
// and a rollout, the same build is no change. pulumi-docker's Image (provider/image.go
// dockerBuild, read at v5.1.0; the 5.2.0 SDK documents the same) tars the context here,
// builds on the provider's daemon and, with skipPush, sets repoDigest to the local image's
// ID (ImageInspect(...).ID); its Check adds build.contextDigest (hashContext over the
// context and Dockerfile), so it rebuilds only when the checkout changes. Swarm pulls
// nothing for an image ID, which is why config allows this on one node only (config rule
// app-images-source).
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { LocalImagePlan } from "../topology/stack-plan";

export interface LocalAppImagesArgs {
  readonly images: readonly LocalImagePlan[];
  readonly provider: docker.Provider;
}

export class LocalAppImages extends pulumi.ComponentResource {
  /** The built image's ID by the name config and plan use for it. */
  readonly ids: ReadonlyMap<string, pulumi.Output<string>>;

  constructor(name: string, args: LocalAppImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:app:LocalAppImages", name, {}, opts);
    const ids = new Map<string, pulumi.Output<string>>();
    for (const plan of args.images) {
      const tier = plan.name.replace(/^medianest-local\//, "").replace(/:.*$/, "");
      const image = new docker.Image(
        `image-${tier}`,
        {
          imageName: plan.name,
          skipPush: true,
          build: {
            context: plan.context,
            dockerfile: plan.dockerfile,
            ...(plan.target ? { target: plan.target } : {}),
            ...(Object.keys(plan.args).length > 0 ? { args: { ...plan.args } } : {}),
          },
        },
        { parent: this, provider: args.provider },
      );
      ids.set(plan.name, image.repoDigest);
    }
    this.ids = ids;
    this.registerOutputs({ images: [...ids.keys()] });
  }
}
