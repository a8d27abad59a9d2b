// Facts about the whole stack, read from the resource graph: the environment and
// sizing (the MediaNest component's inputs), the nodes (Host components' inputs),
// services, networks and the swarm commands.
import type { PolicyResource } from "@pulumi/policy";
import { parseStdin, type ScriptName } from "../../scripts/loader";
import { asNumber, asProps, asString, networkView, serviceView, type NetworkView, type ServiceView } from "./views";

export const TYPES = {
  stack: "medianest:stack:MediaNest",
  host: "medianest:host:Host",
  service: "docker:index/service:Service",
  network: "docker:index/network:Network",
  serviceConfig: "docker:index/serviceConfig:ServiceConfig",
  remoteCommand: "command:remote:Command",
  localCommand: "command:local:Command",
} as const;

export interface NodeFact {
  readonly name: string;
  readonly role: "manager" | "worker";
  readonly cpus: number;
  readonly memoryGb: number;
  readonly labels: Readonly<Record<string, string>>;
}

export interface StackFacts {
  readonly environment?: string;
  readonly expectedUsers?: number;
  readonly nodes: readonly NodeFact[];
  readonly services: readonly (ServiceView & { readonly urn: string })[];
  readonly networks: readonly (NetworkView & { readonly urn: string })[];
  readonly commands: readonly { readonly name: string; readonly urn: string; readonly create?: string; readonly script?: ScriptName }[];
}

/** Which of the program's scripts a command runs (its stdin), when known. */
function scriptOf(stdin: string | undefined): ScriptName | undefined {
  if (stdin === undefined) return undefined;
  try {
    return parseStdin(stdin).script;
  } catch {
    return undefined;
  }
}

/** The id a resource has (stack policies see it on props when the engine knows it). */
const idOf = (resource: PolicyResource): string | undefined => asString(asProps(resource.props).id);

export function stackFacts(resources: readonly PolicyResource[]): StackFacts {
  const root = resources.find((r) => r.type === TYPES.stack);
  const rootProps = asProps(root?.props);
  return {
    environment: asString(rootProps.environment),
    expectedUsers: asNumber(rootProps.expectedUsers),
    nodes: resources
      .filter((r) => r.type === TYPES.host)
      .map((r) => {
        const p = asProps(r.props);
        return {
          name: r.name,
          role: p.role === "manager" ? "manager" : "worker",
          cpus: asNumber(p.cpus) ?? 0,
          memoryGb: asNumber(p.memoryGb) ?? 0,
          labels: Object.fromEntries(Object.entries(asProps(p.labels)).map(([k, v]) => [k, String(v)])),
        };
      }),
    services: resources.filter((r) => r.type === TYPES.service).map((r) => ({ ...serviceView(asProps(r.props)), urn: r.urn })),
    networks: resources.filter((r) => r.type === TYPES.network).map((r) => ({ ...networkView(asProps(r.props), idOf(r)), urn: r.urn })),
    commands: resources
      .filter((r) => r.type === TYPES.remoteCommand || r.type === TYPES.localCommand)
      .map((r) => ({ name: r.name, urn: r.urn, create: asString(asProps(r.props).create), script: scriptOf(asString(asProps(r.props).stdin)) })),
  };
}
