// Host: prepares one server for the swarm (OS check, Docker Engine, daemon.json,
// data directories, NFS media share, firewall). Each step is one of our scripts,
// run in order; every script is idempotent, so re-running on a prepared host
// changes nothing.
import * as pulumi from "@pulumi/pulumi";
import { hostStepResourceName } from "../topology/host-steps";
import type { HostPlan } from "../topology/stack-plan";
import { runScript, type ScriptTarget } from "./script-command";

export interface HostArgs {
  readonly plan: HostPlan;
  readonly target: ScriptTarget;
}

export class Host extends pulumi.ComponentResource {
  readonly hostName: string;
  readonly address: pulumi.Output<string>;
  /** The last preparation step: depend on it to run after the host is ready. */
  readonly ready: pulumi.Resource;
  /** Each step's output (ok:/changed: lines), by step id. */
  readonly stepOutputs: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    // The node's role, size and labels are the component's inputs: policies and the
    // compliance report read them from the resource graph (scheduling check).
    const { node, steps } = args.plan;
    super("medianest:host:Host", name, { address: node.address, role: node.role, cpus: node.cpus, memoryGb: node.memoryGb, labels: node.labels }, opts);
    let previous: pulumi.Resource | undefined;
    const outputs: Record<string, pulumi.Output<string>> = {};
    for (const step of steps) {
      const run = runScript(hostStepResourceName(node.name, step.id), { call: step.call, ...(step.onDelete ? { onDelete: step.onDelete } : {}), target: args.target }, {
        parent: this,
        dependsOn: previous ? [previous] : [],
      });
      outputs[step.id] = run.stdout;
      previous = run.resource;
    }
    if (!previous) throw new pulumi.ResourceError(`host ${node.name}: no preparation steps`, this);
    this.hostName = node.name;
    this.address = pulumi.output(node.address);
    this.ready = previous;
    this.stepOutputs = pulumi.all(outputs);
    this.registerOutputs({ hostName: this.hostName, address: this.address, stepOutputs: this.stepOutputs });
  }
}
