// A model of Swarm's scheduler, for the compliance run: every task of every
// service is placed on a node that satisfies its constraints, has room for its
// reservations and is under its max-replicas-per-node; among those, spread
// preferences pick the least used group, then the node with the fewest tasks of
// the service, then the fewest tasks overall (what Swarm's spread strategy does).
// Pure: it works on plain node and service descriptions.

export interface SchedulingNode {
  readonly name: string;
  readonly role: "manager" | "worker";
  readonly labels: Readonly<Record<string, string>>;
  readonly cpus: number;
  readonly memoryMb: number;
}

export interface SchedulingService {
  readonly name: string;
  /** Global services run one task per eligible node. */
  readonly global: boolean;
  readonly replicas: number;
  readonly constraints: readonly string[];
  /** Spread descriptors, e.g. "node.labels.az", "node.id". */
  readonly spread: readonly string[];
  readonly maxReplicasPerNode?: number;
  readonly reservations: { readonly cpus: number; readonly memoryMb: number };
}

export interface NodeUsage {
  readonly node: string;
  cpus: number;
  memoryMb: number;
  readonly tasks: string[];
}

export interface SchedulingResult {
  readonly placements: readonly { readonly service: string; readonly task: number; readonly node: string }[];
  readonly unplaced: readonly { readonly service: string; readonly task: number; readonly reason: string }[];
  readonly usage: readonly NodeUsage[];
}

/** What a placement constraint can look at on a node. */
export interface ConstraintSubject {
  readonly role: string;
  readonly hostname: string;
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Does a node satisfy one constraint of the forms the program writes ("node.role ==
 * worker", "node.labels.type != db", "node.hostname == x", "node.id == y")? The one
 * evaluator: the scheduling model, the compliance run and the lab's checks of real nodes.
 */
export function satisfiesConstraint(node: ConstraintSubject, constraint: string): boolean {
  const match = /^\s*(node\.(?:role|hostname|id|labels\.[A-Za-z0-9._-]+))\s*(==|!=)\s*(\S+)\s*$/.exec(constraint);
  if (!match) throw new Error(`unsupported placement constraint "${constraint}"`);
  const [, field, operator, expected] = match;
  const actual = field === "node.role" ? node.role : field === "node.hostname" ? node.hostname : field === "node.id" ? node.id : node.labels[field.slice("node.labels.".length)];
  return operator === "==" ? actual === expected : actual !== expected;
}

/** A modelled node as a constraint sees it (its name stands for hostname and id). */
export function satisfies(node: SchedulingNode, constraint: string): boolean {
  return satisfiesConstraint({ role: node.role, hostname: node.name, id: node.name, labels: node.labels }, constraint);
}

function spreadValue(node: SchedulingNode, descriptor: string): string {
  if (descriptor === "node.id" || descriptor === "node.hostname") return node.name;
  if (descriptor.startsWith("node.labels.")) return node.labels[descriptor.slice("node.labels.".length)] ?? "";
  throw new Error(`unsupported spread preference "${descriptor}"`);
}

const EPSILON = 1e-9;

export function simulatePlacement(nodes: readonly SchedulingNode[], services: readonly SchedulingService[]): SchedulingResult {
  const usage = new Map<string, NodeUsage>(nodes.map((n) => [n.name, { node: n.name, cpus: 0, memoryMb: 0, tasks: [] }]));
  const placements: { service: string; task: number; node: string }[] = [];
  const unplaced: { service: string; task: number; reason: string }[] = [];

  const fits = (node: SchedulingNode, service: SchedulingService): boolean => {
    const used = usage.get(node.name) as NodeUsage;
    return used.cpus + service.reservations.cpus <= node.cpus + EPSILON && used.memoryMb + service.reservations.memoryMb <= node.memoryMb + EPSILON;
  };
  const place = (node: SchedulingNode, service: SchedulingService, task: number) => {
    const used = usage.get(node.name) as NodeUsage;
    used.cpus += service.reservations.cpus;
    used.memoryMb += service.reservations.memoryMb;
    used.tasks.push(service.name);
    placements.push({ service: service.name, task, node: node.name });
  };
  const countOf = (node: SchedulingNode, service: string) => (usage.get(node.name) as NodeUsage).tasks.filter((t) => t === service).length;

  for (const service of services) {
    const eligible = nodes.filter((n) => service.constraints.every((c) => satisfies(n, c)));
    if (eligible.length === 0) {
      const tasks = service.global ? 1 : service.replicas;
      for (let task = 1; task <= tasks; task++) unplaced.push({ service: service.name, task, reason: `no node satisfies ${service.constraints.join(" && ")}` });
      continue;
    }
    if (service.global) {
      eligible.forEach((node, index) => {
        if (fits(node, service)) place(node, service, index + 1);
        else unplaced.push({ service: service.name, task: index + 1, reason: `global task does not fit on ${node.name} (reservations exceed what is left)` });
      });
      continue;
    }
    for (let task = 1; task <= service.replicas; task++) {
      let candidates = eligible.filter(
        (n) => fits(n, service) && (service.maxReplicasPerNode === undefined || countOf(n, service.name) < service.maxReplicasPerNode),
      );
      if (candidates.length === 0) {
        unplaced.push({ service: service.name, task, reason: `no eligible node has room (${eligible.map((n) => n.name).join(", ")} are full or at max replicas per node)` });
        continue;
      }
      // Spread: narrow to the group (label value) with the fewest tasks of this service, in order of preference.
      for (const descriptor of service.spread) {
        const groups = new Map<string, SchedulingNode[]>();
        for (const node of eligible) groups.set(spreadValue(node, descriptor), [...(groups.get(spreadValue(node, descriptor)) ?? []), node]);
        const load = (value: string) => (groups.get(value) ?? []).reduce((sum, n) => sum + countOf(n, service.name), 0);
        const values = [...new Set(candidates.map((n) => spreadValue(n, descriptor)))];
        const least = Math.min(...values.map(load));
        candidates = candidates.filter((n) => load(spreadValue(n, descriptor)) === least);
      }
      const best = [...candidates].sort(
        (a, b) => countOf(a, service.name) - countOf(b, service.name) || (usage.get(a.name) as NodeUsage).tasks.length - (usage.get(b.name) as NodeUsage).tasks.length,
      )[0];
      place(best, service, task);
    }
  }
  return { placements, unplaced, usage: [...usage.values()] };
}
