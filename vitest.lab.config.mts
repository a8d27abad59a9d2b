import { defineConfig } from "vitest/config";

// The real test lab (test/lab/README.md): four sshd + dockerd hosts in network namespaces
// on this machine, formed into a swarm by the program's own scripts. Needs root; one file
// at a time in one forked worker (the lab is machine-global state), generous timeouts.
export const labTestOptions = {
  pool: "forks",
  maxWorkers: 1,
  fileParallelism: false,
  sequence: { concurrent: false },
  testTimeout: 300_000,
  hookTimeout: 300_000,
  teardownTimeout: 120_000,
} as const;

// Part 2 (test/lab/data.test.ts: data tier, rolling update, rollback, blue-green,
// manager loss) has its own script, test:lab:data (about 7 minutes).
export default defineConfig({
  test: {
    include: ["test/lab/lab.test.ts", "test/lab/translators.test.ts"],
    ...labTestOptions,
  },
});
