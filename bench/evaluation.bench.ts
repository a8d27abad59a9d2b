// `npm run bench`: how long the program takes to evaluate under mocks (config →
// plan → every resource registered), per stack and for synthetic clusters of
// 10, 50 and 100 nodes with the full service set. Fails when 100 nodes cost
// more than 12x 10 nodes: the plan and components must stay linear.
import { describe, expect, it } from "vitest";
import { mockedRun, STACKS, type StackName } from "../test/support/mocked-run";
import { syntheticClusterConfig } from "./synthetic-cluster";

const ROUNDS = 3;

async function measure(stack: StackName, config?: Record<string, unknown>): Promise<{ ms: number; resources: number }> {
  const times: number[] = [];
  let resources = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    const run = await mockedRun(stack, config ? { config } : {});
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    resources = run.resources.length;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], resources };
}

describe("mocked evaluation", () => {
  it("per stack and per synthetic cluster size", async () => {
    const rows: { case: string; resources: number; "median ms": number; "ms / resource": number }[] = [];
    const row = (name: string, r: { ms: number; resources: number }) =>
      rows.push({ case: name, resources: r.resources, "median ms": Math.round(r.ms), "ms / resource": Number((r.ms / r.resources).toFixed(2)) });
    // Warm-up: the first run pays for module loading.
    await mockedRun("production");
    for (const stack of STACKS) row(`stack ${stack}`, await measure(stack));
    const sizes: Record<number, { ms: number; resources: number }> = {};
    for (const nodes of [10, 50, 100]) {
      sizes[nodes] = await measure("production", syntheticClusterConfig(nodes));
      row(`synthetic ${nodes} nodes`, sizes[nodes]);
    }
    const ratio = sizes[100].ms / sizes[10].ms;
    console.table(rows);
    console.log(`100-node / 10-node evaluation time: ${ratio.toFixed(2)}x (limit 12x); resources ${sizes[100].resources} / ${sizes[10].resources}`);
    expect(ratio).toBeLessThanOrEqual(12);
  }, 300_000);
});
