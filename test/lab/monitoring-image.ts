// The lab's monitoring images (no registry is reachable): one Debian bookworm rootfs made by
// debootstrap with Debian's Prometheus, Alertmanager and exporter packages (cached like the
// data image, data-image.ts), imported once per host, and one image per upstream image
// committed from it with that image's entrypoint, user and working directory. Each is shaped
// like the image it stands in for, so a service that relies on something its real image
// lacks fails here too:
// - prom/prometheus v3.5.0, prom/alertmanager v0.28.1, prom/node-exporter v1.9.1 and
//   postgres-exporter v0.17.1 are busybox images (their Dockerfiles: FROM
//   quay.io/prometheus/busybox, USER nobody, ENTRYPOINT /bin/<binary>): a shell and wget.
// - oliver006/redis_exporter v1.76.0 is FROM scratch (Dockerfile target scratch-release, USER
//   59000:59000, ENTRYPOINT /redis_exporter): the lab's holds the binary, the C library it is
//   linked against and nsswitch.conf, and nothing else (no shell, no wget).
// Debian's versions are older than the stacks' images (prometheus 2.42, alertmanager 0.25,
// node-exporter 1.5, postgres-exporter 0.11, redis-exporter 1.45): the flags and config
// keys the program uses exist in both.
import { spawnSync } from "node:child_process";
import { copyFileSync, createReadStream, mkdirSync } from "node:fs";
import * as path from "node:path";
import { DATA_SUITE, TRIMMED_DIRS, buildDebianImageTar, runBounded, type BuiltDebianImage, type DebianImageRecipe } from "./data-image";
import type { Engine } from "./engine";

