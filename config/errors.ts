// A config problem names the exact key (medianest:hosts[1].address) and what to do.
import { CONFIG_NAMESPACE } from "./shape";

export interface ConfigIssue {
  /** Fully qualified key, e.g. "medianest:hosts[1].address". */
  readonly key: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`Invalid stack configuration:\n${issues.map((i) => `  - ${i.key}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function configKey(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path;
  const tail = rest.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
  return `${CONFIG_NAMESPACE}:${head === undefined ? "" : String(head)}${tail}`;
}
