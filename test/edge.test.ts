// The edge, CDN, observability and deployment strategies under mocks.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { effectiveEnv, mockedRun, STACKS, testConfig, MOCK_ZONE_ID, type MockedRun, type RecordedResource, type StackName } from "./support/mocked-run";

interface ServiceInputs {
  name: string;
  mode: { replicated?: { replicas: number }; global?: boolean };
  labels?: { label: string; value: string }[];
  taskSpec: {
    containerSpec: {
      image: string;
      args?: string[];
      env?: Record<string, string>;
      mounts?: { type: string; source?: string; target: string; readOnly?: boolean }[];
      secrets?: { fileName: string }[];
    };
    placement: { constraints: string[]; maxReplicas?: number };
    networksAdvanceds: { id: string }[];
  };
  updateConfig: { order: string };
  endpointSpec: { ports: { targetPort: number; publishedPort: number; publishMode: string }[] };
}

const runs = new Map<string, MockedRun>();
async function runOf(stack: StackName, config?: Record<string, unknown>, key: string = stack): Promise<MockedRun> {
  if (!runs.has(key)) runs.set(key, await mockedRun(stack, config ? { config } : {}));
  return runs.get(key) as MockedRun;
}
const services = (run: MockedRun) => run.ofType("docker:index/service:Service");
const inputsOf = (r: RecordedResource) => r.inputs as unknown as ServiceInputs;
const serviceNamed = (run: MockedRun, name: string): ServiceInputs => {
  const found = services(run).find((s) => inputsOf(s).name === name);
  if (!found) throw new Error(`no service ${name}`);
  return inputsOf(found);
};
const labelsOf = (s: ServiceInputs): Record<string, string> => Object.fromEntries((s.labels ?? []).map((l) => [l.label, l.value]));
/** A generated file as deployed: the Swarm config whose resource name is the file's. */
function deployedFile(run: MockedRun, file: string): string {
  const config = run.ofType("docker:index/serviceConfig:ServiceConfig").find((c) => c.name === file.replace(/\./g, "-"));
  if (!config) throw new Error(`no config for ${file}`);
  return Buffer.from(String(config.inputs.data), "base64").toString("utf8");
}

