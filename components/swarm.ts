// Swarm: `swarm init` on the leader, managers joining one after another, then the
// workers; node roles, availability and labels kept in sync from config; a host
// removed from config is drained and removed. Join tokens and the unlock key are
// Pulumi secrets end to end.
import * as pulumi from "@pulumi/pulumi";
import type { PlannedNode, TopologyPlan } from "../topology/plan";
import { runScript, type ScriptTarget } from "./script-command";
import type { Host } from "./host";

export interface SwarmArgs {
  readonly plan: TopologyPlan;
  readonly autolock: boolean;
  readonly drainTimeoutSeconds: number;
  readonly targets: ReadonlyMap<string, ScriptTarget>;
  readonly hosts: ReadonlyMap<string, Host>;
}

interface InitResult {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly workerToken: string;
  readonly managerToken: string;
  readonly unlockKey: string;
}

/** Our swarm scripts print their result as one JSON line, last on stdout. */
export function lastJsonLine<T>(stdout: string, what: string): T {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what}: expected a JSON result line from the script, got ${JSON.stringify(line.slice(0, 200))}`);
  }
}

export function nodeConfigArgs(node: PlannedNode, nodeId: pulumi.Input<string>): pulumi.Input<string>[] {
  return [nodeId, node.role, node.availability, ...Object.entries(node.labels).map(([k, v]) => `${k}=${v}`)];
}

export class Swarm extends pulumi.ComponentResource {
  readonly clusterId: pulumi.Output<string>;
  readonly leaderAddress: pulumi.Output<string>;
  readonly nodeIds: pulumi.Output<Record<string, string>>;
  readonly workerToken: pulumi.Output<string>;
  readonly managerToken: pulumi.Output<string>;
  /** Empty unless autolock is on. */
  readonly unlockKey: pulumi.Output<string>;
  /** Every node configured: depend on it to use the whole swarm. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: SwarmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:swarm:Swarm", name, {}, opts);
    const { plan } = args;
    const targetOf = (node: PlannedNode): ScriptTarget => {
      const target = args.targets.get(node.name);
      if (!target) throw new Error(`no script target for host ${node.name}`);
      return target;
    };
    const hostReady = (node: PlannedNode): pulumi.Resource => {
      const host = args.hosts.get(node.name);
      if (!host) throw new Error(`no Host component for ${node.name}`);
      return host.ready;
    };
    const leader = plan.leader;
    const leaderTarget = targetOf(leader);

    const init = runScript(
      `${name}-init-${leader.name}`,
      {
        target: leaderTarget,
        script: "swarm/init.sh",
        args: [leader.advertiseAddress, leader.listenAddress, leader.dataPathAddress, String(args.autolock)],
        onDelete: { script: "swarm/leave.sh" },
        secretStdout: true,
      },
      { parent: this, dependsOn: [hostReady(leader)] },
    );
    const initResult = init.stdout.apply((out) => lastJsonLine<InitResult>(out, `swarm init on ${leader.name}`));
    this.clusterId = pulumi.unsecret(initResult.apply((r) => r.clusterId));
    this.workerToken = pulumi.secret(initResult.apply((r) => r.workerToken));
    this.managerToken = pulumi.secret(initResult.apply((r) => r.managerToken));
    this.unlockKey = pulumi.secret(initResult.apply((r) => r.unlockKey));
    const leaderNodeId = pulumi.unsecret(initResult.apply((r) => r.nodeId));

    const nodeIds: Record<string, pulumi.Output<string>> = { [leader.name]: leaderNodeId };
    const joins = new Map<string, pulumi.Resource>();
    let previous: pulumi.Resource = init.resource;
    const managersJoined: pulumi.Resource[] = [init.resource];
    const join = (node: PlannedNode, after: pulumi.Resource[]): pulumi.Resource => {
      const token = node.role === "manager" ? this.managerToken : this.workerToken;
      const run = runScript(
        `${name}-join-${node.name}`,
        {
          target: targetOf(node),
          script: "swarm/join.sh",
          args: [node.role, token, leader.advertiseAddress, node.advertiseAddress, node.listenAddress, node.dataPathAddress, this.clusterId],
          onDelete: { script: "swarm/leave.sh" },
        },
        { parent: this, dependsOn: [hostReady(node), ...after] },
      );
      nodeIds[node.name] = run.stdout.apply((out) => lastJsonLine<{ nodeId: string }>(out, `swarm join on ${node.name}`).nodeId);
      joins.set(node.name, run.resource);
      return run.resource;
    };
    // Managers one at a time: two joining at once can cost Raft its quorum.
    for (const manager of plan.joiningManagers) {
      previous = join(manager, [previous]);
      managersJoined.push(previous);
    }
    for (const worker of plan.workers) join(worker, managersJoined);

    this.ready = plan.nodes.map((node) => {
      const nodeId = nodeIds[node.name];
      return runScript(
        `${name}-node-${node.name}`,
        {
          target: leaderTarget,
          script: "swarm/node-config.sh",
          args: nodeConfigArgs(node, nodeId),
          // Removing a host from config drains it and removes it from the swarm
          // (before its join's delete makes it leave). The leader is never removed this way.
          onDelete: node.isLeader ? undefined : { script: "swarm/node-remove.sh", args: [nodeId, String(args.drainTimeoutSeconds)] },
        },
        { parent: this, dependsOn: [joins.get(node.name) ?? init.resource] },
      ).resource;
    });

    this.leaderAddress = pulumi.output(leader.advertiseAddress);
    this.nodeIds = pulumi.all(nodeIds);
    this.registerOutputs({
      clusterId: this.clusterId,
      leaderAddress: this.leaderAddress,
      nodeIds: this.nodeIds,
      workerToken: this.workerToken,
      managerToken: this.managerToken,
      unlockKey: this.unlockKey,
    });
  }
}
