// Replaying a mocked run's resource graph as the Pulumi engine walks it: a resource's step
// starts once every resource it depends on is done — its recorded dependencies (dependsOn
// and the resources whose outputs its inputs use; the SDK expands a component to its
// children), its provider and its parent — and independent steps run at the same time. A
// dependency the program forgot shows up here as a step that runs too early and fails,
// which a fixed sequential order would hide.
import type { MockedRun, RecordedResource } from "../support/mocked-run";

export type StepOutcome = "done" | "skipped";

export interface ReplayedStep {
  readonly resource: RecordedResource;
  readonly outcome: StepOutcome | "failed" | "not run";
  /** Milliseconds since the replay started. */
  readonly start: number;
  readonly end: number;
  readonly note?: string;
  readonly error?: Error;
}

export interface ReplayOptions {
  /** Concurrent steps at most (the engine's --parallel); unbounded by default. */
  readonly parallelism?: number;
  /** Overall bound. */
  readonly timeoutMs?: number;
}

export class ReplayError extends Error {
  constructor(
    message: string,
    readonly steps: readonly ReplayedStep[],
  ) {
    super(message);
    this.name = "ReplayError";
  }
}

/** The URNs a resource's step waits for, restricted to resources of the run. */
export function stepDependencies(run: MockedRun, resource: RecordedResource): string[] {
  const known = new Set(run.resources.map((r) => r.urn));
  const provider = resource.provider ? resource.provider.slice(0, resource.provider.lastIndexOf("::")) : "";
  return [...new Set([...resource.dependencies, provider, resource.parent])].filter((urn) => urn !== "" && urn !== resource.urn && known.has(urn));
}

/**
 * Runs `execute` for every resource in engine order. `execute` returns "skipped" for what
 * the lab does not apply (its dependents still run); a thrown error fails the step, and its
 * dependents are not run. Rejects with ReplayError when any step failed.
 */
export async function replayInEngineOrder(
  run: MockedRun,
  execute: (resource: RecordedResource) => Promise<StepOutcome | { outcome: StepOutcome; note: string }>,
  options: ReplayOptions = {},
): Promise<ReplayedStep[]> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 900_000);
  const limit = options.parallelism ?? Number.POSITIVE_INFINITY;
  const deps = new Map(run.resources.map((r) => [r.urn, stepDependencies(run, r)]));
  const done = new Set<string>();
  const failed = new Set<string>();
  const steps = new Map<string, ReplayedStep>();
  const pending = new Set(run.resources.map((r) => r.urn));
  const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
  const running = new Map<string, Promise<void>>();

  const start = (resource: RecordedResource) => {
    const begin = Date.now() - started;
    const promise = (async () => {
      try {
        const result = await execute(resource);
        const { outcome, note } = typeof result === "string" ? { outcome: result, note: undefined } : result;
        steps.set(resource.urn, { resource, outcome, start: begin, end: Date.now() - started, ...(note ? { note } : {}) });
        done.add(resource.urn);
      } catch (error) {
        steps.set(resource.urn, { resource, outcome: "failed", start: begin, end: Date.now() - started, error: error as Error });
        failed.add(resource.urn);
      } finally {
        running.delete(resource.urn);
      }
    })();
    running.set(resource.urn, promise);
  };

  while (pending.size > 0 || running.size > 0) {
    if (Date.now() > deadline) throw new ReplayError(`engine-order replay not finished after ${options.timeoutMs ?? 900_000} ms`, [...steps.values()]);
    let startedAny = false;
    for (const urn of [...pending]) {
      if (running.size >= limit) break;
      const waitsFor = deps.get(urn) ?? [];
      // A failed (or not run) dependency: this step never runs, nor do its dependents.
      if (waitsFor.some((d) => failed.has(d))) {
        pending.delete(urn);
        steps.set(urn, { resource: byUrn.get(urn) as RecordedResource, outcome: "not run", start: 0, end: 0 });
        failed.add(urn);
        startedAny = true;
        continue;
      }
      if (waitsFor.every((d) => done.has(d))) {
        pending.delete(urn);
        start(byUrn.get(urn) as RecordedResource);
        startedAny = true;
      }
    }
    if (running.size === 0 && !startedAny && pending.size > 0) {
      throw new ReplayError(`dependency cycle or unknown dependency among: ${[...pending].slice(0, 5).join(", ")}`, [...steps.values()]);
    }
    if (running.size > 0 && !startedAny) await Promise.race(running.values());
  }
  const all = run.resources.map((r) => steps.get(r.urn) as ReplayedStep);
  const failures = all.filter((s) => s.outcome === "failed");
  if (failures.length > 0) {
    throw new ReplayError(`${failures.length} step(s) failed: ${failures.map((s) => `${s.resource.type} ${s.resource.name}: ${s.error?.message.split("\n")[0] ?? ""}`).join("; ")}`, all);
  }
  return all;
}

/** Wall time, in seconds, from the first of `steps` starting to the last ending. */
export function span(steps: readonly ReplayedStep[]): number {
  if (steps.length === 0) return 0;
  return (Math.max(...steps.map((s) => s.end)) - Math.min(...steps.map((s) => s.start))) / 1000;
}