describe("Traefik", () => {
  it("runs on the labelled managers (LB1/LB2), one per node, ports 80/443 in host mode, stop-first", async () => {
    const traefik = serviceNamed(await runOf("production"), "traefik");
    expect(traefik.mode.replicated?.replicas).toBe(2);
    expect(traefik.taskSpec.placement.constraints).toEqual(["node.role == manager", "node.labels.edge == traefik"]);
    expect(traefik.taskSpec.placement.maxReplicas).toBe(1);
    expect(traefik.endpointSpec.ports.map((p) => [p.targetPort, p.publishedPort, p.publishMode])).toEqual([
      [80, 80, "host"],
      [443, 443, "host"],
    ]);
    expect(traefik.updateConfig.order).toBe("stop-first");
  });

  it("uses the socket proxy, not the Docker socket, and keeps ACME storage on its node", async () => {
    const run = await runOf("production");
    const traefik = serviceNamed(run, "traefik");
    const args = traefik.taskSpec.containerSpec.args ?? [];
    expect(args).toEqual(
      expect.arrayContaining([
        "--providers.swarm.endpoint=tcp://tasks.docker-socket-proxy:2375",
        "--providers.swarm.exposedByDefault=false",
        "--providers.swarm.network=frontend-net",
        "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        "--entrypoints.web.http.redirections.entrypoint.scheme=https",
        "--metrics.prometheus=true",
        "--api.insecure=false",
        "--api.dashboard=false",
        "--certificatesresolvers.le.acme.storage=/acme/acme.json",
        "--certificatesresolvers.le.acme.dnschallenge.provider=cloudflare",
      ]),
    );
    expect(JSON.stringify(traefik.taskSpec.containerSpec.mounts)).not.toContain("docker.sock");
    expect(traefik.taskSpec.containerSpec.mounts).toEqual([{ type: "bind", source: "/opt/medianest/traefik", target: "/acme", readOnly: false }]);
    expect(traefik.taskSpec.containerSpec.env).toEqual({ CF_DNS_API_TOKEN_FILE: "/run/secrets/cloudflare-dns-token" });
    const proxy = serviceNamed(run, "docker-socket-proxy");
    expect(proxy.mode.global).toBe(true);
    expect(proxy.taskSpec.placement.constraints).toEqual(["node.role == manager"]);
    expect(proxy.taskSpec.containerSpec.mounts).toEqual([{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true }]);
    const proxyResource = services(run).find((r) => inputsOf(r).name === "docker-socket-proxy") as RecordedResource;
    expect(await effectiveEnv(run, proxyResource)).toMatchObject({ POST: "0", CONTAINERS: "0", SERVICES: "1", TASKS: "1", NETWORKS: "1" });
    // The env file is sourced before the image's own entrypoint (haproxy's docker-entrypoint.sh).
    expect(inputsOf(proxyResource).taskSpec.containerSpec).not.toHaveProperty("env");
  });

  it("exports per-router request histograms with a bucket edge at every latency bound of the benchmarks", async () => {
    const args = serviceNamed(await runOf("production"), "traefik").taskSpec.containerSpec.args ?? [];
    expect(args).toContain("--metrics.prometheus.addRoutersLabels=true");
    const buckets = args.find((a) => a.startsWith("--metrics.prometheus.buckets="))?.split("=")[1]?.split(",").map(Number) ?? [];
    // Search 50/100/200 ms, API 100/200/500 ms, page load 2/3/5 s (the spec's table), in seconds.
    for (const bound of [0.05, 0.1, 0.2, 0.5, 2, 3, 5]) expect(buckets).toContain(bound);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it("uses HTTP-01 in the homelab", async () => {
    const args = serviceNamed(await runOf("homelab"), "traefik").taskSpec.containerSpec.args ?? [];
    expect(args).toContain("--certificatesresolvers.le.acme.httpchallenge.entrypoint=web");
    expect(args.some((a) => a.includes("dnschallenge"))).toBe(false);
  });

  it("routes the frontend by Host and the backend's contract paths to its port 4000, sticky, through the middlewares", async () => {
    const run = await runOf("production");
    expect(labelsOf(serviceNamed(run, "medianest-frontend"))).toMatchObject({
      "traefik.enable": "true",
      "traefik.http.routers.frontend.rule": "Host(`medianest.example.com`)",
      "traefik.http.routers.frontend.entrypoints": "websecure",
      "traefik.http.routers.frontend.tls.certresolver": "le",
      "traefik.http.routers.frontend.middlewares": "secure-headers@file,compress@file,rate-limit@file",
      "traefik.http.services.frontend.loadbalancer.server.port": "3000",
    });
    expect(labelsOf(serviceNamed(run, "medianest-backend"))).toMatchObject({
      // The backend's own paths (API, health, Socket.IO); /api/auth and /api/media stay with the frontend.
      "traefik.http.routers.api.rule": "Host(`medianest.example.com`) && (PathPrefix(`/api/v1`) || PathPrefix(`/api/health`) || Path(`/health`))",
      "traefik.http.routers.api.service": "api",
      // Search and Socket.IO on routers of their own (one service, one cookie), so the
      // per-router latency of each is its own: the search benchmark, and no long polls in the API's.
      "traefik.http.routers.api-search.rule": "Host(`medianest.example.com`) && (Path(`/api/v1/media/search`) || Path(`/api/v1/plex/search`))",
      "traefik.http.routers.api-search.priority": "110",
      "traefik.http.routers.api-search.service": "api",
      "traefik.http.routers.api-search.middlewares": "secure-headers@file,compress@file,rate-limit@file",
      "traefik.http.routers.api-socketio.rule": "Host(`medianest.example.com`) && PathPrefix(`/socket.io`)",
      "traefik.http.routers.api-socketio.service": "api",
      "traefik.http.routers.api-socketio.tls.certresolver": "le",
      "traefik.http.routers.api-internal.entrypoints": "internal",
      "traefik.http.services.api.loadbalancer.server.port": "4000",
      // Socket.IO polling without a Redis adapter needs the same task every time.
      "traefik.http.services.api.loadbalancer.sticky.cookie.name": "medianest_backend",
      "traefik.http.services.api.loadbalancer.sticky.cookie.secure": "true",
      "traefik.http.services.api.loadbalancer.sticky.cookie.httponly": "true",
    });
    const dynamic = parse(deployedFile(run, "traefik-dynamic.yml")) as { http: { middlewares: Record<string, Record<string, unknown>> } };
    expect(Object.keys(dynamic.http.middlewares).sort()).toEqual(["compress", "mgmt-only", "rate-limit", "secure-headers"]);
    expect(dynamic.http.middlewares["rate-limit"]).toEqual({ rateLimit: { average: 100, burst: 200 } });
  });
});

describe.each(STACKS)("stack %s", (stack) => {
  it("publishes ports only on Traefik, and only 80/443", async () => {
    for (const service of services(await runOf(stack))) {
      const s = inputsOf(service);
      const ports = s.endpointSpec.ports.map((p) => p.publishedPort);
      expect([s.name, ports]).toEqual([s.name, s.name === "traefik" ? [80, 443] : []]);
    }
  });

  it("mounts the Docker socket only into the socket proxy, read-only", async () => {
    for (const service of services(await runOf(stack))) {
      const s = inputsOf(service);
      for (const mount of s.taskSpec.containerSpec.mounts ?? []) {
        if (mount.source?.includes("docker.sock")) expect([s.name, mount.readOnly]).toEqual(["docker-socket-proxy", true]);
      }
    }
  });

  it("creates Cloudflare resources only when the stack enables it", async () => {
    const run = await runOf(stack);
    const cloudflare = run.resources.filter((r) => r.type.startsWith("cloudflare:") || r.type === "pulumi:providers:cloudflare");
    const enabled = (testConfig(stack)["medianest:cloudflare"] as { enabled?: boolean } | undefined)?.enabled === true;
    expect(cloudflare.length > 0).toBe(enabled);
  });
});

describe("Cloudflare", () => {
  it("production: proxied records for the app at both edge nodes, cache rules, strict TLS settings", async () => {
    const run = await runOf("production");
    const records = run.ofType("cloudflare:index/dnsRecord:DnsRecord");
    expect(records.map((r) => [r.inputs.name, r.inputs.type, r.inputs.content, r.inputs.proxied, r.inputs.zoneId]).sort()).toEqual([
      ["medianest.example.com", "A", "203.0.113.11", true, MOCK_ZONE_ID],
      ["medianest.example.com", "A", "203.0.113.12", true, MOCK_ZONE_ID],
    ]);
    const [ruleset] = run.ofType("cloudflare:index/ruleset:Ruleset");
    expect(ruleset.inputs.phase).toBe("http_request_cache_settings");
    expect(JSON.stringify(ruleset.inputs.rules)).toContain("/_next/static/");
    const settings = Object.fromEntries(run.ofType("cloudflare:index/zoneSetting:ZoneSetting").map((z) => [z.inputs.settingId, z.inputs.value]));
    expect(settings).toEqual({ ssl: "strict", always_use_https: "on", min_tls_version: "1.2", http3: "on" });
  });

  it("homelab: a single record for the dynamic-DNS name at the public address", async () => {
    const records = (await runOf("homelab")).ofType("cloudflare:index/dnsRecord:DnsRecord");
    expect(records.map((r) => [r.inputs.name, r.inputs.content, r.inputs.proxied])).toEqual([["medianest.example.com", "203.0.113.10", true]]);
  });
});

describe("monitoring", () => {
  it("generates one warning and one critical rule per benchmark row, with the spec's thresholds", async () => {
    const rules = parse(deployedFile(await runOf("production"), "prometheus-rules.yml")) as { groups: { rules: { alert: string; expr: string; labels: { severity: string } }[] }[] };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all).toHaveLength(14);
    const spec: [string, string, string][] = [
      ["ApiResponseTime", "> 200", "> 500"],
      ["PageLoadTime", "> 3", "> 5"],
      ["FileUploadSpeed", "< 25", "< 10"],
      ["SearchResponse", "> 100", "> 200"],
      ["CpuUtilization", "> 85", "> 90"],
      ["MemoryUsage", "> 90", "> 95"],
      ["DiskIoWait", "> 20", "> 30"],
    ];
    for (const [id, warning, critical] of spec) {
      const warn = all.find((r) => r.alert === `${id}Warning`);
      const crit = all.find((r) => r.alert === `${id}Critical`);
      expect(warn?.labels.severity).toBe("warning");
      expect(crit?.labels.severity).toBe("critical");
      expect(warn?.expr.trim().endsWith(warning)).toBe(true);
      expect(crit?.expr.trim().endsWith(critical)).toBe(true);
    }
  });

  it("scrapes the backend, Traefik, node-exporter, cAdvisor, the exporters and MinIO by tasks DNS", async () => {
    const prometheus = parse(deployedFile(await runOf("homelab"), "prometheus.yml")) as {
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
    };
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((j) => [j.job_name, [j.dns_sd_configs[0].names, j.dns_sd_configs[0].port]]));
    expect(jobs).toMatchObject({
      "medianest-backend": [["tasks.medianest-backend"], 4000],
      traefik: [["tasks.traefik"], 8082],
      "node-exporter": [["tasks.node-exporter"], 9100],
      cadvisor: [["tasks.cadvisor"], 8080],
      "postgres-exporter": [["tasks.postgres-exporter"], 9187],
      "redis-exporter": [["tasks.redis-exporter"], 9121],
      minio: [["tasks.minio"], 9000],
    });
  });

  it("node-exporter and cAdvisor are global; Alertmanager gets its receivers' secrets as files", async () => {
    const run = await runOf("production");
    expect(serviceNamed(run, "node-exporter").mode.global).toBe(true);
    expect(serviceNamed(run, "cadvisor").mode.global).toBe(true);
    expect(serviceNamed(run, "alertmanager").taskSpec.containerSpec.secrets?.map((s) => s.fileName)).toEqual(["/run/secrets/alert-smtp-password"]);
    const alertmanager = deployedFile(run, "alertmanager.yml");
    expect(alertmanager).toContain("/run/secrets/alert-smtp-password");
    expect(alertmanager).not.toContain("FAKESMTPPASSWORD");
  });

  it("Grafana is reachable only through Traefik, from the management networks", async () => {
    const run = await runOf("production");
    const grafana = serviceNamed(run, "grafana");
    expect(grafana.endpointSpec.ports).toEqual([]);
    expect(grafana.taskSpec.networksAdvanceds.map((n) => n.id)).toEqual(["monitor-net-id"]);
    expect(labelsOf(grafana)).toMatchObject({
      "traefik.http.routers.grafana.rule": "Host(`grafana.medianest.example.com`)",
      "traefik.http.routers.grafana.middlewares": "mgmt-only@file,secure-headers@file",
      "traefik.swarm.network": "monitor-net",
    });
    const dynamic = parse(deployedFile(run, "traefik-dynamic.yml")) as { http: { middlewares: { "mgmt-only": { ipAllowList: { sourceRange: string[] } } } } };
    const ranges = dynamic.http.middlewares["mgmt-only"].ipAllowList.sourceRange;
    expect(ranges[0]).toBe("198.51.100.0/24");
    expect(ranges.slice(1).every((r) => /^192\.0\.2\.\d+\/32$/.test(r))).toBe(true);
  });
});

