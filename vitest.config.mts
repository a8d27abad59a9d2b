import { defineConfig } from "vitest/config";
import { readFileSync } from "node:fs";

// Read (npm runs vitest from the repository root), not imported: an imported .ts file here
// makes Vite warn about its future native config loader on every run.
const SHARED_PROCESS = (JSON.parse(readFileSync("test/support/shared-process-tests.json", "utf8")) as { files: string[] }).files;

// Real-host suites have their own scripts: test:data (PostgreSQL/Redis) and the lab.
const REAL_HOST = ["test/lab/**", "test/data-scripts.test.ts", "test/data-postgres-members.test.ts", "node_modules/**"];

export default defineConfig({
  test: {
    pool: "forks",
    // Vitest runs cores - 1 forks by default: one on a 2-core machine. Most files wait on
    // mocked runs and child processes, so two forks on two cores finish about 25% sooner.
    maxWorkers: 2,
    // Mocked runs are shared between the test files of one run (test/support/mocked-run.ts).
    globalSetup: ["test/support/mocked-run-cache.ts"],
    testTimeout: 20_000,
    projects: [
      {
        extends: true,
        // Pulumi's mock runtime is process-global state: each of these files gets its own fork.
        test: { name: "program", include: ["test/**/*.test.ts"], exclude: [...REAL_HOST, ...SHARED_PROCESS], isolate: true },
      },
      { extends: true, test: { name: "pure", include: SHARED_PROCESS, exclude: REAL_HOST, isolate: false } },
    ],
  },
});
