// A service's environment in the container: at most one variable in Env, the rest in a
// content-addressed env file sourced before the image's own entrypoint.
import { ENV_FILE_PATH, type ServiceSpec } from "./spec";

/** Sources ENV_FILE_PATH (exporting every variable), then runs the image's own command. */
export const ENV_FILE_WRAPPER = ["/bin/sh", "-c", `set -a && . ${ENV_FILE_PATH} && set +a && exec "$@"`, "medianest-env"] as const;

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
  if (entries.length <= 1) return spec;
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
    command: [...ENV_FILE_WRAPPER, ...exec],
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
