import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real-host suites have their own scripts: test:data (PostgreSQL/Redis) and the lab.
    exclude: ["test/lab/**", "test/data-scripts.test.ts", "node_modules/**"],
    // Pulumi's mock runtime is process-global state: isolate each file in its own fork.
    pool: "forks",
    // Mocked runs are shared between the test files of one run (test/support/mocked-run.ts).
    globalSetup: ["test/support/mocked-run-cache.ts"],
    testTimeout: 20_000,
  },
});
