// The rollout's schema migration: after the data tier and the pre-deploy backup, before any
// backend task of a new image starts, a command on the leader runs the app's migration
// command from each backend image as a one-off Swarm job (scripts/swarm/migrate.sh). The
// images are its arguments, so a new image is an update of the command that runs it again;
// a failed migration fails the command, and the backends, which depend on it, stay as they
// are. The job's output is the command's output, which `pulumi up` shows.
import * as pulumi from "@pulumi/pulumi";
import { scriptCall } from "../scripts/interfaces";
import type { MigrationPlan } from "../topology/stack-plan";
import { runScript, type ScriptTarget } from "./script-command";
import type { SwarmObjectRef } from "./swarm-service";

export interface SchemaMigrationArgs {
  readonly plan: MigrationPlan;
  readonly target: ScriptTarget;
  /** The database URL secret the job mounts. */
  readonly secret: SwarmObjectRef;
  /** Locally built images' IDs by their plan names (images.build); empty otherwise. */
  readonly builtImages: ReadonlyMap<string, pulumi.Output<string>>;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class SchemaMigration extends pulumi.ComponentResource {
  readonly done: pulumi.Resource;

  constructor(name: string, args: SchemaMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:deploy:SchemaMigration", name, {}, opts);
    const images = args.plan.args.images.map((image) => args.builtImages.get(image) ?? image);
    const call = scriptCall<"swarm/migrate.sh", pulumi.Input<string>>("swarm/migrate.sh", { ...args.plan.args, images, secret: args.secret.name });
    // One name whatever the leader: a leader change is an update of the connection, not a new resource.
    this.done = runScript(`${name}-run`, { target: args.target, call }, { parent: this, dependsOn: args.dependsOn }).resource;
    this.registerOutputs({ host: args.plan.host, images: [...args.plan.args.images] });
  }
}
