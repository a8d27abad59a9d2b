// The components create exactly what the stack plan contains, nothing more: every
// planned service is one docker.Service under its tier's component, every declared
// secret one docker.Secret, every planned file one Swarm config, every host step one
// command in the planned order.
import { describe, expect, it } from "vitest";
import { contentHashedName } from "../components/service-configs";
import { hostStepResourceName } from "../topology/host-steps";
import { servicesOf, type ServiceTiers } from "../topology/services";
import { planStack } from "../topology/stack-plan";
import { STACKS, mockedRun, type MockedRun, type RecordedResource } from "./support/mocked-run";
import { validatedStackConfig } from "./support/stack-config";

const TIER_COMPONENTS: Readonly<Record<keyof ServiceTiers, string>> = {
  data: "medianest:data:DataServices",
  backup: "medianest:data:DataServices",
  storage: "medianest:storage:ObjectStorage",
  app: "medianest:app:MediaNestApp",
  edge: "medianest:edge:Edge",
  monitoring: "medianest:monitoring:Monitoring",
};

/** The nearest ancestor of a resource that is one of our tier components. */
function tierComponentOf(run: MockedRun, resource: RecordedResource): string | undefined {
  const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
  const tierTypes = new Set(Object.values(TIER_COMPONENTS));
  for (let parent = byUrn.get(resource.parent); parent; parent = byUrn.get(parent.parent)) {
    if (tierTypes.has(parent.type)) return parent.type;
  }
  return undefined;
}

describe.each(STACKS)("stack %s: the plan and the created resources", (stack) => {
  const plan = planStack(validatedStackConfig(stack));

  it("creates one docker.Service per planned service, under its tier's component", async () => {
    const run = await mockedRun(stack);
    const created = run.ofType("docker:index/service:Service").map((r) => ({ name: String(r.inputs.name), tier: tierComponentOf(run, r) }));
    const planned = Object.entries(plan.services).flatMap(([tier, section]) =>
      Object.values(section as Record<string, unknown>)
        .flat()
        .map((spec) => ({ name: (spec as { name: string }).name, tier: TIER_COMPONENTS[tier as keyof ServiceTiers] })),
    );
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(created.sort(byName)).toEqual(planned.sort(byName));
    expect(servicesOf(plan.services).map((s) => s.name).sort()).toEqual(created.map((c) => c.name).sort());
  });

  it("creates one docker.Secret per declared secret and no other", async () => {
    const run = await mockedRun(stack);
    const labelled = run.ofType("docker:index/secret:Secret").map((r) => {
      const labels = r.inputs.labels as { label: string; value: string }[];
      return labels.find((l) => l.label === "com.medianest.secret")?.value;
    });
    expect(labelled.sort()).toEqual(plan.secrets.map((s) => s.name));
    // Declared from the table: each mounted by some planned service.
    const mounted = new Set(servicesOf(plan.services).flatMap((s) => s.secrets));
    expect(plan.secrets.every((s) => mounted.has(s.name))).toBe(true);
  });

  it("creates one Swarm config per planned container script and file, named by content", async () => {
    const run = await mockedRun(stack);
    const names = run.ofType("docker:index/serviceConfig:ServiceConfig").map((r) => String(r.inputs.name));
    const fileNames = Object.entries(plan.configFiles.files).map(([file, content]) => contentHashedName(file.replace(/\./g, "-"), content as string));
    expect(names.length).toBe(plan.configFiles.scripts.length + fileNames.length);
    expect(names).toEqual(expect.arrayContaining(fileNames));
  });

  it("runs every planned host step, each after the one before it", async () => {
    const run = await mockedRun(stack);
    for (const host of plan.hosts) {
      const names = host.steps.map((step) => hostStepResourceName(host.node.name, step.id));
      const commands = run.resources.filter((r) => r.type.startsWith("command:") && r.parent.endsWith(`medianest:host:Host::${host.node.name}`));
      expect(commands.map((c) => c.name).sort()).toEqual([...names].sort());
      for (const [index, name] of names.entries()) {
        if (index === 0) continue;
        expect(run.named(name).dependencies).toContain(run.named(names[index - 1]).urn);
      }
    }
  });

  it("runs the pre-deploy backup on each planned database host, when planned", async () => {
    const run = await mockedRun(stack);
    const backups = run.resources.filter((r) => r.type.startsWith("command:") && r.name.startsWith("predeploy-backup-")).map((r) => r.name);
    expect(backups.sort()).toEqual((plan.predeployBackup?.hosts ?? []).map((h) => `predeploy-backup-${h}`).sort());
  });
});
