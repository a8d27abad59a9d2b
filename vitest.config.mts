import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real-host suites have their own scripts: test:data (PostgreSQL/Redis) and the lab.
    exclude: ["test/lab/**", "test/data-scripts.test.ts", "test/data-postgres-members.test.ts", "node_modules/**"],
    // Pulumi's mock runtime is process-global state: isolate each file in its own fork.
    pool: "forks",
    // Vitest runs cores - 1 forks by default: one on a 2-core machine. Most files wait on
    // mocked runs and child processes, so two forks on two cores finish about 25% sooner.
    maxWorkers: 2,
    // Mocked runs are shared between the test files of one run (test/support/mocked-run.ts).
    globalSetup: ["test/support/mocked-run-cache.ts"],
    testTimeout: 20_000,
  },
});
