// The mocked program run, inside vitest: modules are reset through vitest's own registry.
// Within one `npm test` the runs are shared between test files through a cache directory
// the global setup makes (and removes) for that invocation only, so no run outlives the
// code it was made from.
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { mockedRun as runMockedProgram, recordedRun, testConfig, type MockedRun, type MockedRunOptions, type RecordedResource, type StackName } from "../../tools/mocked-program";

export * from "../../tools/mocked-program";

/** Set by test/support/mocked-run-cache.ts (vitest globalSetup) for one test run. */
export const MOCKED_RUN_CACHE_ENV = "MEDIANEST_MOCKED_RUN_CACHE";

export interface CachedRunOptions extends MockedRunOptions {
  /** false for runs that depend on more than the config (a mocked node:fs, say). */
  readonly cache?: boolean;
}

interface Stored {
  readonly resources: RecordedResource[];
  readonly exports: Record<string, unknown>;
  readonly secretExports: string[];
}

const rebuild = (stored: Stored): MockedRun => recordedRun(stored.resources, stored.exports, new Set(stored.secretExports));

export async function mockedRun(stack: StackName, options: CachedRunOptions = {}): Promise<MockedRun> {
  const run = () =>
    runMockedProgram(stack, {
      ...options,
      resetModules: () => vi.resetModules(),
      loadProgram: async () => (await import("../../index")) as Record<string, unknown>,
    });
  const dir = process.env[MOCKED_RUN_CACHE_ENV];
  if (!dir || options.cache === false || !existsSync(dir)) return run();
  const key = createHash("sha256")
    .update(JSON.stringify({ stack, config: options.config ?? testConfig(stack), secretKeys: options.secretKeys ?? null }))
    .digest("hex");
  const file = path.join(dir, `${key}.json`);
  if (existsSync(file)) return rebuild(JSON.parse(readFileSync(file, "utf8")) as Stored);
  // One computation per run and key: the two workers often want the same stack at the same
  // moment. The one that creates the lock computes; the other waits for its file (up to 20 s)
  // and computes itself only if none appears.
  const lock = `${file}.lock`;
  let owner = false;
  try {
    closeSync(openSync(lock, "wx"));
    owner = true;
  } catch {
    for (let i = 0; i < 200 && existsSync(lock) && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    if (existsSync(file)) return rebuild(JSON.parse(readFileSync(file, "utf8")) as Stored);
  }
  try {
    const result = await run();
    const stored: Stored = { resources: [...result.resources], exports: result.exports, secretExports: [...result.secretExports] };
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, JSON.stringify(stored));
    renameSync(partial, file);
    return rebuild(stored);
  } finally {
    if (owner) rmSync(lock, { force: true });
  }
}
