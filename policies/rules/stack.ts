// Stack-wide rules: the overlay networks and who may join them, production
// minimums, swarm hardening. They restate the spec through the program's own
// topology core (subnets, attachment matrix), never a copy of it.
import type { StackValidationPolicy } from "@pulumi/policy";
import { NETWORK_ATTACHMENTS, STATEFUL_ROLES, type ServiceRole } from "../../domain/catalogue";
import { cidrsOverlap, parseIpv4Cidr } from "../../domain/cidr";
import { OVERLAY_NETWORKS, overlayNetworkName } from "../../domain/networks";
import { stackFacts } from "../support/stack-facts";
import { parseScriptCommand } from "../../scripts/interfaces";

export const overlayNetworks: StackValidationPolicy = {
  name: "overlay-networks",
  description: "The five overlay networks exist with their planned subnets and no overlap; database-net is internal; overlay traffic is encrypted in production.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      subnets: {
        type: "object",
        description: "Subnets a stack configured instead of the spec's defaults, by network name (e.g. frontend-net).",
        additionalProperties: { type: "string" },
        default: {},
      },
    },
  },
  validateStack: (args, reportViolation) => {
    const facts = stackFacts(args.resources);
    const overrides = args.getConfig<{ subnets?: Record<string, string> }>().subnets ?? {};
    for (const planned of OVERLAY_NETWORKS) {
      const network = facts.networks.find((n) => n.name === planned.name);
      if (!network) {
        reportViolation(`overlay network ${planned.name} is missing: the spec requires all five networks`);
        continue;
      }
      const expected = overrides[planned.name] ?? planned.defaultSubnet;
      if (network.driver !== "overlay") reportViolation(`${planned.name} uses driver ${network.driver}: use overlay`);
      if (network.subnets.length !== 1 || network.subnets[0] !== expected) {
        reportViolation(`${planned.name} has subnet ${network.subnets.join(",") || "(none)"}: the plan says ${expected}`, network.urn);
      }
      if (planned.internal && !network.internal) reportViolation(`${planned.name} must be internal (no egress, spec: "None (isolated)")`, network.urn);
      if (facts.environment === "production" && !network.encrypted) reportViolation(`${planned.name} is not encrypted: production overlays need the encrypted option`, network.urn);
    }
    const parsed = facts.networks.flatMap((n) => n.subnets.map((s) => ({ name: n.name ?? "?", text: s, cidr: safeCidr(s) })));
    parsed.forEach((a, i) =>
      parsed.slice(i + 1).forEach((b) => {
        if (a.cidr && b.cidr && cidrsOverlap(a.cidr, b.cidr)) reportViolation(`subnets of ${a.name} (${a.text}) and ${b.name} (${b.text}) overlap`);
      }),
    );
  },
};

function safeCidr(text: string) {
  try {
    return parseIpv4Cidr(text);
  } catch {
    return undefined;
  }
}

export const networkAttachments: StackValidationPolicy = {
  name: "network-attachments",
  description: "Services join exactly the networks the spec's Network Security Rules allow (e.g. the frontend never joins database-net).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const facts = stackFacts(args.resources);
    const nameOf = new Map(facts.networks.flatMap((n) => (n.id && n.name ? [[n.id, n.name] as const] : [])));
    for (const service of facts.services) {
      const role = service.role as ServiceRole | undefined;
      if (!role || !(role in NETWORK_ATTACHMENTS)) {
        reportViolation(`service ${service.name} has no known role: its networks cannot be checked`, service.urn);
        continue;
      }
      // Network ids unknown during a preview of new networks cannot be checked yet.
      const attached = service.networks.map((id) => nameOf.get(id) ?? (OVERLAY_NETWORKS.some((n) => n.name === id) ? id : undefined));
      if (attached.some((n) => n === undefined)) continue;
      const actual = [...(attached as string[])].sort();
      const allowed = NETWORK_ATTACHMENTS[role].map(overlayNetworkName).sort();
      if (actual.join() !== allowed.join()) {
        reportViolation(`service ${service.name} (${role}) is on ${actual.join(", ") || "no network"}; the security table allows exactly ${allowed.join(", ")}`, service.urn);
      }
    }
  },
};

const STATELESS_ROLES = (role: string | undefined) => role !== undefined && !STATEFUL_ROLES.has(role as ServiceRole);

export const productionMinimums: StackValidationPolicy = {
  name: "production-minimums",
  description:
    "Production runs an odd number (>= 3) of managers, >= 3 frontend and backend replicas, >= 2 Postgres replicas, >= 3 Redis nodes with a Sentinel quorum; stateless services roll back failed updates (all stacks).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const facts = stackFacts(args.resources);
    for (const service of facts.services) {
      if (STATELESS_ROLES(service.role) && !service.global && service.update.failureAction !== "rollback") {
        reportViolation(`stateless service ${service.name} does not roll back failed updates: set updateConfig.failureAction to rollback`, service.urn);
      }
    }
    if (facts.environment !== "production") return;
    const managers = facts.nodes.filter((n) => n.role === "manager").length;
    if (managers < 3 || managers % 2 === 0) reportViolation(`production has ${managers} managers: use an odd number of at least 3`);
    const replicasOf = (role: string) => facts.services.filter((s) => s.role === role && s.labels["traefik.enable"] !== "false").reduce((sum, s) => sum + s.replicas, 0);
    for (const role of ["frontend", "backend"]) {
      if (replicasOf(role) < 3) reportViolation(`production runs ${replicasOf(role)} ${role} replicas (serving): at least 3 are required`);
    }
    const pgReplicas = facts.services.filter((s) => s.role === "postgres-replica").length;
    if (pgReplicas < 2) reportViolation(`production has ${pgReplicas} Postgres streaming replicas: at least 2 are required`);
    const redisNodes = replicasOf("redis");
    if (redisNodes < 3) reportViolation(`production runs ${redisNodes} Redis nodes: at least 3 (master and replicas) are required`);
    const sentinel = facts.services.find((s) => s.role === "redis-sentinel");
    const quorum = Number(sentinel?.args[sentinel.args.indexOf("--quorum") + 1]);
    if (!sentinel || sentinel.replicas < 3) reportViolation("production needs at least 3 Redis Sentinels");
    else if (!(quorum >= 2 && quorum <= sentinel.replicas)) reportViolation(`Sentinel quorum ${quorum} must be between 2 and the ${sentinel.replicas} sentinels`);
  },
};

export const swarmHardening: StackValidationPolicy = {
  name: "swarm-hardening",
  description: "swarm init uses explicit advertise and listen addresses (never 0.0.0.0); autolock is on in production.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const facts = stackFacts(args.resources);
    const inits = facts.commands.filter((c) => c.script === "swarm/init.sh");
    if (inits.length !== 1) {
      reportViolation(`expected exactly one swarm init command, found ${inits.length}`);
      return;
    }
    if (inits[0].create === undefined) return; // unknown during preview
    const init = parseScriptCommand("swarm/init.sh", inits[0].create);
    for (const [what, value] of [["advertise", init.advertiseAddress], ["listen", init.listenAddress]] as const) {
      if (!value || value.startsWith("0.0.0.0")) reportViolation(`swarm init has no explicit ${what} address (${value || "none"}): bind it to the node's own address`, inits[0].urn);
    }
    if (facts.environment === "production" && !init.autolock) reportViolation("autolock is off in production: set swarm.autolock to true", inits[0].urn);
  },
};
