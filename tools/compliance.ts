// `npm run compliance [-- --stack NAME]`: the real policy pack, offline, against
// each stack's resource graph from a mocked run of the real program. Prints a
// table per stack (policy, level, resources checked, violations) and the
// scheduling check's per-node placement; exits 1 on any mandatory violation.
import { ALL_POLICIES } from "../policies/all-policies";
import { schedulingOf } from "../policies/rules/scheduling";
import { OVERLAY_NETWORKS } from "../domain/networks";
import { evaluatePolicies, type PolicyOutcome } from "./policy-runner";
import { STACKS, mockedRun, testConfig, type MockedRun, type StackName } from "./mocked-program";

export interface StackCompliance {
  readonly stack: StackName;
  readonly outcomes: readonly PolicyOutcome[];
  readonly placement: readonly { node: string; role: string; cpu: string; memory: string; tasks: string }[];
}

/** Per-stack policy config: subnets the stack overrides (none of the samples do). */
function policyConfig(stack: StackName): Record<string, Record<string, unknown>> {
  const network = testConfig(stack)["medianest:network"] as { subnets?: Record<string, string> } | undefined;
  const subnets = Object.fromEntries(
    Object.entries(network?.subnets ?? {}).map(([key, subnet]) => [OVERLAY_NETWORKS.find((n) => n.key === key)?.name ?? key, subnet]),
  );
  return { "overlay-networks": { subnets } };
}

export async function stackCompliance(stack: StackName, run?: MockedRun): Promise<StackCompliance> {
  const mocked = run ?? (await mockedRun(stack));
  const outcomes = await evaluatePolicies(ALL_POLICIES, mocked.resources, policyConfig(stack));
  const hosts = mocked.ofType("medianest:host:Host");
  const scheduling = schedulingOf(
    mocked.resources.map((r) => ({ type: r.type, props: r.inputs, urn: r.urn, name: r.name }) as never),
  );
  const placement = scheduling.usage.map((u) => {
    const host = hosts.find((h) => h.name === u.node);
    const cpus = Number(host?.inputs.cpus ?? 0);
    const memoryGb = Number(host?.inputs.memoryGb ?? 0);
    const counts = new Map<string, number>();
    for (const task of u.tasks) counts.set(task, (counts.get(task) ?? 0) + 1);
    return {
      node: u.node,
      role: String(host?.inputs.role ?? "?"),
      cpu: `${u.cpus.toFixed(2)}/${cpus}`,
      memory: `${(u.memoryMb / 1024).toFixed(2)}/${memoryGb} GB`,
      tasks: [...counts].map(([name, n]) => (n > 1 ? `${name}×${n}` : name)).join(", "),
    };
  });
  return { stack, outcomes, placement };
}

export function mandatoryViolations(result: StackCompliance): number {
  return result.outcomes.filter((o) => o.level === "mandatory").reduce((sum, o) => sum + o.violations.length, 0);
}

function parseStacks(argv: readonly string[]): StackName[] {
  const wanted: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--stack") wanted.push(...(argv[++i] ?? "").split(","));
    else if (argv[i].startsWith("--stack=")) wanted.push(...argv[i].slice(8).split(","));
    else throw new Error(`unknown argument ${argv[i]} (usage: npm run compliance [-- --stack NAME[,NAME]])`);
  }
  for (const name of wanted) if (!(STACKS as readonly string[]).includes(name)) throw new Error(`unknown stack "${name}"; stacks: ${STACKS.join(", ")}`);
  return wanted.length > 0 ? (wanted as StackName[]) : [...STACKS];
}

async function main(): Promise<void> {
  const stacks = parseStacks(process.argv.slice(2));
  let failures = 0;
  const started = Date.now();
  for (const stack of stacks) {
    const result = await stackCompliance(stack);
    console.log(`\n== stack ${stack}`);
    console.table(
      result.outcomes.map((o) => ({
        policy: o.policy,
        level: o.level,
        checked: o.checked,
        violations: o.violations.length,
        first: o.violations[0]?.message.slice(0, 100) ?? "",
      })),
    );
    console.log(`placement (scheduling check) for ${stack}:`);
    console.table(result.placement);
    const mandatory = mandatoryViolations(result);
    failures += mandatory;
    for (const o of result.outcomes) for (const v of o.violations) console.log(`${o.level === "mandatory" ? "ERROR" : "warn "} ${o.policy}: ${v.message}`);
  }
  console.log(`\ncompliance: ${stacks.length} stack(s), ${failures} mandatory violation(s), ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(failures > 0 ? 1 : 0);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  });
}
