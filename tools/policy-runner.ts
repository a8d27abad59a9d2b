// Runs the policy pack's validations offline against a recorded resource graph
// (a mocked run of the real program), the way the Pulumi engine would call them.
import type { EnforcementLevel, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import type { RecordedResource } from "./mocked-program";

export interface PolicyViolation {
  readonly message: string;
  readonly urn?: string;
}

export interface PolicyOutcome {
  readonly policy: string;
  readonly level: EnforcementLevel;
  /** Resources the policy looked at (resource policies: those whose props it read; stack policies: the stack). */
  readonly checked: number;
  readonly violations: readonly PolicyViolation[];
}

class NotApplicable extends Error {}

const OPTS = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

/** The schema's defaults, overlaid with the user's config (the engine does this; offline we must). */
function configOf(policy: ResourceValidationPolicy | StackValidationPolicy, config: Record<string, unknown> | undefined): object {
  const defaults = Object.fromEntries(Object.entries(policy.configSchema?.properties ?? {}).map(([k, v]) => [k, (v as { default?: unknown }).default]));
  return { ...defaults, ...(config ?? {}) };
}

const propsOf = (r: RecordedResource) => ({ ...r.inputs, ...(r.id ? { id: r.id } : {}) });

function policyResources(resources: readonly RecordedResource[]): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  for (const r of resources) {
    byUrn.set(r.urn, {
      type: r.type,
      props: propsOf(r),
      urn: r.urn,
      name: r.name,
      opts: OPTS,
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    } as unknown as PolicyResource);
  }
  for (const r of resources) {
    const resource = byUrn.get(r.urn) as { dependencies: PolicyResource[]; parent?: PolicyResource };
    resource.dependencies = r.dependencies.flatMap((d) => (byUrn.has(d) ? [byUrn.get(d) as PolicyResource] : []));
    if (byUrn.has(r.parent)) resource.parent = byUrn.get(r.parent);
  }
  return [...byUrn.values()];
}

export async function evaluatePolicy(
  policy: ResourceValidationPolicy | StackValidationPolicy,
  resources: readonly RecordedResource[],
  config?: Record<string, unknown>,
): Promise<PolicyOutcome> {
  const violations: PolicyViolation[] = [];
  const level = policy.enforcementLevel ?? "advisory";
  const getConfig = <T extends object>() => configOf(policy, config) as T;
  const notApplicable = (reason?: string): never => {
    throw new NotApplicable(reason);
  };
  if ("validateResource" in policy) {
    const validations = (Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource]).filter(
      (v): v is NonNullable<typeof v> => v !== undefined,
    );
    let checked = 0;
    for (const r of resources) {
      let read = false;
      const props = propsOf(r);
      const args = {
        type: r.type,
        get props() {
          read = true;
          return props;
        },
        urn: r.urn,
        name: r.name,
        opts: OPTS,
        stackTags: new Map<string, string>(),
        isType: () => false,
        asType: () => undefined,
        getConfig,
        notApplicable,
      } as unknown as ResourceValidationArgs;
      for (const validate of validations) {
        try {
          await validate(args, (message, urn) => violations.push({ message, urn: urn ?? r.urn }));
        } catch (error) {
          if (!(error instanceof NotApplicable)) throw error;
        }
      }
      if (read) checked++;
    }
    return { policy: policy.name, level, checked, violations };
  }
  const args = { resources: policyResources(resources), stackTags: new Map<string, string>(), getConfig, notApplicable } as unknown as StackValidationArgs;
  const stackPolicy = policy as StackValidationPolicy;
  try {
    await stackPolicy.validateStack(args, (message: string, urn?: string) => violations.push({ message, urn }));
  } catch (error) {
    if (!(error instanceof NotApplicable)) throw error;
  }
  return { policy: policy.name, level, checked: resources.length, violations };
}

export async function evaluatePolicies(
  policies: readonly (ResourceValidationPolicy | StackValidationPolicy)[],
  resources: readonly RecordedResource[],
  config: Record<string, Record<string, unknown>> = {},
): Promise<PolicyOutcome[]> {
  const outcomes: PolicyOutcome[] = [];
  for (const policy of policies) outcomes.push(await evaluatePolicy(policy, resources, config[policy.name]));
  return outcomes;
}
