// The rolling timeline's first step: back the database up before new app
// images roll out. A command on each host that may run the database re-runs
// exactly when an app image changes (the images are its arguments, so a change is
// an update of the command, never a replace); the app services wait for it.
import * as pulumi from "@pulumi/pulumi";
import type { PreDeployBackupPlan } from "../topology/stack-plan";
import { runScript, type ScriptTarget } from "./script-command";

export interface PreDeployBackupArgs {
  readonly plan: PreDeployBackupPlan;
  readonly targets: ReadonlyMap<string, ScriptTarget>;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class PreDeployBackup extends pulumi.ComponentResource {
  readonly done: pulumi.Resource[];

  constructor(name: string, args: PreDeployBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:deploy:PreDeployBackup", name, {}, opts);
    this.done = args.plan.hosts.map((host) => {
      const target = args.targets.get(host);
      if (!target) throw new pulumi.ResourceError(`no script target for host ${host}`, this);
      return runScript(`${name}-${host}`, { target, call: args.plan.call }, { parent: this, dependsOn: args.dependsOn }).resource;
    });
    this.registerOutputs({ hosts: [...args.plan.hosts] });
  }
}
