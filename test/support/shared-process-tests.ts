// The unit test files that share their worker's process (vitest.config.mts, `isolate: false`):
// they never start Pulumi's mock runtime or mock a module, so they need no fresh fork, and
// skipping a fork's start-up (~1 s) per file keeps `npm test` inside its minute.
// test/layering.test.ts holds each of them to that.
export const SHARED_PROCESS_TESTS: readonly string[] = [
  "availability-alerts",
  "backup-pipeline",
  "config",
  "config-reference",
  "container-lib",
  "layering",
  "metric-sources",
  "monitoring-config",
  "monitoring-tools",
  "properties",
  "script-behaviour",
  "scripts",
  "service-plan",
  "standin-socketio",
  "topology",
  "workflows",
].map((name) => `test/${name}.test.ts`);

/** What a shared-process file must not contain: process-global Pulumi or module state. */
export const NEEDS_OWN_PROCESS = /\b(mockedRun|runOf|setMocks|vi\.(mock|doMock|stubEnv|stubGlobal|resetModules))\b|@pulumi\/pulumi/;
