// The lab's stand-in for the MediaNest app images (no registry is reachable): a rootfs
// tar built from Debian's busybox-static — /bin/busybox and its applet links, httpd
// serving /www on $PORT (with /api/health, and CGIs for /metrics and /socket.io), and a
// `node` shim that runs the program's health check with busybox wget. The tar is cached outside the repo, keyed by
// the hash of everything that goes into it, and `docker import`ed on every lab host.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { FORBIDDEN_SECRET_WORDS, MEDIANEST_CONTRACT, SECRET_VALUE_RULES } from "../../domain/app-contract";
import type { Engine } from "./engine";

export const STANDIN_IMAGE = "medianest-lab/standin:1";
export const CACHE_DIR = process.env.MEDIANEST_LAB_CACHE ?? "/var/cache/medianest-lab";
const BUSYBOX = "/bin/busybox";
const NODE_SHIM = path.join(__dirname, "standin", "node.sh");
/** The contract's migration command (`npx prisma migrate deploy`), checking its input. */
const NPX_SHIM = path.join(__dirname, "standin", "npx.sh");
/** The image's own entrypoint: exports and checks what the contract says, then serves $PORT. */
const APP_ENTRYPOINT = path.join(__dirname, "standin", "app-entrypoint.sh");
/** httpd's CGI for directories without an index: routes /metrics/ and /socket.io/ to the two below. */
const INDEX_CGI = path.join(__dirname, "standin", "index.cgi");
/** /metrics as the backend answers it: only with the bearer token (busybox httpd CGI). */
const METRICS_CGI = path.join(__dirname, "standin", "metrics.cgi");
/** Socket.IO's handshake (Engine.IO v4): the websocket upgrade and the polling open packet. */
const SOCKETIO_CGI = path.join(__dirname, "standin", "socketio.cgi");
/** The CGIs in /www/cgi-bin, by file name there (test/standin-socketio.test.ts runs them too). */
export const STANDIN_CGIS: Readonly<Record<string, string>> = { "index.cgi": INDEX_CGI, "metrics.cgi": METRICS_CGI, "socketio.cgi": SOCKETIO_CGI };

/**
 * The app contract as the stand-in's entrypoint reads it, per tier port: the secret files
 * the image itself exports, and every variable the app requires with its rules.
 */
function contractFiles(): Record<string, string> {
  const files: Record<string, string> = { "app/contract/forbidden-words": `${FORBIDDEN_SECRET_WORDS.join("\n")}\n` };
  for (const tier of [MEDIANEST_CONTRACT.backend, MEDIANEST_CONTRACT.frontend]) {
    files[`app/contract/${tier.port}.exports`] = tier.secrets
      .filter((s) => s.exportedBy === "image")
      .map((s) => `${s.file} ${s.env}\n`)
      .join("");
    files[`app/contract/${tier.port}.requires`] = [
      ...Object.keys(tier.env).map((name) => `${name} 1 0\n`),
      ...tier.secrets.map((s) => `${s.env} ${SECRET_VALUE_RULES[s.file].minLength} ${SECRET_VALUE_RULES[s.file].noForbiddenWords ? 1 : 0}\n`),
    ].join("");
  }
  return files;
}
/**
 * The upstream images' entrypoint (APP_IMAGE_ENTRYPOINT: dumb-init -- /app/docker-entrypoint.sh),
 * so the program's env-file wrapper starts the stand-in as it starts the real app. The
 * entrypoint serves /www on $PORT, as the contract's frontend ("/") and backend
 * ("/api/health") use it; every `exec` keeps the environment in PID 1.
 */
const CHANGES = [`ENTRYPOINT ${JSON.stringify(["dumb-init", "--"])}`, `CMD ${JSON.stringify(["/app/docker-entrypoint.sh"])}`, "WORKDIR /"];
const EXECUTABLES: Record<string, string> = {
  "usr/bin/dumb-init": '#!/bin/sh\n# dumb-init stand-in: run the command after "--".\n[ "${1:-}" = "--" ] && shift\nexec "$@"\n',
};
const FILES: Record<string, string> = {
  "www/index.html": "<!doctype html><title>MediaNest lab stand-in</title>\n",
  "www/api/health": '{"status":"ok"}\n',
  "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  "etc/group": "root:x:0:\nnogroup:x:65534:\n",
};

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

export interface BuiltImage {
  readonly tar: string;
  readonly cached: boolean;
  readonly changes: readonly string[];
}

/**
 * Other versions of the stand-in, for the lab's update checks: the same image with other
 * files. `files` entries replace the base ones; `omit` removes base files.
 */
