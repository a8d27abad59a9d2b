// Stack config validation: the shape (config/shape.ts), then every cross-key rule
// (config/rules.ts), then the defaults that depend on other keys (config/defaults.ts).
// Pure (no Pulumi imports) so every rule is unit-tested and each error names its key.
import { resolveDefaults, type StackConfig } from "./defaults";
import { ConfigError, configKey } from "./errors";
import { crossFieldIssues, type ValidationContext } from "./rules";
import { stackConfigSchema } from "./shape";

export { APP_SECRETS_KEY, CONFIG_NAMESPACE, SECRET_CONFIG_KEYS, SECRET_KEYS, stackConfigSchema, type HostConfig, type RawStackConfig, type SecretConfigKey } from "./shape";
export { pinnedImage } from "./fields";
export { ConfigError, configKey, type ConfigIssue } from "./errors";
export { CONFIG_RULES, type ConfigRule, type ValidationContext } from "./rules";
export { placementOptions, type StackConfig } from "./defaults";

/** Validates raw config; throws ConfigError listing every problem, each naming its key. */
export function validateStackConfig(raw: unknown, context: ValidationContext): StackConfig {
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        if (issue.code === "unrecognized_keys") {
          const keys = issue.keys.map((k) => configKey([...issue.path, k]));
          return { key: keys.join(", "), message: "unknown key (check the spelling against README's config reference)" };
        }
        return { key: configKey(issue.path), message: issue.message };
      }),
    );
  }
  const config = parsed.data;
  const issues = [...crossFieldIssues(config, context)];
  if (issues.length > 0) throw new ConfigError(issues);
  return resolveDefaults(config, context);
}
