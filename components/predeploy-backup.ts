// The rolling timeline's first step: back the database up before new app
// images roll out. A command on each host that may run the database re-runs
// exactly when an app image changes (the images are its arguments, so a change is
// an update of the command, never a replace); the app services wait for it.
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { placementRequirementOf } from "../domain/catalogue";
import { hostsMatching } from "../domain/labels";
import type { TopologyPlan } from "../topology/plan";
import { COLORS, type ServiceSpec } from "../topology/services";
import { placementOptions } from "../config/schema";
import { runScript, type ScriptTarget } from "./script-command";

/** The app images whose change re-runs the backup, in a stable order. */
export function appImages(config: StackConfig): string[] {
  const backendImages = config.deployment.strategy === "blue-green" ? COLORS.map((c) => config.deployment.images[c] ?? config.images.backend) : [config.images.backend];
  return [...backendImages, config.images.frontend, config.images.worker];
}

/** Hosts that can run the Postgres primary (and so the backup task next to it). */
export function databaseHosts(config: StackConfig): string[] {
  return hostsMatching(config.hosts, placementRequirementOf("postgres-primary", placementOptions(config)).labels).map((h) => h.name);
}

export interface PreDeployBackupArgs {
  readonly config: StackConfig;
  readonly plan: TopologyPlan;
  readonly specs: readonly ServiceSpec[];
  readonly targets: ReadonlyMap<string, ScriptTarget>;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class PreDeployBackup extends pulumi.ComponentResource {
  readonly done: pulumi.Resource[];

  constructor(name: string, args: PreDeployBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:deploy:PreDeployBackup", name, {}, opts);
    const dumper = args.specs.find((s) => s.name === "postgres-backup");
    const dumpArgs = dumper?.args;
    if (!dumper || !dumpArgs) throw new Error("the plan has no postgres-backup service");
    const images = appImages(args.config).join(",");
    this.done = databaseHosts(args.config).map((host) => {
      const target = args.targets.get(host);
      if (!target) throw new Error(`no script target for host ${host}`);
      return runScript(
        `${name}-${host}`,
        { target, script: "swarm/predeploy-backup.sh", args: [dumper.name, images, ...dumpArgs] },
        { parent: this, dependsOn: args.dependsOn },
      ).resource;
    });
    this.registerOutputs({});
  }
}
