// Each host and swarm script's arguments, typed: one table says which --flags a script
// takes and of what kind; `scriptArgv` writes a call's command-line arguments from it and
// `parseScriptArgv` reads them back. The program, the policies, the tests and the lab all
// go through this pair, so no one indexes arguments by position. The scripts parse the
// same flags with lib/flags.sh.
import { scriptArgs } from "./command-line";
import type { ScriptName } from "./loader";

type FlagKind = "value" | "optional" | "bool" | "int" | "list" | "repeat" | "switch" | "rest";

interface Flag<K extends FlagKind = FlagKind> {
  /** The flag without its leading dashes; "" for the words after `--`. */
  readonly name: string;
  readonly kind: K;
}

const value = (name: string): Flag<"value"> => ({ name, kind: "value" });
/** Omitted when undefined or empty: the script's default is "". */
const optional = (name: string): Flag<"optional"> => ({ name, kind: "optional" });
const bool = (name: string): Flag<"bool"> => ({ name, kind: "bool" });
const int = (name: string): Flag<"int"> => ({ name, kind: "int" });
/** Comma-separated in one value ("" when empty). */
const list = (name: string): Flag<"list"> => ({ name, kind: "list" });
/** The flag once per value. */
const repeat = (name: string): Flag<"repeat"> => ({ name, kind: "repeat" });
/** A bare flag, present when true. */
const toggle = (name: string): Flag<"switch"> => ({ name, kind: "switch" });
/** Words passed on after `--`, for a command the script runs. */
const rest: Flag<"rest"> = { name: "", kind: "rest" };

const owner = value("owner");
const role = value("role");

export const SCRIPT_INTERFACES = {
  "host/check-os.sh": {},
  "host/install-docker.sh": {},
  "host/docker-access.sh": { user: value("user") },
  "host/daemon-config.sh": { json: value("json") },
  /** PATH:MODE:OWNER:GROUP per directory. */
  /** PATH:MODE:OWNER:GROUP per directory; KEY=PATH per directory that must not be on a network filesystem. */
  "host/data-dirs.sh": { dirs: repeat("dir"), localOnly: repeat("local-only"), minioMove: optional("minio-move") },
  "host/nfs-mount.sh": {
    state: value("state"),
    server: optional("server"),
    exportPath: optional("export"),
    mountPoint: value("mount-point"),
    options: optional("options"),
    owner,
    /** Tests only: the fstab to edit instead of /etc/fstab. */
    fstab: optional("fstab"),
  },
  "host/docker-mounts.sh": {
    state: value("state"),
    mountPoint: optional("mount-point"),
    owner,
    /** Tests only: the systemd unit directory instead of /etc/systemd/system. */
    unitDir: optional("unit-dir"),
  },
  "host/firewall.sh": {
    self: value("self"),
    role,
    peers: list("peers"),
    managers: list("managers"),
    encrypted: bool("encrypted"),
    publicPorts: list("public-ports"),
    trusted: list("trusted"),
    /** The boot-time unit's run: apply the rules, install nothing. */
    noPersist: toggle("no-persist"),
  },
  "host/sshd-sessions.sh": { maxSessions: int("max-sessions") },
  "swarm/init.sh": {
    owner,
    advertiseAddress: value("advertise-addr"),
    listenAddress: value("listen-addr"),
    dataPathAddress: optional("data-path-addr"),
    autolock: bool("autolock"),
  },
  "swarm/join.sh": {
    owner,
    role,
    leaderAddress: value("leader-addr"),
    advertiseAddress: value("advertise-addr"),
    listenAddress: value("listen-addr"),
    dataPathAddress: optional("data-path-addr"),
    clusterId: value("cluster-id"),
  },
  "swarm/leave.sh": { owner },
  "swarm/node-config.sh": { owner, nodeId: value("node-id"), role, availability: value("availability"), labels: repeat("label") },
  "swarm/node-remove.sh": { owner, nodeId: value("node-id"), drainTimeoutSeconds: int("drain-timeout"), stateful: repeat("stateful") },
  "swarm/predeploy-backup.sh": {
    service: value("service"),
    images: list("images"),
    /** The primary's data directory on the host: a worker without the task passes only while it holds no database. */
    databaseDir: value("database-dir"),
    /** How long a (re)starting task is waited for before the rollout is refused; the script's default is 20. */
    waitSeconds: optional("wait-seconds"),
    dumpArgs: rest,
  },
  "swarm/migrate.sh": {
    images: repeat("image"),
    network: value("network"),
    /** The Swarm secret holding the database URL (its generated name). */
    secret: value("secret"),
    uid: int("uid"),
    gid: int("gid"),
    timeoutSeconds: int("timeout"),
    constraints: repeat("constraint"),
    command: rest,
  },
} as const satisfies Record<ScriptName, Record<string, Flag>>;

type Interfaces = typeof SCRIPT_INTERFACES;

/** A flag's value in a call; `V` is what else a plain value may be (a Pulumi Input, say). */
type FlagValue<F, V> = F extends Flag<"value">
  ? string | V
  : F extends Flag<"optional">
    ? string
    : F extends Flag<"bool"> | Flag<"switch">
      ? boolean
      : F extends Flag<"int">
        ? number
        : F extends Flag<"list">
          ? // A list may also come joined, as one value that is known only later.
            readonly string[] | V
          : readonly (string | V)[];

type OptionalKind = Flag<"optional"> | Flag<"switch">;
type RequiredKeys<T> = { [K in keyof T]: T[K] extends OptionalKind ? never : K }[keyof T];
type OptionalKeys<T> = { [K in keyof T]: T[K] extends OptionalKind ? K : never }[keyof T];

