// Host: prepares one server for the swarm (OS check, Docker Engine, daemon.json,
// data directories, NFS media share, firewall). Each step is one of our scripts,
// run in order; every script is idempotent, so re-running on a prepared host
// changes nothing.
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import type { PlannedNode, TopologyPlan } from "../topology/plan";
import { daemonJson, dataDirectoryArgs, firewallArgs, nfsMountArgs } from "../topology/host-setup";
import { runScript, type ScriptCommandArgs, type ScriptTarget } from "./script-command";

export interface HostArgs {
  readonly node: PlannedNode;
  readonly plan: TopologyPlan;
  readonly config: StackConfig;
  readonly target: ScriptTarget;
}

type Step = Omit<ScriptCommandArgs, "target"> & { readonly id: string };

/** A host step's resource name: by host and step, so it is also the owner its delete step checks. */
export const hostStepResourceName = (host: string, step: string): string => `${host}-${step}`;

/** The ordered preparation steps for one host; pure, so tests and the lab can replay them. */
export function hostSteps(args: Omit<HostArgs, "target"> & { readonly connection: "ssh" | "local" }): Step[] {
  const { node, plan, config } = args;
  const setup = config.hostSetup;
  const steps: Step[] = [];
  // The OS check guards the apt-based Docker install; without it any Linux with Docker will do.
  if (setup.installDocker) {
    steps.push({ id: "check-os", script: "host/check-os.sh" });
    steps.push({ id: "install-docker", script: "host/install-docker.sh" });
  }
  // The docker provider talks to the engine as the SSH user: it needs the docker group.
  if (args.connection === "ssh" && node.ssh.user !== "root") {
    steps.push({ id: "docker-access", script: "host/docker-access.sh", args: [node.ssh.user] });
  }
  if (setup.daemonConfig) steps.push({ id: "daemon-config", script: "host/daemon-config.sh", args: [daemonJson(config)] });
  steps.push({ id: "data-dirs", script: "host/data-dirs.sh", args: dataDirectoryArgs(config) });
  const nfsOwner = hostStepResourceName(node.name, "nfs-mount");
  const nfs = nfsMountArgs(config, nfsOwner);
  if (nfs) {
    steps.push({
      id: "nfs-mount",
      script: "host/nfs-mount.sh",
      args: nfs,
      onDelete: { script: "host/nfs-mount.sh", args: ["absent", config.storage.mediaPath, nfsOwner] },
    });
  }
  // The docker provider multiplexes its API calls over one SSH connection to the leader (a manager).
  if (args.connection === "ssh" && node.role === "manager" && setup.sshdMaxSessions !== false) {
    steps.push({ id: "sshd-sessions", script: "host/sshd-sessions.sh", args: [String(setup.sshdMaxSessions)] });
  }
  if (setup.firewall) steps.push({ id: "firewall", script: "host/firewall.sh", args: firewallArgs(config, plan, node) });
  return steps;
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
    const { node } = args;
    super("medianest:host:Host", name, { address: node.address, role: node.role, cpus: node.cpus, memoryGb: node.memoryGb, labels: node.labels }, opts);
    const steps = hostSteps({ ...args, connection: args.target.kind });
    let previous: pulumi.Resource | undefined;
    const outputs: Record<string, pulumi.Output<string>> = {};
    for (const step of steps) {
      const { id, ...invocation } = step;
      const run = runScript(hostStepResourceName(node.name, id), { ...invocation, target: args.target }, {
        parent: this,
        dependsOn: previous ? [previous] : [],
      });
      outputs[id] = run.stdout;
      previous = run.resource;
    }
    if (!previous) throw new Error(`host ${args.node.name}: no preparation steps`);
    this.hostName = args.node.name;
    this.address = pulumi.output(args.node.address);
    this.ready = previous;
    this.stepOutputs = pulumi.all(outputs);
    this.registerOutputs({ hostName: this.hostName, address: this.address, stepOutputs: this.stepOutputs });
  }
}
