import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/lab/**", "node_modules/**"],
    // Pulumi's mock runtime is process-global state: isolate each file in its own fork.
    pool: "forks",
    testTimeout: 20_000,
  },
});
