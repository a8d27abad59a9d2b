// Every invalid-config case names its key and says what is wrong.
import { describe, expect, it } from "vitest";
import { ConfigError, validateStackConfig, type RawStackConfig } from "../config/schema";
import { FAKE_SSH_KEY, fakeHostKey } from "./support/mocked-run";
import { validatedStackConfig } from "./support/stack-config";

type Host = RawStackConfig["hosts"][number];
const host = (name: string, address: string, role: "manager" | "worker", labels: Host["labels"] = {}): Host => ({
  name,
  address,
  role,
  cpus: 4,
  memoryGb: 8,
  labels,
  hostKey: fakeHostKey(name),
});
const allLabels = { type: ["compute", "processing", "database"], storage: "ssd", s3: "minio", edge: "traefik", monitoring: "main", redis: "data" };

const DIGEST = `@sha256:${"b".repeat(64)}`;

function base(overrides: Partial<RawStackConfig> = {}): RawStackConfig {
  return {
    environment: "homelab",
    app: { hostname: "medianest.example.com" },
    images: { frontend: `ghcr.io/medianest/frontend:1.0.0${DIGEST}`, backend: `ghcr.io/medianest/backend:1.0.0${DIGEST}` },
    services: { postgres: { replicas: 0 }, redis: { replicas: 0, sentinels: 0 } },
    edge: { acme: { email: "admin@example.com" } },
    hosts: [host("one", "192.0.2.10", "manager", allLabels)],
    sshPrivateKey: FAKE_SSH_KEY,
    ...overrides,
  };
}

const context = { secretKeys: new Set(["sshPrivateKey"]), runningAsRoot: false };

