// The lab's data image `medianest-lab/data:1` (no registry is reachable): a Debian
// bookworm rootfs made by debootstrap with PostgreSQL 15, Redis and Sentinel from
// Debian's packages, for the program's postgres/redis/sentinel services (its scripts find
// their binaries by path, not by image conventions). The tar is cached outside the repo
// (CACHE_DIR, like the stand-in), keyed by a hash of the recipe; the rootfs is built in a
// directory of the lab's run dir, so cleanup.sh (and the watchdog) kill an interrupted
// debootstrap and its chroot'ed children and remove its mounts and files.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync } from "node:fs";
import * as path from "node:path";
import type { Engine } from "./engine";
import { CACHE_DIR } from "./standin-image";

export const DATA_IMAGE = "medianest-lab/data:1";
export const DATA_SUITE = "bookworm";
export const DATA_PACKAGES = ["postgresql-15", "redis-server", "redis-sentinel", "haproxy", "procps", "iproute2"] as const;
/** PostgreSQL's versioned bin directory first, as the official image has its binaries on PATH. */
export const DATA_PATH = "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CHANGES = [`ENV PATH=${DATA_PATH}`, "ENV LANG=C.UTF-8", 'CMD ["bash"]', "WORKDIR /"];

/** Everything that decides a debootstrapped image's content (and so its cache key). */
export interface DebianImageRecipe {
  /** Cache file prefix: `<name>-<hash>.tar`. */
  readonly name: string;
  readonly packages: readonly string[];
  /** `docker import --change` lines. */
  readonly changes: readonly string[];
  /** What the rootfs must hold, checked before the tar is cached. */
  readonly requiredFiles: readonly string[];
  /** Directories emptied (apt caches, docs, translations...). */
  readonly trimmed: readonly string[];
  /** Edits to the rootfs after debootstrap (symlinks...), as data so the cache key sees them. */
  readonly links?: readonly { readonly path: string; readonly target: string }[];
  /** Extra tars cut from the finished rootfs (each its own cache file next to the main one). */
  readonly extracts?: readonly { readonly name: string; readonly build: (root: string, tar: string) => Promise<void>; readonly recipe: string }[];
}

/** What the image must hold, checked before the tar is cached. */
const REQUIRED_FILES = [
  "usr/lib/postgresql/15/bin/postgres",
  "usr/lib/postgresql/15/bin/initdb",
  "usr/lib/postgresql/15/bin/pg_basebackup",
  "usr/lib/postgresql/15/bin/pg_isready",
  "usr/lib/postgresql/15/bin/psql",
  "usr/bin/redis-server",
  "usr/bin/redis-sentinel",
  "usr/bin/redis-cli",
  "usr/sbin/haproxy",
  "usr/bin/setpriv",
  "usr/bin/getent",
  "usr/sbin/ip",
];
/** Not needed in a container, as in Debian's slim images: apt caches, documentation, translations. */
export const TRIMMED_DIRS = ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"];

export const DATA_RECIPE: DebianImageRecipe = {
  name: "data",
  packages: DATA_PACKAGES,
  changes: CHANGES,
  requiredFiles: REQUIRED_FILES,
  // And Debian's packaged cluster: the entrypoint makes its own.
  trimmed: [...TRIMMED_DIRS, "var/lib/postgresql/15/main", "etc/postgresql/15/main"],
};
/** Debootstrap (about 60 s here) plus tar; bounded. */
const BUILD_TIMEOUT_MS = 600_000;

/** apt's source files: /etc/apt/sources.list and sources.list.d/*.list|*.sources. */
function aptSources(): { file: string; text: string }[] {
  const files = ["/etc/apt/sources.list", ...(existsSync("/etc/apt/sources.list.d") ? readdirSync("/etc/apt/sources.list.d").map((f) => `/etc/apt/sources.list.d/${f}`) : [])];
  return files.filter((f) => /\.(list|sources)$/.test(f) && existsSync(f)).map((file) => ({ file, text: readFileSync(file, "utf8") }));
}

/** The first http(s) mirror of `suite` main in apt sources (deb822 `URIs:` stanzas or one-line `deb URI SUITE ...`). */
export function parseDebianMirror(sources: readonly { file: string; text: string }[], suite = DATA_SUITE): string | undefined {
  for (const { file, text } of sources) {
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "mi").exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (/^Enabled:\s*no/im.test(stanza)) continue;
        if (field("Types").includes("deb") && field("Suites").includes(suite) && field("Components").includes("main")) {
          const uri = field("URIs").find((u) => /^https?:\/\//.test(u));
          if (uri) return uri;
        }
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)\s+(.*)$/.exec(line);
        if (m && m[2] === suite && m[3].split(/\s+/).includes("main")) return m[1];
      }
    }
  }
  return undefined;
}

/** The Debian mirror apt uses here, for `suite`. */
export function debianMirror(suite = DATA_SUITE): string {
  const mirror = parseDebianMirror(aptSources(), suite);
  if (!mirror) throw new Error(`no Debian mirror for ${suite} main in /etc/apt/sources.list*`);
  return mirror;
}

export interface BuiltDataImage {
  readonly tar: string;
  readonly cached: boolean;
  readonly seconds: number;
  readonly changes: readonly string[];
}

/** rm -rf that never crosses into a mount (a killed build's /proc or /sys). */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const result = spawnSync("rm", ["-rf", "--one-file-system", "--", dir], { encoding: "utf8", timeout: 120_000 });
  if (result.status !== 0) throw new Error(`rm -rf ${dir} failed: ${result.stderr}`);
}