const DIGEST_A = `@sha256:${"a".repeat(64)}`;
const DIGEST_B = `@sha256:${"b".repeat(64)}`;

function blueGreen(activeColor: "blue" | "green", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...testConfig("homelab"),
    "medianest:deployment": { strategy: "blue-green", activeColor, images: { blue: `ghcr.io/medianest/medianest-backend:1.0.0${DIGEST_A}`, green: `ghcr.io/medianest/medianest-backend:1.1.0${DIGEST_B}` }, ...extra },
  };
}

/** Every resource's inputs by type and name (random passwords excluded: they are generated). */
function snapshot(run: MockedRun): Map<string, unknown> {
  return new Map(run.resources.filter((r) => !r.type.startsWith("random:")).map((r) => [`${r.type} ${r.name}`, r.inputs]));
}

describe("blue-green", () => {
  it("flipping activeColor moves the router labels and nothing else", async () => {
    const blue = await runOf("homelab", blueGreen("blue"), "bg-blue");
    const green = await runOf("homelab", blueGreen("green"), "bg-green");
    const routed = (run: MockedRun, color: string) => labelsOf(serviceNamed(run, `medianest-backend-${color}`))["traefik.enable"];
    expect([routed(blue, "blue"), routed(blue, "green")]).toEqual(["true", "false"]);
    expect([routed(green, "blue"), routed(green, "green")]).toEqual(["false", "true"]);
    const before = snapshot(blue);
    const after = snapshot(green);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed = [...before.keys()].filter((key) => JSON.stringify(before.get(key)) !== JSON.stringify(after.get(key)));
    expect(changed.sort()).toEqual(["docker:index/service:Service medianest-backend-blue", "docker:index/service:Service medianest-backend-green"]);
    for (const color of ["blue", "green"]) {
      const { labels: labelsBefore, ...restBefore } = serviceNamed(blue, `medianest-backend-${color}`);
      const { labels: labelsAfter, ...restAfter } = serviceNamed(green, `medianest-backend-${color}`);
      expect(restAfter).toEqual(restBefore);
      expect(labelsAfter).not.toEqual(labelsBefore);
      // Only Traefik's router labels differ.
      const a = Object.fromEntries((labelsBefore ?? []).map((l) => [l.label, l.value]));
      const b = Object.fromEntries((labelsAfter ?? []).map((l) => [l.label, l.value]));
      const changedKeys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
      expect(changedKeys.length).toBeGreaterThan(0);
      expect(changedKeys.filter((k) => !k.startsWith("traefik."))).toEqual([]);
    }
  });

  it("keeps the idle color deployed, or parks it at the configured replicas", async () => {
    const run = await runOf("homelab", blueGreen("blue", { idleReplicas: 0 }), "bg-idle0");
    expect(serviceNamed(run, "medianest-backend-blue").mode.replicated?.replicas).toBe(1);
    expect(serviceNamed(run, "medianest-backend-green").mode.replicated?.replicas).toBe(0);
    expect(serviceNamed(run, "medianest-backend-green").taskSpec.containerSpec.image).toBe(`ghcr.io/medianest/medianest-backend:1.1.0${DIGEST_B}`);
    const prometheus = deployedFile(run, "prometheus.yml");
    expect(prometheus).toContain("tasks.medianest-backend-blue");
    expect(prometheus).toContain("tasks.medianest-backend-green");
  });
});

