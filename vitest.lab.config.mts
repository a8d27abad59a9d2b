import { defineConfig } from "vitest/config";
export default defineConfig({ test: { include: ["test/lab/**/*.test.ts"], pool: "forks", testTimeout: 120000 } });
