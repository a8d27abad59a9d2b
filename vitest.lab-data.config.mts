import { defineConfig } from "vitest/config";
import { labTestOptions } from "./vitest.lab.config.mjs";

// The lab, part 2 (test/lab/data.test.ts): the data tier and the deployment strategies
// on the real hosts, with faults. .ci/run runs it after test:lab.
export default defineConfig({ test: { include: ["test/lab/data.test.ts"], ...labTestOptions } });