export interface StandinVariant {
  readonly image: string;
  readonly files?: Readonly<Record<string, string>>;
  readonly omit?: readonly string[];
}

/** A second version: /api/health also names the version, so a client sees which answered. */
export const STANDIN_V2: StandinVariant = { image: "medianest-lab/standin:2", files: { "www/api/health": '{"status":"ok","version":"2"}\n', "www/version": "2\n" } };
/** A version whose health check fails: no /api/health (the node shim's wget gets a 404). */
export const STANDIN_NO_HEALTH: StandinVariant = { image: "medianest-lab/standin:3-nohealth", files: { "www/version": "3\n" }, omit: ["www/api/health"] };

function variantFiles(variant: StandinVariant | undefined): Record<string, string> {
  const files: Record<string, string> = { ...FILES, ...contractFiles(), ...(variant?.files ?? {}) };
  for (const omitted of variant?.omit ?? []) delete files[omitted];
  return files;
}

/** Builds (or reuses) the stand-in rootfs tar (or a variant's); returns its path. */
export function buildStandinTar(variant?: StandinVariant): BuiltImage {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} missing: apt-get install busybox-static`);
  const applets = run(BUSYBOX, ["--list-full"]).split("\n").filter((l) => l.trim() !== "");
  const files = variantFiles(variant);
  const hash = createHash("sha256")
    .update(readFileSync(BUSYBOX))
    .update(readFileSync(NODE_SHIM))
    .update(readFileSync(NPX_SHIM))
    .update(readFileSync(APP_ENTRYPOINT))
    .update(readFileSync(INDEX_CGI))
    .update(readFileSync(METRICS_CGI))
    .update(readFileSync(SOCKETIO_CGI))
    .update(JSON.stringify({ applets, FILES: files, EXECUTABLES, CHANGES, format: 3, variant: variant?.image ?? null }))
    .digest("hex")
    .slice(0, 16);
  const tar = path.join(CACHE_DIR, `standin-${hash}.tar`);
  if (existsSync(tar)) return { tar, cached: true, changes: CHANGES };

  mkdirSync(CACHE_DIR, { recursive: true });
  const work = path.join(CACHE_DIR, `.build-standin-${hash}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    const root = path.join(work, "rootfs");
    for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "www/api", "www/cgi-bin", "www/metrics", "www/socket.io", "root", "proc", "sys", "dev", "run", "app/contract"]) {
      mkdirSync(path.join(root, dir), { recursive: true });
    }
    mkdirSync(path.join(root, "tmp"), { recursive: true });
    chmodSync(path.join(root, "tmp"), 0o1777);
    copyFileSync(BUSYBOX, path.join(root, "bin/busybox"));
    chmodSync(path.join(root, "bin/busybox"), 0o755);
    for (const applet of applets) {
      const target = path.join(root, applet);
      if (applet === "bin/busybox" || existsSync(target)) continue;
      mkdirSync(path.dirname(target), { recursive: true });
      symlinkSync("/bin/busybox", target);
    }
    copyFileSync(NODE_SHIM, path.join(root, "usr/local/bin/node"));
    chmodSync(path.join(root, "usr/local/bin/node"), 0o755);
    copyFileSync(NPX_SHIM, path.join(root, "usr/local/bin/npx"));
    chmodSync(path.join(root, "usr/local/bin/npx"), 0o755);
    copyFileSync(APP_ENTRYPOINT, path.join(root, "app/docker-entrypoint.sh"));
    chmodSync(path.join(root, "app/docker-entrypoint.sh"), 0o755);
    for (const [name, source] of Object.entries(STANDIN_CGIS)) {
      copyFileSync(source, path.join(root, "www/cgi-bin", name));
      chmodSync(path.join(root, "www/cgi-bin", name), 0o755);
    }
    for (const [file, content] of Object.entries(files)) writeFileSync(path.join(root, file), content, { mode: 0o644 });
    for (const [file, content] of Object.entries(EXECUTABLES)) writeFileSync(path.join(root, file), content, { mode: 0o755 });
    const partial = `${tar}.partial-${process.pid}`;
    run("tar", ["--numeric-owner", "--owner=0", "--group=0", "--sort=name", "-C", root, "-cf", partial, "."]);
    renameSync(partial, tar);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { tar, cached: false, changes: CHANGES };
}

export async function importStandin(engine: Engine, image: BuiltImage, name = STANDIN_IMAGE): Promise<void> {
  const [repo, tag] = name.split(":");
  await engine.importImage(createReadStream(image.tar), repo, tag, image.changes);
}
