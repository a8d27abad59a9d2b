// The shell scripts the components run on hosts, loaded from scripts/*.sh. The
// file content is what gets sent (as stdin), so tests and the lab can prove that
// the very same files run everywhere.
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
  "host/firewall.sh",
  "swarm/init.sh",
  "swarm/join.sh",
  "swarm/leave.sh",
  "swarm/node-config.sh",
  "swarm/node-remove.sh",
  "swarm/predeploy-backup.sh",
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export interface Script {
  readonly name: ScriptName;
  readonly path: string;
  readonly content: string;
  readonly sha256: string;
}

export const SCRIPTS_DIR = path.resolve(__dirname, "..", "scripts");

const cache = new Map<ScriptName, Script>();

export function loadScript(name: ScriptName): Script {
  let script = cache.get(name);
  if (!script) {
    const file = path.join(SCRIPTS_DIR, name);
    const content = readFileSync(file, "utf8");
    script = { name, path: file, content, sha256: createHash("sha256").update(content).digest("hex") };
    cache.set(name, script);
  }
  return script;
}
