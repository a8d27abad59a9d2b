// Swarm: `swarm init` on the leader, managers joining one after another, then the
// workers; node roles, availability and labels kept in sync from config; a host
// removed from config is drained and removed. Join tokens and the unlock key are
// Pulumi secrets end to end (the token reaches join.sh on stdin).
//
// Resource names depend on the host only, never on which host leads: changing
// `swarm.leader` turns the old leader's membership into a join and the new one's into
// an init, both updates of resources that already exist (each script is idempotent:
// a node already in this swarm is left as it is). Every delete step is guarded by an
// owner mark (a file on the host, a node label): a host renamed in config is claimed by
// its new resources before the engine deletes the old ones, whose deletes then find
// another owner and do nothing, instead of making a live node leave.
import * as pulumi from "@pulumi/pulumi";
import type { PlannedNode, TopologyPlan } from "../topology/plan";
import { scriptCall } from "../scripts/interfaces";
import { runScript, type ScriptInvocation, type ScriptTarget } from "./script-command";
import type { Host } from "./host";

export interface SwarmArgs {
  readonly plan: TopologyPlan;
  readonly autolock: boolean;
  readonly drainTimeoutSeconds: number;
  /** Single-instance stateful services: node-remove.sh keeps a node that runs one, unless released. */
  readonly statefulServices: readonly string[];
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

/** The stdin variable join.sh reads its token from. */
export const JOIN_TOKEN_VARIABLE = "MEDIANEST_JOIN_TOKEN";

/** Our swarm scripts print their result as one JSON line, last on stdout. */
export function lastJsonLine<T>(stdout: string, what: string, resource?: pulumi.Resource): T {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    const message = `${what}: expected a JSON result line from the script, got ${JSON.stringify(line.slice(0, 200))}`;
    throw resource ? new pulumi.ResourceError(message, resource) : new Error(message);
  }
}

/** Resource names: by host, so neither a leader change nor the join order renames anything. */
export const memberResourceName = (swarm: string, host: string): string => `${swarm}-member-${host}`;
export const nodeResourceName = (swarm: string, host: string): string => `${swarm}-node-${host}`;

/**
 * The node label that releases a node holding single-instance stateful tasks for removal
 * (hosts[].releaseStateful). node-remove.sh reads it from the node when it runs: it runs as
 * a delete, with the inputs stored in state (pulumi-command v1.2.1
 * provider/pkg/provider/remote/commandController.go, Delete: `props := req.State`), so a
 * flag in the config of the run that removes the host could never reach it.
 */
export const RELEASE_STATEFUL_LABEL = "com.medianest.release-stateful";

export function nodeConfigCall(owner: string, node: PlannedNode, nodeId: pulumi.Input<string>): ScriptInvocation {
  return scriptCall<"swarm/node-config.sh", pulumi.Input<string>>("swarm/node-config.sh", {
    owner,
    nodeId,
    role: node.role,
    availability: node.availability,
    labels: [...Object.entries(node.labels).map(([k, v]) => `${k}=${v}`), ...(node.releaseStateful ? [`${RELEASE_STATEFUL_LABEL}=true`] : [])],
  });
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
  /** Resolves when every node is configured (the node steps' outputs). */
  readonly formed: pulumi.Output<string[]>;

  constructor(name: string, args: SwarmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:swarm:Swarm", name, {}, opts);
    const { plan } = args;
    const targetOf = (node: PlannedNode): ScriptTarget => {
      const target = args.targets.get(node.name);
      if (!target) throw new pulumi.ResourceError(`no script target for host ${node.name}`, this);
      return target;
    };
    const hostReady = (node: PlannedNode): pulumi.Resource => {
      const host = args.hosts.get(node.name);
      if (!host) throw new pulumi.ResourceError(`no Host component for ${node.name}`, this);
      return host.ready;
    };
    const leader = plan.leader;
    const leaderTarget = targetOf(leader);

    const initName = memberResourceName(name, leader.name);
    const init = runScript(
      initName,
      {
        target: leaderTarget,
        call: scriptCall("swarm/init.sh", {
          owner: initName,
          advertiseAddress: leader.advertiseAddress,
          listenAddress: leader.listenAddress,
          dataPathAddress: leader.dataPathAddress,
          autolock: args.autolock,
        }),
        onDelete: scriptCall("swarm/leave.sh", { owner: initName }),
        secretStdout: true,
      },
      { parent: this, dependsOn: [hostReady(leader)] },
    );
    const initResult = init.stdout.apply((out) => lastJsonLine<InitResult>(out, `swarm init on ${leader.name}`, this));
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
      const owner = memberResourceName(name, node.name);
      const run = runScript(
        owner,
        {
          target: targetOf(node),
          call: scriptCall<"swarm/join.sh", pulumi.Input<string>>("swarm/join.sh", {
            owner,
            role: node.role,
            leaderAddress: leader.advertiseAddress,
            advertiseAddress: node.advertiseAddress,
            listenAddress: node.listenAddress,
            dataPathAddress: node.dataPathAddress,
            clusterId: this.clusterId,
          }),
          secrets: { [JOIN_TOKEN_VARIABLE]: node.role === "manager" ? this.managerToken : this.workerToken },
          onDelete: scriptCall("swarm/leave.sh", { owner }),
        },
        { parent: this, dependsOn: [hostReady(node), ...after] },
      );
      nodeIds[node.name] = run.stdout.apply((out) => lastJsonLine<{ nodeId: string }>(out, `swarm join on ${node.name}`, this).nodeId);
      joins.set(node.name, run.resource);
      return run.resource;
    };
    // Managers one at a time: two joining at once can cost Raft its quorum.
    for (const manager of plan.joiningManagers) {
      previous = join(manager, [previous]);
      managersJoined.push(previous);
    }
    for (const worker of plan.workers) join(worker, managersJoined);

    const nodeSteps = plan.nodes.map((node) => {
      const nodeId = nodeIds[node.name];
      const owner = nodeResourceName(name, node.name);
      return runScript(
        owner,
        {
          target: leaderTarget,
          call: nodeConfigCall(owner, node, nodeId),
          // Removing a host from config drains it and removes it from the swarm
          // (before its membership's delete makes it leave). The leader is never removed this way.
          ...(node.isLeader
            ? {}
            : {
                onDelete: scriptCall<"swarm/node-remove.sh", pulumi.Input<string>>("swarm/node-remove.sh", {
                  owner,
                  nodeId,
                  drainTimeoutSeconds: args.drainTimeoutSeconds,
                  stateful: args.statefulServices,
                }),
              }),
        },
        { parent: this, dependsOn: [joins.get(node.name) ?? init.resource] },
      );
    });
    this.ready = nodeSteps.map((step) => step.resource);
    this.formed = pulumi.all(nodeSteps.map((step) => step.stdout));

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
