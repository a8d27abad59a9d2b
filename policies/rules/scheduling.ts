// Scheduling and capacity: Swarm's placement, simulated on the stack's nodes
// with every replica's reservations (topology/scheduling.ts), and the cluster's
// size against the spec's Capacity Planning Matrix.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { capacityRowFor } from "../../domain/capacity";
import { simulatePlacement, type SchedulingResult } from "../../domain/scheduling";
import { stackFacts } from "../support/stack-facts";

export function schedulingOf(resources: readonly PolicyResource[]): SchedulingResult {
  const facts = stackFacts(resources);
  return simulatePlacement(
    facts.nodes.map((n) => ({ name: n.name, role: n.role, labels: n.labels, cpus: n.cpus, memoryMb: n.memoryGb * 1024 })),
    facts.services.map((s) => ({
      name: s.name,
      global: s.global,
      replicas: s.replicas,
      constraints: s.constraints,
      spread: s.spread,
      maxReplicasPerNode: s.maxReplicasPerNode,
      reservations: { cpus: s.reservations.cpus ?? 0, memoryMb: s.reservations.memoryMb ?? 0 },
    })),
  );
}

export const schedulingFit: StackValidationPolicy = {
  name: "scheduling-fit",
  description: "Every task of every service can be placed: constraints, max replicas per node and reservations fit the nodes (Swarm's scheduler, simulated).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const facts = stackFacts(args.resources);
    if (facts.nodes.length === 0) return;
    const result = schedulingOf(args.resources);
    for (const task of result.unplaced) reportViolation(`task ${task.task} of ${task.service} cannot be placed: ${task.reason}; add capacity or relax its placement`);
  },
};

export const capacityMatrix: StackValidationPolicy = {
  name: "capacity-matrix",
  description: "The cluster has at least the CPU and RAM of the spec's Capacity Planning Matrix row for the users it is sized for.",
  enforcementLevel: "advisory",
  validateStack: (args, reportViolation) => {
    const facts = stackFacts(args.resources);
    if (facts.expectedUsers === undefined || facts.nodes.length === 0) return;
    const row = capacityRowFor(facts.expectedUsers);
    const cpus = facts.nodes.reduce((sum, n) => sum + n.cpus, 0);
    const ram = facts.nodes.reduce((sum, n) => sum + n.memoryGb, 0);
    if (cpus < row.cpus || ram < row.ramGb) {
      reportViolation(`${facts.expectedUsers} users need ${row.cpus} CPU / ${row.ramGb} GB (row ${row.label}); the cluster has ${cpus} CPU / ${ram} GB: add nodes or lower capacity.expectedUsers`);
    }
  },
};
