import { defineConfig } from "vitest/config";

// Real PostgreSQL and Redis (Debian packages) driven by the data-tier scripts:
// slower than the unit suite and needs root, so it has its own npm script.
export default defineConfig({
  test: {
    include: ["test/data-scripts.test.ts", "test/data-postgres-members.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