export const MONITORING_BASE_IMAGE = "medianest-lab/monitoring-base:1";
const PATH_ENV = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The lab images the `lab` stack names (Pulumi.lab.yaml medianest:images), each as its upstream image is built. */
export const MONITORING_IMAGES = {
  prometheus: { image: "medianest-lab/prometheus:1", changes: ["USER nobody", "WORKDIR /prometheus", 'ENTRYPOINT ["/bin/prometheus"]', 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'] },
  alertmanager: { image: "medianest-lab/alertmanager:1", changes: ["USER nobody", "WORKDIR /alertmanager", 'ENTRYPOINT ["/bin/alertmanager"]', 'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]'] },
  nodeExporter: { image: "medianest-lab/node-exporter:1", changes: ["USER nobody", 'ENTRYPOINT ["/bin/node_exporter"]', "CMD []"] },
  postgresExporter: { image: "medianest-lab/postgres-exporter:1", changes: ["USER nobody", 'ENTRYPOINT ["/bin/postgres_exporter"]', "CMD []"] },
} as const;
export const REDIS_EXPORTER_IMAGE = { image: "medianest-lab/redis-exporter:1", changes: ["USER 59000:59000", 'ENTRYPOINT ["/redis_exporter"]', "WORKDIR /"] } as const;

/** Busybox applets the upstream images have and Debian's minbase lacks (health checks use wget). */
const BUSYBOX_APPLETS = ["wget", "nc"];

/** As the lab's scratch image needs them: the binary and what its dynamic loader opens. */
const REDIS_EXPORTER_FILES = ["lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6", "etc/nsswitch.conf"];

/** A file of the rootfs by the path a process inside sees (its symlinks resolved inside it). */
function insideRoot(root: string, file: string): string {
  const resolved = spawnSync("chroot", [root, "readlink", "-f", `/${file}`], { encoding: "utf8", timeout: 10_000 });
  if (resolved.status !== 0) throw new Error(`readlink -f /${file} in ${root}: ${resolved.stderr}`);
  return path.join(root, resolved.stdout.trim());
}

async function redisExporterTar(root: string, tar: string): Promise<void> {
  const stage = path.join(path.dirname(root), "redis-exporter-root");
  mkdirSync(stage, { recursive: true });
  copyFileSync(insideRoot(root, "usr/bin/prometheus-redis-exporter"), path.join(stage, "redis_exporter"));
  for (const file of REDIS_EXPORTER_FILES) {
    mkdirSync(path.join(stage, path.dirname(file)), { recursive: true });
    copyFileSync(insideRoot(root, file), path.join(stage, file));
  }
  // The loader and the binary must stay executable (copyFileSync keeps the mode).
  await runBounded("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", stage, "-cf", tar, "."], path.join(path.dirname(root), "redis-exporter.log"), 60_000);
}

export const MONITORING_RECIPE: DebianImageRecipe = {
  name: "monitoring",
  packages: ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-postgres-exporter", "prometheus-redis-exporter", "busybox"],
  changes: [PATH_ENV, "ENV LANG=C.UTF-8", "WORKDIR /", 'CMD ["sh"]'],
  links: [
    // The upstream images' binary paths, onto Debian's.
    { path: "bin/prometheus", target: "/usr/bin/prometheus" },
    { path: "bin/alertmanager", target: "/usr/bin/prometheus-alertmanager" },
    { path: "bin/node_exporter", target: "/usr/bin/prometheus-node-exporter" },
    { path: "bin/postgres_exporter", target: "/usr/bin/prometheus-postgres-exporter" },
    ...BUSYBOX_APPLETS.map((a) => ({ path: `usr/local/bin/${a}`, target: "/bin/busybox" })),
  ],
  requiredFiles: [
    "usr/bin/prometheus",
    "usr/bin/prometheus-alertmanager",
    "usr/bin/prometheus-node-exporter",
    "usr/bin/prometheus-postgres-exporter",
    "usr/bin/prometheus-redis-exporter",
    "usr/local/bin/wget",
    "usr/local/bin/nc",
  ],
  trimmed: TRIMMED_DIRS,
  extracts: [{ name: "redis-exporter", build: redisExporterTar, recipe: JSON.stringify({ files: REDIS_EXPORTER_FILES, suite: DATA_SUITE, format: 1 }) }],
};

export const buildMonitoringImageTars = (workDir: string): Promise<BuiltDebianImage> => buildDebianImageTar(MONITORING_RECIPE, workDir);

/** A committed image: the base with one upstream image's entrypoint, user and working directory. */
async function commitFrom(engine: Engine, base: string, image: string, changes: readonly string[]): Promise<void> {
  const created = await engine.post<{ Id: string }>("/containers/create", { Image: base, Cmd: ["true"], Labels: { "com.medianest.lab": "image-commit" } });
  try {
    const [repo, tag] = image.split(":");
    const query = new URLSearchParams({ container: created.Id, repo, tag });
    for (const change of changes) query.append("changes", change);
    await engine.post(`/commit?${query}`, undefined, 60_000);
  } finally {
    await engine.request("DELETE", `/containers/${created.Id}?force=1`).catch(() => undefined);
  }
}

/** The monitoring images on one host: the base once, each upstream-shaped image committed from it, the scratch one on its own. */
export async function importMonitoringImages(engine: Engine, built: BuiltDebianImage): Promise<void> {
  const [repo, tag] = MONITORING_BASE_IMAGE.split(":");
  await engine.importImage(createReadStream(built.tar), repo, tag, built.changes);
  for (const { image, changes } of Object.values(MONITORING_IMAGES)) await commitFrom(engine, MONITORING_BASE_IMAGE, image, [PATH_ENV, ...changes]);
  const scratch = built.extracts.get("redis-exporter");
  if (scratch === undefined) throw new Error("the monitoring image build made no redis-exporter tar");
  const [scratchRepo, scratchTag] = REDIS_EXPORTER_IMAGE.image.split(":");
  await engine.importImage(createReadStream(scratch), scratchRepo, scratchTag, REDIS_EXPORTER_IMAGE.changes);
}
