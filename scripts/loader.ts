// The shell scripts the components run on hosts, loaded from scripts/*.sh with their
// shared helpers bundled in. The bundled content is what gets sent (as stdin, or as a
// Swarm config), so tests and the lab can prove that the very same text runs everywhere.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";

export const SCRIPT_NAMES = [
  "host/check-os.sh",
  "host/install-docker.sh",
  "host/docker-access.sh",
  "host/daemon-config.sh",
  "host/data-dirs.sh",
  "host/nfs-mount.sh",
  "host/docker-mounts.sh",
  "host/firewall.sh",
  "host/sshd-sessions.sh",
  "swarm/init.sh",
  "swarm/join.sh",
  "swarm/leave.sh",
  "swarm/node-config.sh",
  "swarm/node-remove.sh",
  "swarm/predeploy-backup.sh",
  "swarm/migrate.sh",
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export interface Script {
  readonly name: ScriptName;
  readonly path: string;
  readonly content: string;
  readonly sha256: string;
}

export const SCRIPTS_DIR = __dirname;

const cache = new Map<ScriptName, Script>();

/**
 * A script's library include: a ShellCheck directive naming the file, then the source line
 * that reads it from beside the script. Run from the repository, the source line works as
 * it is; sent to a host or a container, the library's text takes its place.
 */
const INCLUDE = /^# shellcheck source-path=SCRIPTDIR source=(\S+)\n\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/(\S+)"\n/gm;

/** A script file's text with every library include replaced by the library (itself bundled). */
export function bundledScript(file: string, including: readonly string[] = []): string {
  if (including.includes(file)) throw new Error(`${path.relative(SCRIPTS_DIR, file)} includes itself (${including.map((f) => path.relative(SCRIPTS_DIR, f)).join(" -> ")})`);
  const text = readFileSync(file, "utf8");
  return text.replace(INCLUDE, (_line, directive: string, sourced: string) => {
    if (directive !== sourced) throw new Error(`${path.relative(SCRIPTS_DIR, file)}: the shellcheck directive names ${directive} but the source line reads ${sourced}`);
    const library = path.resolve(path.dirname(file), sourced);
    const body = bundledScript(library, [...including, file]).replace(/^#!.*\n/, "");
    return `# ---- bundled from scripts/${path.relative(SCRIPTS_DIR, library)} ----\n${body}# ---- end of scripts/${path.relative(SCRIPTS_DIR, library)} ----\n`;
  });
}

export function loadScript(name: ScriptName): Script {
  let script = cache.get(name);
  if (!script) {
    const file = path.join(SCRIPTS_DIR, name);
    const content = bundledScript(file);
    script = { name, path: file, content, sha256: createHash("sha256").update(content).digest("hex") };
    cache.set(name, script);
  }
  return script;
}

/**
 * Secret values reach a script as shell variables assigned ahead of the script on its
 * stdin: never in the command line (which sudo logs, `ps` shows and pulumi-command quotes
 * in its error message) and never in the environment. Names are MEDIANEST_* constants.
 */
export const SECRET_VARIABLE = /^MEDIANEST_[A-Z0-9_]+$/;

function singleQuoted(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** stdin for `bash -s`: `NAME='value'` lines for the secrets (if any), then the script itself. */
export function composeStdin(script: Script, secrets: Readonly<Record<string, string>> = {}): string {
  const names = Object.keys(secrets).sort();
  for (const name of names) {
    if (!SECRET_VARIABLE.test(name)) throw new Error(`script ${script.name}: secret variable ${name} must match ${SECRET_VARIABLE.source}`);
    if (/[\n\r\0]/.test(secrets[name])) throw new Error(`script ${script.name}: secret ${name} contains a line break or NUL`);
  }
  const preamble = names.map((name) => `${name}=${singleQuoted(secrets[name])}\n`).join("");
  return preamble + script.content;
}

/** The inverse of composeStdin: which of our scripts a stdin carries, and the secret assignments before it. */
export function parseStdin(stdin: string): { readonly script: ScriptName; readonly secrets: Readonly<Record<string, string>> } {
  const start = stdin.indexOf("#!");
  if (start < 0) throw new Error("stdin carries no script (no #! line)");
  const content = stdin.slice(start);
  const sha256 = createHash("sha256").update(content).digest("hex");
  const name = SCRIPT_NAMES.find((n) => loadScript(n).sha256 === sha256);
  if (!name) throw new Error("stdin carries none of the program's scripts");
  const secrets: Record<string, string> = {};
  for (const line of stdin.slice(0, start).split("\n").filter((l) => l !== "")) {
    const m = /^(MEDIANEST_[A-Z0-9_]+)='((?:[^']|'\\'')*)'$/.exec(line);
    if (!m) throw new Error(`unexpected line before the script on stdin: ${line.slice(0, 40)}`);
    secrets[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return { script: name, secrets };
}