function errorOf(raw: unknown, ctx = context): ConfigError {
  try {
    validateStackConfig(raw, ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected the config to be rejected");
}

function expectIssue(raw: unknown, key: string, message: string | RegExp, ctx = context): void {
  const issues = errorOf(raw, ctx).issues;
  expect(issues.map((i) => i.key)).toContain(key);
  const issue = issues.find((i) => i.key === key);
  if (typeof message === "string") expect(issue?.message).toContain(message);
  else expect(issue?.message).toMatch(message);
}

describe("valid config", () => {
  it("resolves defaults from the spec", () => {
    const config = validateStackConfig(base(), context);
    expect(config.network.subnets).toEqual({
      frontend: "10.0.1.0/24",
      backend: "10.0.2.0/24",
      database: "10.0.3.0/24",
      storage: "10.0.4.0/24",
      monitor: "10.0.5.0/24",
    });
    expect(config.swarm).toMatchObject({ leader: "one", autolock: false, drainTimeoutSeconds: 300 });
    expect(config.network.encrypted).toBe(false);
    expect(config.hosts[0]).toMatchObject({ sshUser: "root", sshPort: 22, sudo: false, availability: "active" });
    expect(config.storage).toMatchObject({ mediaPath: "/mnt/media", backupPath: "/mnt/backup", appDataPath: "/opt/medianest" });
    expect("sshPrivateKey" in config).toBe(false);
  });

  it("turns autolock and overlay encryption on in production", () => {
    const config = validateStackConfig(base({ environment: "production" }), context);
    expect(config.swarm.autolock).toBe(true);
    expect(config.network.encrypted).toBe(true);
  });

  it("encrypts overlays by default wherever there is more than one host; one host, or an explicit false, does not", () => {
    const cluster = validatedStackConfig("cluster");
    expect(cluster.environment).not.toBe("production");
    expect(cluster.hosts.length).toBeGreaterThan(1);
    expect(cluster.network.encrypted).toBe(true);
    expect(validatedStackConfig("homelab").network.encrypted).toBe(false);
    expect(validatedStackConfig("cluster", { network: { encrypted: false } }).network.encrypted).toBe(false);
  });

  it("uses sudo for non-root SSH users", () => {
    const config = validateStackConfig(base({ hosts: [{ ...host("one", "192.0.2.10", "manager", allLabels), sshUser: "deploy" }] }), context);
    expect(config.hosts[0].sudo).toBe(true);
  });
});

describe("invalid config", () => {
  it("missing hosts", () => {
    expectIssue({ environment: "homelab", sshPrivateKey: FAKE_SSH_KEY }, "medianest:hosts", /expected array/);
    expectIssue(base({ hosts: [] }), "medianest:hosts", "at least one host is required");
  });

  it("missing host name", () => {
    const { name: _name, ...nameless } = host("x", "192.0.2.10", "manager", allLabels);
    expectIssue(base({ hosts: [nameless as Host] }), "medianest:hosts[0].name", /expected string/);
  });

  it("duplicate host names", () => {
    const hosts = [host("one", "192.0.2.10", "manager", allLabels), host("one", "192.0.2.11", "worker")];
    expectIssue(base({ hosts }), "medianest:hosts[1].name", 'duplicate host name "one" (also hosts[0])');
  });

  it("duplicate host addresses", () => {
    const hosts = [host("one", "192.0.2.10", "manager", allLabels), host("two", "192.0.2.10", "worker")];
    expectIssue(base({ hosts }), "medianest:hosts[1].address", 'duplicate host address "192.0.2.10" (also hosts[0])');
  });

  it("invalid IP addresses", () => {
    expectIssue(base({ hosts: [host("one", "192.0.2.300", "manager", allLabels)] }), "medianest:hosts[0].address", '"192.0.2.300" is not a valid IP address');
    const bad = { ...host("one", "192.0.2.10", "manager", allLabels), dataPathAddress: "nope" };
    expectIssue(base({ hosts: [bad] }), "medianest:hosts[0].dataPathAddress", '"nope" is not a valid IP address');
  });

  it("IPv6 host address with the IPv4-only firewall on", () => {
    expectIssue(base({ hosts: [host("one", "2001:db8::10", "manager", allLabels)] }), "medianest:hosts[0].address", "the host firewall manages IPv4 only");
    expect(() => validateStackConfig(base({ hosts: [host("one", "2001:db8::10", "manager", allLabels)], hostSetup: { firewall: false } }), context)).not.toThrow();
  });

  it("zero managers", () => {
    expectIssue(base({ hosts: [host("one", "192.0.2.10", "worker", allLabels)] }), "medianest:hosts", "no host has role manager");
  });

  it("even manager count", () => {
    const hosts = [host("one", "192.0.2.10", "manager", allLabels), host("two", "192.0.2.11", "manager")];
    expectIssue(base({ hosts }), "medianest:hosts", "2 managers is an even count");
  });

  it("leader that is not a manager", () => {
    const hosts = [host("one", "192.0.2.10", "manager", allLabels), host("two", "192.0.2.11", "worker")];
    expectIssue(base({ hosts, swarm: { leader: "two" } }), "medianest:swarm.leader", '"two" is not the name of a host with role manager');
  });

  it("no host carrying a label a service needs", () => {
    const hosts = [host("one", "192.0.2.10", "manager", { type: ["compute", "database"], storage: "ssd" })];
    expectIssue(base({ hosts }), "medianest:hosts", "no host carries the labels type=processing that medianest-worker needs");
    const noSsd = [host("one", "192.0.2.10", "manager", { type: ["compute", "processing", "database"] })];
    expectIssue(base({ hosts: noSsd }), "medianest:hosts", "type=database, storage=ssd that postgres-primary needs");
  });

  it("malformed subnets", () => {
    expectIssue(base({ network: { subnets: { frontend: "10.0.1.0" } } }), "medianest:network.subnets.frontend", "a.b.c.d/prefix");
    expectIssue(base({ network: { subnets: { backend: "10.0.2.9/24" } } }), "medianest:network.subnets.backend", "host bits set");
    expectIssue(base({ network: { subnets: { storage: "10.0.4.0/30" } } }), "medianest:network.subnets.storage", "between /16 and /28");
  });

  it("overlapping subnets", () => {
    expectIssue(
      base({ network: { subnets: { monitor: "10.0.2.0/23" } } }),
      "medianest:network.subnets.monitor",
      '"10.0.2.0/23" (monitor-net) overlaps 10.0.2.0/24 (backend-net)',
    );
    expectIssue(base({ network: { subnets: { frontend: "10.0.0.0/24" } } }), "medianest:network.subnets.frontend", "overlaps Swarm's ingress network");
    expectIssue(
      base({ hosts: [host("one", "10.0.3.7", "manager", allLabels)] }),
      "medianest:network.subnets.database",
      "contains the address 10.0.3.7 of host one",
    );
  });

  it("non-secret SSH key", () => {
    expectIssue(base(), "medianest:sshPrivateKey", "must be a secret", { ...context, secretKeys: new Set() });
  });

  it("missing or malformed SSH key, or an unpinned host key, for the ssh connection", () => {
    expectIssue(base({ sshPrivateKey: undefined }), "medianest:sshPrivateKey", "required for connection ssh");
    expectIssue(base({ sshPrivateKey: "hunter2" }), "medianest:sshPrivateKey", "is not a PEM/OpenSSH private key");
    // Every SSH host's key is pinned: the message names the host and how to read its key.
    const unpinned = { ...host("two", "192.0.2.11", "worker"), sshPort: 2222, hostKey: undefined };
    expectIssue(base({ hosts: [host("one", "192.0.2.10", "manager", allLabels), unpinned] }), "medianest:hosts[1].hostKey", "ssh-keyscan -t ed25519 -p 2222 192.0.2.11");
    expect(() => validateStackConfig(base({ connection: "local", hosts: [{ ...host("one", "127.0.0.1", "manager", allLabels), hostKey: undefined }], sshPrivateKey: undefined }), context)).not.toThrow();
  });

  it("local connection with more than one host", () => {
    const hosts = [host("one", "192.0.2.10", "manager", allLabels), host("two", "192.0.2.11", "worker")];
    expectIssue(base({ connection: "local", hosts }), "medianest:hosts", "exactly one host is allowed, got 2");
  });

  it("unknown and misspelt keys", () => {
    expectIssue({ ...base(), hots: [] }, "medianest:hots", "unknown key");
    const typo = { ...host("one", "192.0.2.10", "manager", allLabels), adress: "x" };
    expectIssue(base({ hosts: [typo as Host] }), "medianest:hosts[0].adress", "unknown key");
  });

  it("bad management CIDR, role, port and NFS export", () => {
    expectIssue(base({ network: { managementCidrs: ["198.51.100.1/24"] } }), "medianest:network.managementCidrs[0]", "host bits set");
    expectIssue(base({ hosts: [{ ...host("one", "192.0.2.10", "manager", allLabels), role: "boss" as "manager" }] }), "medianest:hosts[0].role", /expected one of/);
    expectIssue(base({ hosts: [{ ...host("one", "192.0.2.10", "manager", allLabels), sshPort: 70000 }] }), "medianest:hosts[0].sshPort", /<=65535/);
    expectIssue(base({ storage: { nfs: { server: "nas", export: "volume1" } } }), "medianest:storage.nfs.export", "must be an absolute path");
  });

  it("unpinned or moving image references", () => {
    const images = (frontend: string) => ({ frontend, backend: `ghcr.io/medianest/backend:1.0.0${DIGEST}` });
    expectIssue(base({ images: images("ghcr.io/medianest/frontend") }), "medianest:images.frontend", "must be pinned");
    expectIssue(base({ images: images("registry.local:5000/medianest/frontend") }), "medianest:images.frontend", "must be pinned");
    expectIssue(base({ images: images("ghcr.io/medianest/frontend:latest") }), "medianest:images.frontend", 'must not use the moving "latest" tag');
    expect(() => validateStackConfig(base({ images: images(`registry.local:5000/medianest/frontend:1.2.3${DIGEST}`) }), context)).not.toThrow();
    expect(() => validateStackConfig(base({ images: images(`ghcr.io/medianest/frontend@sha256:${"a".repeat(64)}`) }), context)).not.toThrow();
  });

  it("images without a digest, except on the lab (whose images exist in no registry)", () => {
    const tagOnly = { frontend: "registry.local:5000/medianest/frontend:1.2.3", backend: `ghcr.io/medianest/backend:1.0.0${DIGEST}` };
    expectIssue(base({ images: tagOnly }), "medianest:images.frontend", /has no digest: pin it as registry\.local:5000\/medianest\/frontend:1\.2\.3@sha256:<digest>/);
    expectIssue(base({ images: { ...tagOnly, frontend: tagOnly.backend, postgres: "postgres:15.10-bookworm" } }), "medianest:images.postgres", "docker buildx imagetools inspect postgres:15.10-bookworm");
    expectIssue(base({ deployment: { strategy: "blue-green", images: { green: "ghcr.io/medianest/backend:1.1.0" } } }), "medianest:deployment.images.green", "has no digest");
    expect(() => validateStackConfig(base({ environment: "lab", images: tagOnly, edge: { tls: "none" }, app: { hostname: "medianest.lab.test" } }), context)).not.toThrow();
  });

  it("Cloudflare's Full (strict) TLS in front of an edge without a real certificate", () => {
    const cloudflare = { enabled: true, zone: "example.com" };
    expectIssue(base({ cloudflare, edge: { tls: "none" }, cloudflareApiToken: "t".repeat(40) }), "medianest:edge.tls", /Full \(strict\).*use edge\.tls "acme", or set cloudflare\.enabled to false/);
  });

  it("service secrets given in plain text", () => {
    expectIssue(base({ postgresPassword: "hunter2hunter2" }), "medianest:postgresPassword", "must be a secret");
  });

  it("external S3 without endpoint or keys, off-site backup without keys", () => {
    const external = base({ s3: { mode: "external" } });
    expectIssue(external, "medianest:s3.endpoint", "is required when s3.mode is external");
    expectIssue(external, "medianest:s3AccessKey", "is required when s3.mode is external");
    expectIssue(base({ s3: { endpoint: "https://s3.example.com" } }), "medianest:s3.endpoint", "only applies when s3.mode is external");
    expectIssue(base({ backup: { offsite: { endpoint: "https://backup.example.net", bucket: "medianest" } } }), "medianest:offsiteSecretKey", "is required when backup.offsite is set");
    expectIssue(base({ backup: { offsite: { endpoint: "not a url", bucket: "medianest" } } }), "medianest:backup.offsite.endpoint", "must be a URL");
  });

  it("Redis Sentinel counts that cannot fail over or cannot be placed", () => {
    const hosts = [host("one", "192.0.2.10", "manager", allLabels), host("two", "192.0.2.11", "worker"), host("three", "192.0.2.12", "worker")];
    expectIssue(base({ hosts, services: { redis: { replicas: 0, sentinels: 2 } } }), "medianest:services.redis.sentinels", "use 0 (no Sentinel) or an odd number of at least 3");
    expectIssue(base({ services: { redis: { replicas: 0, sentinels: 3 } } }), "medianest:services.redis.sentinels", "3 sentinels need as many hosts");
    expectIssue(base({ hosts, services: { redis: { replicas: 2, sentinels: 3, quorum: 4 } } }), "medianest:services.redis.quorum", "quorum 4 must be at least 2");
    expectIssue(base({ services: { redis: { replicas: 1, sentinels: 0 } } }), "medianest:services.redis.replicas", "need 2 hosts labelled redis=data");
  });

  it("Postgres replicas without a host labelled for them", () => {
    expectIssue(base({ services: { postgres: { replicas: 1 }, redis: { replicas: 0, sentinels: 0 } } }), "medianest:hosts", "no host carries the labels postgres=replica-1 that postgres-replica-1 needs");
  });

  it("internal MinIO without a host labelled s3=minio", () => {
    expectIssue(base({ hosts: [host("one", "192.0.2.10", "manager", { ...allLabels, s3: "elsewhere" })] }), "medianest:hosts", "s3=minio that minio needs");
  });

  it("MinIO data inside, equal to or around a directory another service mounts", () => {
    const key = "medianest:storage.minioDataPath";
    // The media worker mounts the media path read-write and handles untrusted files.
    expectIssue(base({ storage: { minioDataPath: "/mnt/media/minio" } }), key, '"/mnt/media/minio" is inside /mnt/media (storage.mediaPath), which the media worker');
    expectIssue(base({ storage: { minioDataPath: "/mnt/backup/" } }), key, "is /mnt/backup (storage.backupPath), which postgres-backup and backup-upload mount");
    expectIssue(base({ storage: { minioDataPath: "/opt" } }), key, '"/opt" contains /opt/medianest/postgres (storage.appDataPath), which Postgres mount');
    expectIssue(base({ storage: { minioDataPath: "/opt/medianest/grafana/minio" } }), key, "is inside /opt/medianest/grafana (storage.appDataPath)");
    // Unset, it is <appDataPath>/minio: a media path around it is refused too, naming both keys.
    expectIssue(base({ storage: { mediaPath: "/opt/medianest" } }), key, "/opt/medianest/minio (unset: <storage.appDataPath>/minio) is inside /opt/medianest (storage.mediaPath)");
    expectIssue(base({ storage: { mediaPath: "/opt/medianest/minio/media" } }), key, "contains /opt/medianest/minio/media (storage.mediaPath)");
    // Its own directory is fine; so is anything with external S3 (no MinIO runs).
    expect(validateStackConfig(base(), context).storage.minioDataPath).toBe("/opt/medianest/minio");
    expect(validateStackConfig(base({ storage: { minioDataPath: "/srv/minio" } }), context).storage.minioDataPath).toBe("/srv/minio");
    expect(validateStackConfig(base({ storage: { appDataPath: "/srv/mn" } }), context).storage.minioDataPath).toBe("/srv/mn/minio");
    const external = { s3: { mode: "external" as const, endpoint: "https://s3.example.com" }, s3AccessKey: "a".repeat(20), s3SecretKey: "b".repeat(40) };
    const secretKeys = new Set(["sshPrivateKey", "s3AccessKey", "s3SecretKey"]);
    expect(() => validateStackConfig(base({ ...external, storage: { minioDataPath: "/mnt/media/minio" } }), { ...context, secretKeys })).not.toThrow();
  });

  it("MinIO data on the NFS share: refused, saying MinIO does not support NFS", () => {
    const nfs = { server: "192.0.2.50", export: "/volume1/media" };
    const issues = errorOf(base({ storage: { nfs, minioDataPath: "/mnt/media/.minio" } })).issues.filter((i) => i.key === "medianest:storage.minioDataPath");
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toMatch(/is on the NFS share mounted at storage\.mediaPath \(\/mnt\/media, storage\.nfs\), and MinIO does not support NFS/);
    expect(issues[0].message).toContain("Set storage.minioDataPath to a directory on a local disk of the host labelled s3: minio");
    expectIssue(base({ storage: { nfs, mediaPath: "/opt/medianest/minio" } }), "medianest:storage.minioDataPath", "does not support NFS");
    // The default, below appDataPath, is off the share.
    expect(() => validateStackConfig(base({ storage: { nfs } }), context)).not.toThrow();
  });

  it("draining or pausing a host that holds single-instance data, unless released", () => {
    const hosts = (availability: "drain" | "pause", releaseStateful?: boolean) => [
      { ...host("one", "192.0.2.10", "manager", allLabels) },
      { ...host("two", "192.0.2.11", "worker", { type: "compute" }), availability },
      { ...host("three", "192.0.2.12", "worker", { type: "compute", s3: "minio", redis: "data" }), availability, ...(releaseStateful === undefined ? {} : { releaseStateful }) },
    ];
    expectIssue(base({ hosts: hosts("drain") }), "medianest:hosts[2].availability", /^"drain" moves the tasks of minio, redis-master away from three .* set hosts\[2\]\.releaseStateful to true/);
    expectIssue(base({ hosts: hosts("pause", false) }), "medianest:hosts[2].availability", '"pause" moves the tasks of minio, redis-master');
    const issues = errorOf(base({ hosts: hosts("drain") })).issues.map((i) => i.key);
    // A host whose labels place no stateful service on it drains freely.
    expect(issues).not.toContain("medianest:hosts[1].availability");
    expect(() => validateStackConfig(base({ hosts: hosts("drain", true) }), context)).not.toThrow();
    const primary = [{ ...host("one", "192.0.2.10", "manager", allLabels), availability: "drain" as const }];
    expectIssue(base({ hosts: primary }), "medianest:hosts[0].availability", "postgres-primary, minio, redis-master, prometheus/alertmanager/grafana");
  });

  it("reports every problem at once, one line each", () => {
    const error = errorOf(base({ hosts: [host("one", "192.0.2.300", "worker")] }));
    expect(error.issues.length).toBeGreaterThanOrEqual(1);
    expect(error.message).toMatch(/^Invalid stack configuration:\n {2}- medianest:hosts\[0\]\.address: /);
  });
});

describe("Postgres members", () => {
  it("services.postgres.primary names an existing member", () => {
    expectIssue(base({ services: { postgres: { replicas: 1, primary: "replica-2" }, redis: { replicas: 0, sentinels: 0 } } }), "medianest:services.postgres.primary", /names replica-2, but services.postgres.replicas is 1: name "primary" or one of "replica-1"/);
    expectIssue(base({ services: { postgres: { replicas: 0, primary: "standby" }, redis: { replicas: 0, sentinels: 0 } } }), "medianest:services.postgres.primary", /must be "primary" or "replica-N"/);
  });

  it("synchronous commit needs a replica", () => {
    expectIssue(base({ services: { postgres: { replicas: 0, synchronousCommit: true }, redis: { replicas: 0, sentinels: 0 } } }), "medianest:services.postgres.synchronousCommit", /needs a replica to wait for/);
  });
});
