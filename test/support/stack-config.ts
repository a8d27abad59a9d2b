// A stack file's config validated the way the program does it, for pure tests.
import { SECRET_KEYS, validateStackConfig, type RawStackConfig, type StackConfig } from "../../config/schema";
import { testConfig, type StackName } from "./mocked-run";

export function validatedStackConfig(stack: StackName, overrides: Partial<RawStackConfig> = {}): StackConfig {
  const raw = { ...Object.fromEntries(Object.entries(testConfig(stack)).map(([k, v]) => [k.replace(/^medianest:/, ""), v])), ...overrides };
  // Every secret key given is given as a secret (as the README tells the operator).
  const secretKeys = new Set(Object.keys(raw).filter((k) => SECRET_KEYS.includes(k)));
  return validateStackConfig(raw, { secretKeys, runningAsRoot: true });
}
