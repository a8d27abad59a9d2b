// A service's environment in the container: at most one variable in Env, the rest in a
// content-addressed env file sourced before the image's own entrypoint.
import { ENV_FILE_PATH, secretPath, type ServiceSpec } from "./spec";

/**
 * The wrapper's shell: source the env file (when there is one), export each secret-backed
 * variable from its file (a missing file stops the container before the app starts), then
 * exec the image's own command.
 */
function wrapperScript(withEnvFile: boolean, secretEnv: Readonly<Record<string, string>>): string {
  const steps = [
    "set -a",
    ...(withEnvFile ? [`. ${ENV_FILE_PATH}`] : []),
    ...Object.entries(secretEnv)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, file]) => `${key}="$(cat ${file})"`),
    "set +a",
    'exec "$@"',
  ];
  return steps.join(" && ");
}

/** The wrapper as a command, followed by the image's own command. */
export const environmentWrapper = (withEnvFile: boolean, secretEnv: Readonly<Record<string, string>>, exec: readonly string[]): string[] => [
  "/bin/sh",
  "-c",
  wrapperScript(withEnvFile, secretEnv),
  "medianest-env",
  ...exec,
];

function shellSingleQuoted(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The provider sends ContainerSpec.Env in Go map order, which is random
 * (terraform-provider-docker v4.5.0 createContainerSpec → mapTypeMapValsToStringSlice),
 * and Swarm compares a task's spec with the service's exactly (swarmkit
 * orchestrator.IsTaskDirty, moby#32344): with two or more variables any update of the
 * service restarts its tasks. So at most one variable stays in Env (a Swarm template such
 * as {{.Task.Slot}}, which only Env expands); the others become a content-addressed env
 * file that a shell wrapper sources before it execs the image's own entrypoint. A changed
 * value is a new file, so it still rolls the service as a changed Env would.
 */
export function deliverEnvironment(spec: ServiceSpec): ServiceSpec {
  const entries = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const secretEnv = Object.fromEntries(Object.entries(spec.secretEnv ?? {}).map(([key, name]) => [key, secretPath(name)]));
  const hasSecretEnv = Object.keys(secretEnv).length > 0;
  for (const [key, name] of Object.entries(spec.secretEnv ?? {})) {
    if (!spec.secrets.includes(name)) throw new Error(`service ${spec.name}: ${key} comes from secret ${name}, which the service does not mount`);
    if (key in spec.env) throw new Error(`service ${spec.name}: ${key} is set both as a setting and from a secret`);
  }
  if (entries.length <= 1 && !hasSecretEnv) return spec;
  if (entries.length <= 1) {
    const exec = spec.command ?? spec.entrypoint;
    if (!exec) throw new Error(`service ${spec.name}: variables from secrets need the image's entrypoint (spec.entrypoint)`);
    return { ...spec, command: environmentWrapper(false, secretEnv, exec) };
  }
  const templated = entries.filter(([, value]) => value.includes("{{"));
  if (templated.length > 1) {
    throw new Error(`service ${spec.name}: Swarm templates in ${templated.map(([k]) => k).join(", ")}: only one variable can stay in the container's Env`);
  }
  const exec = spec.command ?? spec.entrypoint;
  if (!exec) throw new Error(`service ${spec.name}: ${entries.length} environment variables go through an env file, which needs the image's entrypoint (spec.entrypoint)`);
  const filed = entries.filter(([, value]) => !value.includes("{{"));
  for (const [key, value] of filed) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`service ${spec.name}: environment variable name ${key} cannot be written to an env file`);
    if (/[\n\0]/.test(value)) throw new Error(`service ${spec.name}: environment variable ${key} contains a line break`);
  }
  return {
    ...spec,
    env: Object.fromEntries(templated),
    envFile: { name: `env-${spec.name}`, content: filed.map(([key, value]) => `${key}=${shellSingleQuoted(value)}\n`).join("") },
    command: environmentWrapper(true, secretEnv, exec),
  };
}

/** The variables of an env file written by deliverEnvironment (policies and tests read them back). */
export function parseEnvFile(content: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of content.split("\n").filter((l) => l !== "")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)='((?:[^']|'\\'')*)'$/.exec(line);
    if (!m) throw new Error(`env file line is not KEY='value': ${line.slice(0, 60)}`);
    out[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return out;
}
