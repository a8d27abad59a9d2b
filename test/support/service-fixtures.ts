// Policy fixtures built from the program's own service inputs: a planned ServiceSpec
// (patched where a test needs a violation) goes through swarmServiceArgs, the function the
// SwarmService component uses, so a fixture is what a real stack would send.
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { swarmServiceArgs, type SwarmObjectRef, type SwarmServiceRefs } from "../../components/swarm-service";
import { OVERLAY_NETWORK_KEYS, type OverlayNetworkKey } from "../../domain/networks";
import { CONTAINER_SCRIPTS, SECRET_NAMES, servicesOf, type ContainerScript, type ServiceFile, type ServiceSpec } from "../../topology/services";
import { planStack } from "../../topology/stack-plan";
import { validatedStackConfig } from "./stack-config";

/** The production plan, planned once: its specs are the fixtures' starting points. */
export const PRODUCTION_PLAN = planStack(validatedStackConfig("production"));

const ref = (name: string): SwarmObjectRef => ({ id: `${name}-id`, name });

/** Stand-in ids for every network, secret and config a planned service may name. */
export const FIXTURE_REFS: SwarmServiceRefs = {
  networkIds: Object.fromEntries(OVERLAY_NETWORK_KEYS.map((key) => [key, `${key}-net-id`])) as Record<OverlayNetworkKey, string>,
  secrets: new Map(SECRET_NAMES.map((name) => [name, ref(name)])),
  configs: new Map<ContainerScript | ServiceFile, SwarmObjectRef>([
    ...(Object.keys(CONTAINER_SCRIPTS) as ContainerScript[]).map((name) => [name, ref(name)] as const),
    ...(Object.keys(PRODUCTION_PLAN.configFiles.files) as ServiceFile[]).map((name) => [name, ref(name)] as const),
  ]),
};

/** A planned spec of the production stack by service name. */
export function plannedSpec(name: string): ServiceSpec {
  const spec = servicesOf(PRODUCTION_PLAN.services).find((s) => s.name === name);
  if (!spec) throw new Error(`the production plan has no service ${name}`);
  return spec;
}

/** A Pulumi input type with every Input/Output wrapper taken off (the fixtures are plain data). */
type Plain<T> = T extends pulumi.Output<infer U> | pulumi.OutputInstance<infer U>
  ? Plain<U>
  : T extends readonly (infer E)[]
    ? Plain<E>[]
    : T extends object
      ? { -readonly [K in keyof T]: Plain<T[K]> }
      : T;
type Unwrapped<T> = Plain<pulumi.Unwrap<T>>;
export type ServiceInputs = Unwrapped<docker.ServiceArgs>;
export type ContainerInputs = Unwrapped<docker.types.input.ServiceTaskSpecContainerSpec>;

/** The inputs SwarmService sends for `spec`, every Output resolved (the refs are plain values). */
export function serviceInputs(spec: ServiceSpec): Promise<ServiceInputs> {
  const args = pulumi.output(swarmServiceArgs(spec, FIXTURE_REFS));
  return new Promise((resolve) => args.apply((plain) => resolve(JSON.parse(JSON.stringify(plain)) as ServiceInputs)));
}

/**
 * The frontend's inputs as service "svc" of `role`, with a patch of the spec (typed) and of
 * the container (for what no spec can express, such as an added capability).
 */
export async function fixtureService(spec: Partial<ServiceSpec> = {}, container: Partial<ContainerInputs> = {}): Promise<ServiceInputs> {
  const inputs = await serviceInputs({ ...plannedSpec("medianest-frontend"), name: "svc", ...spec });
  inputs.taskSpec.containerSpec = { ...inputs.taskSpec.containerSpec, ...container };
  return inputs;
}