export type ScriptArgs<N extends ScriptName, V = never> = { readonly [K in RequiredKeys<Interfaces[N]>]: FlagValue<Interfaces[N][K], V> } & {
  readonly [K in OptionalKeys<Interfaces[N]>]?: FlagValue<Interfaces[N][K], V>;
};

/** One script and its arguments. */
export type ScriptCall<V = never> = { [N in ScriptName]: { readonly script: N; readonly args: ScriptArgs<N, V> } }[ScriptName];

/** Build a call, its arguments checked against the script's interface. */
export function scriptCall<N extends ScriptName, V = never>(script: N, args: ScriptArgs<N, V>): ScriptCall<V> {
  return { script, args } as unknown as ScriptCall<V>;
}

function flagsOf(script: ScriptName): [string, Flag][] {
  return Object.entries(SCRIPT_INTERFACES[script] as Record<string, Flag>);
}

/** A value as one argument: no NUL (no argv can hold it), and no line break where lib/flags.sh keeps values one per line. */
function word(script: ScriptName, flag: Flag, text: string): string {
  if (text.includes("\0")) throw new Error(`${script}: the value of --${flag.name} contains a NUL`);
  if (flag.kind === "repeat" && /[\n\r]/.test(text)) throw new Error(`${script}: a value of --${flag.name} contains a line break`);
  return text;
}

/** The command-line arguments of a call, in the interface's order (so equal calls are equal command lines). */
export function scriptArgv<V = never>(call: ScriptCall<V>): (string | V)[] {
  const args = call.args as Record<string, unknown>;
  const argv: (string | V)[] = [];
  for (const [key, flag] of flagsOf(call.script)) {
    const given = args[key];
    const at = `--${flag.name}`;
    switch (flag.kind) {
      case "value":
        if (given === undefined) throw new Error(`${call.script}: ${key} (${at}) is required`);
        argv.push(at, typeof given === "string" ? word(call.script, flag, given) : (given as V));
        break;
      case "optional":
        if (given !== undefined && given !== "") argv.push(at, word(call.script, flag, String(given)));
        break;
      case "bool":
        argv.push(at, String(Boolean(given)));
        break;
      case "int":
        if (!Number.isInteger(given)) throw new Error(`${call.script}: ${key} (${at}) must be a whole number, got ${String(given)}`);
        argv.push(at, String(given));
        break;
      case "list": {
        if (given !== undefined && !Array.isArray(given)) {
          argv.push(at, given as V);
          break;
        }
        const items = (given ?? []) as readonly string[];
        for (const item of items) if (item.includes(",") || item === "") throw new Error(`${call.script}: ${at} item ${JSON.stringify(item)} is empty or holds a comma`);
        argv.push(at, word(call.script, flag, items.join(",")));
        break;
      }
      case "repeat":
        for (const item of (given ?? []) as readonly (string | V)[]) argv.push(at, typeof item === "string" ? word(call.script, flag, item) : item);
        break;
      case "switch":
        if (given === true) argv.push(at);
        break;
      case "rest":
        argv.push("--", ...((given ?? []) as readonly string[]));
        break;
    }
  }
  return argv;
}

/** The inverse of scriptArgv, strict: an unknown, repeated or missing flag is an error. */
export function parseScriptArgv<N extends ScriptName>(script: N, argv: readonly string[]): ScriptArgs<N> {
  const flags = flagsOf(script);
  const byName = new Map(flags.map(([key, flag]) => [flag.name, [key, flag] as const]));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const at = argv[i];
    if (at === "--" && byName.has("")) {
      out[(byName.get("") as readonly [string, Flag])[0]] = argv.slice(i + 1);
      break;
    }
    const entry = at.startsWith("--") ? byName.get(at.slice(2)) : undefined;
    if (!entry || entry[1].kind === "rest") throw new Error(`${script}: unexpected argument ${JSON.stringify(at)}`);
    const [key, flag] = entry;
    if (flag.kind === "switch") {
      out[key] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`${script}: ${at} needs a value`);
    const text = argv[++i];
    if (flag.kind === "repeat") {
      out[key] = [...((out[key] as string[] | undefined) ?? []), text];
      continue;
    }
    if (key in out) throw new Error(`${script}: ${at} is given twice`);
    if (flag.kind === "bool") {
      if (text !== "true" && text !== "false") throw new Error(`${script}: ${at} must be true or false, got ${JSON.stringify(text)}`);
      out[key] = text === "true";
    } else if (flag.kind === "int") {
      if (!/^[0-9]+$/.test(text)) throw new Error(`${script}: ${at} must be a whole number, got ${JSON.stringify(text)}`);
      out[key] = Number(text);
    } else if (flag.kind === "list") {
      out[key] = text === "" ? [] : text.split(",");
    } else {
      out[key] = text;
    }
  }
  for (const [key, flag] of flags) {
    if (key in out) continue;
    if (flag.kind === "repeat" || flag.kind === "rest") out[key] = [];
    else if (flag.kind === "switch") out[key] = false;
    else if (flag.kind !== "optional") throw new Error(`${script}: --${flag.name} is missing`);
  }
  return out as ScriptArgs<N>;
}

/** Flags of a script as the shell's parse_flags spec names them (tests compare it with the script). */
export function shellFlagSpec(script: ScriptName): string[] {
  return flagsOf(script).map(([, flag]) => (flag.kind === "rest" ? "..." : flag.kind === "repeat" ? `${flag.name}*` : flag.kind === "switch" ? `${flag.name}!` : flag.name));
}

/** The arguments of a recorded `[sudo -n] bash -s -- …` command line running `script`. */
export function parseScriptCommand<N extends ScriptName>(script: N, commandLine: string): ScriptArgs<N> {
  return parseScriptArgv(script, scriptArgs(commandLine));
}
