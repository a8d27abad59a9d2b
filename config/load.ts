// Reads the `medianest:*` keys of the running stack and validates them before
// any resource exists. The SSH key leaves here only as a Pulumi secret.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, SECRET_CONFIG_KEYS, validateStackConfig, type SecretConfigKey, type StackConfig } from "./schema";

export type ConfigSecrets = Partial<Record<SecretConfigKey, pulumi.Output<string>>> & {
  /** medianest:appSecrets, by file name (app.extraSecrets). */
  readonly appSecrets?: Readonly<Record<string, pulumi.Output<string>>>;
};

export interface LoadedStackConfig {
  readonly config: StackConfig;
  /** Secret config values, as Pulumi secrets only. */
  readonly secrets: ConfigSecrets;
}

import * as runtimeConfigModule from "@pulumi/pulumi/runtime/config";

// `isConfigSecret` is exported by the runtime but marked internal, so absent from its typings.
const runtimeConfig = runtimeConfigModule as unknown as { isConfigSecret?: (key: string) => boolean };

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function rawStackConfig(): { raw: Record<string, unknown>; secretKeys: Set<string> } {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    // Secrets are text, never JSON (a numeric password must stay a string); the rest may be structured.
    raw[key] = (SECRET_CONFIG_KEYS as readonly string[]).includes(key) ? text : parseValue(text);
    if (runtimeConfig.isConfigSecret?.(fullKey)) secretKeys.add(key);
  }
  return { raw, secretKeys };
}

export function loadStackConfig(): LoadedStackConfig {
  const { raw, secretKeys } = rawStackConfig();
  const config = validateStackConfig(raw, { secretKeys, runningAsRoot: process.getuid?.() === 0 });
  const secrets: Partial<Record<SecretConfigKey, pulumi.Output<string>>> = {};
  for (const key of SECRET_CONFIG_KEYS) {
    const value = raw[key];
    if (typeof value === "string") secrets[key] = pulumi.secret(value);
  }
  // Validated above: an object of non-empty strings, set as a secret.
  const appSecrets = raw.appSecrets as Record<string, string> | undefined;
  return { config, secrets: { ...secrets, ...(appSecrets ? { appSecrets: Object.fromEntries(Object.entries(appSecrets).map(([file, value]) => [file, pulumi.secret(value)])) } : {}) } };
}