describe("rolling updates", () => {
  const backupOf = (run: MockedRun) => {
    const backups = run.resources.filter((r) => r.name.startsWith("predeploy-backup-") && r.type.startsWith("command:"));
    expect(backups).toHaveLength(1);
    return backups[0];
  };

  it("the pre-deploy backup re-runs exactly when an app image changes", async () => {
    const base = await runOf("homelab");
    const newImage = await runOf(
      "homelab",
      {
        ...testConfig("homelab"),
        "medianest:images": {
          ...(testConfig("homelab")["medianest:images"] as object),
          frontend: `ghcr.io/medianest/medianest-frontend:1.0.1${DIGEST_A}`,
        },
      },
      "image-bump",
    );
    const scaled = await runOf("homelab", { ...testConfig("homelab"), "medianest:services": { ...(testConfig("homelab")["medianest:services"] as object), frontend: { replicas: 2 } } }, "scaled");
    const before = backupOf(base);
    // The images are arguments: a new one changes the command line, which is an update
    // (pulumi-command runs `update` in place); no replace-on-change `triggers`.
    expect(backupOf(newImage).inputs.create).not.toEqual(before.inputs.create);
    expect(String(backupOf(newImage).inputs.create)).toContain(`ghcr.io/medianest/medianest-frontend:1.0.1${DIGEST_A}`);
    expect(backupOf(newImage).inputs.triggers).toBeUndefined();
    expect(backupOf(scaled).inputs).toEqual(before.inputs);
    expect(String(before.inputs.create)).toContain("postgres-backup");
  });

  it("app services wait for the backup, and the frontend waits for the backend", async () => {
    const run = await runOf("homelab");
    const backup = backupOf(run);
    const component = (name: string) => run.resources.find((r) => r.type === "medianest:service:SwarmService" && r.name === name) as RecordedResource;
    const dockerService = (name: string) => services(run).find((r) => inputsOf(r).name === name) as RecordedResource;
    expect(component("medianest-backend").dependencies).toContain(backup.urn);
    expect(component("medianest-frontend").dependencies).toContain(dockerService("medianest-backend").urn);
  });
});