/** The recipe the cache is keyed by: everything that decides the image's content. */
function recipeKey(recipe: DebianImageRecipe, mirror: string): string {
  const debootstrapVersion = spawnSync("dpkg-query", ["-W", "-f=${Version}", "debootstrap"], { encoding: "utf8" }).stdout.trim();
  // The data image's key keeps its original shape, so its cached tar stays valid.
  const base = { suite: DATA_SUITE, variant: "minbase", packages: recipe.packages, mirror, debootstrapVersion, CHANGES: recipe.changes, REQUIRED_FILES: recipe.requiredFiles, TRIMMED: recipe.trimmed, format: 1 };
  if (recipe.links === undefined && recipe.extracts === undefined) return JSON.stringify(base);
  return JSON.stringify({ ...base, links: recipe.links ?? [], extracts: (recipe.extracts ?? []).map((e) => [e.name, e.recipe]) });
}

export function runBounded(command: string, args: string[], logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: string[] = [];
    const keep = (d: Buffer) => {
      chunks.push(d.toString("utf8"));
      if (chunks.length > 400) chunks.splice(0, chunks.length - 400);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.slice(0, 6).join(" ")} … failed (${code ?? signal}); see ${logFile}:\n${chunks.join("").split("\n").slice(-25).join("\n")}`));
    });
  });
}

export interface BuiltDebianImage extends BuiltDataImage {
  /** The extra tars by name. */
  readonly extracts: ReadonlyMap<string, string>;
}

/**
 * Builds (or reuses) an image's rootfs tar. `workDir` must be inside the lab's run dir
 * (/tmp/mnlab-<run>/…), so an interrupted build is cleaned up with the lab.
 */
export async function buildDebianImageTar(recipe: DebianImageRecipe, workDir: string): Promise<BuiltDebianImage> {
  const started = Date.now();
  const mirror = debianMirror();
  const hash = createHash("sha256").update(recipeKey(recipe, mirror)).digest("hex").slice(0, 16);
  const tar = path.join(CACHE_DIR, `${recipe.name}-${hash}.tar`);
  const extracts = new Map((recipe.extracts ?? []).map((e) => [e.name, path.join(CACHE_DIR, `${recipe.name}-${hash}-${e.name}.tar`)]));
  if (existsSync(tar) && [...extracts.values()].every((t) => existsSync(t))) return { tar, cached: true, seconds: 0, changes: recipe.changes, extracts };
  if (!existsSync("/usr/sbin/debootstrap")) throw new Error("debootstrap missing: apt-get install debootstrap");
  if (!workDir.startsWith("/tmp/mnlab-")) throw new Error(`image work dir ${workDir} is not inside a lab run dir`);

  mkdirSync(CACHE_DIR, { recursive: true });
  // Partial tars of builds that died (their pid is gone).
  for (const f of readdirSync(CACHE_DIR)) {
    const m = /^[a-z-]+-[0-9a-f]+(?:-[a-z-]+)?\.tar\.partial-(\d+)$/.exec(f);
    if (m && spawnSync("kill", ["-0", m[1]]).status !== 0) unlinkSync(path.join(CACHE_DIR, f));
  }
  const root = path.join(workDir, "rootfs");
  removeTree(workDir);
  mkdirSync(root, { recursive: true });
  const log = path.join(workDir, "debootstrap.log");
  // In a mount namespace of its own: the /proc and /sys debootstrap mounts in the target
  // vanish with it, even when it is killed.
  await runBounded(
    "unshare",
    ["--mount", "--propagation", "private", "debootstrap", "--variant=minbase", `--include=${recipe.packages.join(",")}`, DATA_SUITE, root, mirror],
    log,
    BUILD_TIMEOUT_MS,
  );
  for (const link of recipe.links ?? []) {
    const full = path.join(root, link.path);
    // Bookworm's /bin is usr/bin (merged /usr): a link may name the file itself. Never
    // replace what the packages installed.
    if (existsSync(full)) {
      if (realpathSync(full) === realpathSync(path.join(root, link.target))) continue;
      throw new Error(`${link.path} exists in the rootfs and is not ${link.target}`);
    }
    symlinkSync(link.target, full);
  }
  const missing = recipe.requiredFiles.filter((f) => !existsSync(path.join(root, f)));
  if (missing.length > 0) throw new Error(`the debootstrapped rootfs lacks ${missing.join(", ")}`);
  for (const dir of recipe.trimmed) {
    const full = path.join(root, dir);
    if (existsSync(full) && statSync(full).isDirectory()) {
      for (const entry of readdirSync(full)) if (!["partial", "lock", "locale.alias"].includes(entry)) rmSync(path.join(full, entry), { recursive: true, force: true });
    }
  }
  const partials: string[] = [];
  try {
    for (const extract of recipe.extracts ?? []) {
      const target = extracts.get(extract.name) as string;
      const partial = `${target}.partial-${process.pid}`;
      partials.push(partial);
      await extract.build(root, partial);
      renameSync(partial, target);
    }
    const partial = `${tar}.partial-${process.pid}`;
    partials.push(partial);
    await runBounded("tar", ["--numeric-owner", "--xattrs", "--one-file-system", "-C", root, "-cf", partial, "."], log, 300_000);
    renameSync(partial, tar);
  } finally {
    for (const partial of partials) rmSync(partial, { force: true });
    removeTree(workDir);
  }
  return { tar, cached: false, seconds: (Date.now() - started) / 1000, changes: recipe.changes, extracts };
}

/** The data image's rootfs tar (DATA_RECIPE). */
export const buildDataImageTar = (workDir: string): Promise<BuiltDebianImage> => buildDebianImageTar(DATA_RECIPE, workDir);

export async function importDataImage(engine: Engine, image: BuiltDataImage): Promise<void> {
  const [repo, tag] = DATA_IMAGE.split(":");
  await engine.importImage(createReadStream(image.tar), repo, tag, image.changes);
}
