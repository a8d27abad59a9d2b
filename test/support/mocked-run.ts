// The mocked program run, inside vitest: modules are reset through vitest's own registry.
import { vi } from "vitest";
import { mockedRun as runMockedProgram, type MockedRun, type MockedRunOptions, type StackName } from "../../tools/mocked-program";

export * from "../../tools/mocked-program";

export function mockedRun(stack: StackName, options: MockedRunOptions = {}): Promise<MockedRun> {
  return runMockedProgram(stack, {
    ...options,
    resetModules: () => vi.resetModules(),
    loadProgram: async () => (await import("../../index")) as Record<string, unknown>,
  });
}
