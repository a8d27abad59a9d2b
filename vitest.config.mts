import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real-host suites have their own scripts: test:data (PostgreSQL/Redis) and the lab.
    exclude: ["test/lab/**", "test/data-scripts.test.ts", "test/data-postgres-members.test.ts", "node_modules/**"],
    pool: "forks",
    // The files share their worker's process (no fresh fork and SDK import per file, which
    // cost about a third of the suite's CPU). That is safe because the only process-global
    // state they touch is Pulumi's mock runtime, and every mocked run re-imports the program
    // and sets its mocks afresh (test/support/mocked-run.ts); the one module mock
    // (provider-guards.test.ts, node:fs) is undone after each test.
    isolate: false,
    // Vitest runs cores - 1 forks by default: one on a 2-core machine. Most files wait on
    // mocked runs and child processes, so two forks on two cores finish about 25% sooner.
    maxWorkers: 2,
    // Mocked runs are shared between the test files of one run (test/support/mocked-run.ts).
    globalSetup: ["test/support/mocked-run-cache.ts"],
    testTimeout: 20_000,
  },
});
