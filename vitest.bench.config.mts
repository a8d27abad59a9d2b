import { defineConfig } from "vitest/config";

// The benchmark runs apart from `npm test`: it measures, it is not a timed test.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.ts"],
    pool: "forks",
    testTimeout: 300_000,
  },
});
