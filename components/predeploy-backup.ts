// The rolling timeline's first step: back the database up before new app
// images roll out. A command on each host that may run the database re-runs
// exactly when an app image changes (the images are its arguments, so a change is
// an update of the command, never a replace); the app services wait for it.
import * as pulumi from "@pulumi/pulumi";
import type { PreDeployBackupPlan } from "../topology/stack-plan";
import { scriptCall } from "../scripts/interfaces";
import { runScript, type ScriptTarget } from "./script-command";

export interface PreDeployBackupArgs {
  readonly plan: PreDeployBackupPlan;
  readonly targets: ReadonlyMap<string, ScriptTarget>;
  /** Locally built images' IDs by their plan names (images.build); empty otherwise. */
  readonly builtImages: ReadonlyMap<string, pulumi.Output<string>>;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class PreDeployBackup extends pulumi.ComponentResource {
  readonly done: pulumi.Resource[];

  constructor(name: string, args: PreDeployBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:deploy:PreDeployBackup", name, {}, opts);
    // Built images by their IDs, so a new build re-runs the backup (the list is its trigger).
    const planned = args.plan.args.images as readonly string[];
    const images = planned.some((image) => args.builtImages.has(image))
      ? pulumi.all(planned.map((image) => args.builtImages.get(image) ?? image)).apply((list) => list.join(","))
      : planned;
    const call = scriptCall<"swarm/predeploy-backup.sh", pulumi.Input<string>>("swarm/predeploy-backup.sh", { ...args.plan.args, images });
    this.done = args.plan.hosts.map((host) => {
      const target = args.targets.get(host);
      if (!target) throw new pulumi.ResourceError(`no script target for host ${host}`, this);
      return runScript(`${name}-${host}`, { target, call }, { parent: this, dependsOn: args.dependsOn }).resource;
    });
    this.registerOutputs({ hosts: [...args.plan.hosts] });
  }
}
