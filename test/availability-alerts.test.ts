// The alerts that protect data and availability beyond the benchmark table: each one's
// expression follows the stack (its thresholds from monitoring.thresholds, its counts from
// the plan), and exists exactly where the stack has what it watches. Whether each fires and
// stays silent on synthetic series is test/alert-fixtures-promtool.test.ts.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError } from "../config/schema";
import { availabilityAlertRules, dataMountPoints } from "../topology/availability-alert-rules";
import { backupAlertRules } from "../topology/backup-alert-rules";
import { scrapeTargets } from "../topology/generated-files";
import { postgresAlertRules } from "../topology/postgres-alert-rules";
import { renderDerivedSecret, secretSource } from "../topology/secret-sources";
import { servicesOf } from "../topology/services";
import { planStack } from "../topology/stack-plan";
import { validatedStackConfig } from "./support/stack-config";

type Stack = "production" | "homelab" | "local" | "cluster";

function planOf(stack: Stack, overrides: Parameters<typeof validatedStackConfig>[1] = {}) {
  const plan = planStack(validatedStackConfig(stack, overrides));
  return { plan, targets: scrapeTargets(plan.config, plan.topology, servicesOf(plan.services)) };
}
function rulesOf(stack: Stack, overrides: Parameters<typeof validatedStackConfig>[1] = {}) {
  const { plan, targets } = planOf(stack, overrides);
  return availabilityAlertRules(plan.config, targets);
}
const rule = (rules: readonly { alert: string; expr: string; for: string }[], name: string) => {
  const found = rules.find((r) => r.alert === name);
  if (!found) throw new Error(`no rule ${name} among ${rules.map((r) => r.alert).join(", ")}`);
  return found;
};
const names = (rules: readonly { alert: string }[]) => rules.map((r) => r.alert);
const thresholds = (values: Record<string, number>) => ({ monitoring: { thresholds: values } });

describe("availability alerts", () => {
  it("waits monitoring.thresholds.targetDownMinutes before a target, a node or a service's tasks count as gone", () => {
    for (const minutes of [2, 7]) {
      const rules = rulesOf("production", thresholds({ targetDownMinutes: minutes }));
      for (const name of ["TargetDown", "NodeDown", "ServiceTasksMissing"]) expect([name, rule(rules, name).for]).toEqual([name, `${minutes}m`]);
    }
    expect(rule(rulesOf("production"), "TargetDown").expr).toBe("up == 0");
  });

  it("counts the nodes the plan has: a drained host runs no node-exporter and is not missed", () => {
    expect(rule(rulesOf("production"), "NodeDown").expr).toBe('(count(up{job="node-exporter"} == 1) or vector(0)) < 7');
    expect(rule(rulesOf("homelab"), "NodeDown").expr).toMatch(/ < 1$/);
    const production = validatedStackConfig("production");
    const drained = production.hosts.map((h) => (h.name === "wrk-3" ? { ...h, availability: "drain" as const } : h));
    expect(rule(rulesOf("production", { hosts: drained }), "NodeDown").expr).toMatch(/ < 6$/);
  });

  it("compares each scraped service's answering tasks with its planned replicas (no Swarm replica metric exists in the stack)", () => {
    const base = rule(rulesOf("production"), "ServiceTasksMissing").expr;
    const backends = validatedStackConfig("production").services.backend.replicas;
    expect(base).toContain(`label_replace(label_replace(vector(${backends}), "job", "medianest-backend", "", ""), "swarm_service", "medianest-backend", "", "")`);
    expect(base).toContain('label_replace(label_replace(vector(2), "job", "traefik", "", ""), "swarm_service", "traefik", "", "")');
    // node-exporter has NodeDown of its own.
    expect(base).not.toContain('"node-exporter"');
    const scaled = rule(rulesOf("production", { services: { ...validatedStackConfig("production").services, backend: { replicas: 5 } } }), "ServiceTasksMissing").expr;
    expect(scaled).toContain('vector(5), "job", "medianest-backend"');
  });

  it("watches the filesystems under Postgres, MinIO (only where it runs) and the backups, at the configured free space", () => {
    const homelab = validatedStackConfig("homelab");
    expect(dataMountPoints(homelab)).toEqual(expect.arrayContaining(["/", `${homelab.storage.appDataPath}/postgres`, homelab.storage.backupPath, `${homelab.storage.appDataPath}/minio`]));
    const production = validatedStackConfig("production");
    expect(production.s3.mode).toBe("external");
    expect(dataMountPoints(production).some((p) => p.endsWith("/minio"))).toBe(false);
    const rules = rulesOf("homelab", thresholds({ diskFreeWarningPercent: 20, diskFreeCriticalPercent: 3 }));
    expect(rule(rules, "DataDiskSpaceLow").expr).toMatch(/^100 \* node_filesystem_avail_bytes\{job="node-exporter",mountpoint=~"[^"]*\/opt\/medianest\/postgres[^"]*".* < 20$/);
    expect(rule(rules, "DataDiskSpaceCritical").expr).toMatch(/ < 3$/);
    // Regex metacharacters in a path are escaped (PromQL string: \\. for a literal dot).
    const dotted = rulesOf("homelab", { storage: { ...homelab.storage, backupPath: "/srv/backup.d" } });
    expect(rule(dotted, "DataDiskSpaceLow").expr).toContain("/srv/backup\\\\.d");
  });

  it("warns, then pages, before an edge certificate runs out, only where Traefik gets certificates from Let's Encrypt", () => {
    const rules = rulesOf("production", thresholds({ certExpiryWarningDays: 25, certExpiryCriticalDays: 5 }));
    expect(rule(rules, "EdgeCertificateExpiring").expr).toBe('(max by (instance, cn, sans) (traefik_tls_certs_not_after{job="traefik"}) - time()) / 86400 < 25');
    expect(rule(rules, "EdgeCertificateExpiryCritical").expr).toMatch(/ < 5$/);
    expect(validatedStackConfig("local").edge.tls).toBe("none");
    expect(names(rulesOf("local")).filter((n) => n.startsWith("EdgeCertificate"))).toEqual([]);
  });

  it("Redis: no single master behind the app's address; replicas, sentinel quorum and sentinel agreement only where they exist", () => {
    const production = rulesOf("production");
    const redis = validatedStackConfig("production").services.redis;
    expect(rule(production, "RedisMasterUnreachable").expr).toBe('redis_up{job="redis-exporter"} == 0');
    expect(rule(production, "RedisReplicasMissing").expr).toBe(`redis_connected_slaves{job="redis-exporter"} < ${redis.replicas}`);
    expect(rule(production, "RedisSentinelsDisagree").expr).toBe(`redis_sentinel_master_ok_sentinels{job="redis-sentinel",master_name="medianest"} < ${redis.sentinels}`);
    expect(rule(production, "RedisSentinelQuorumLost").expr).toContain("redis_sentinel_master_ckquorum_status");
    const homelab = names(rulesOf("homelab"));
    expect(homelab).toContain("RedisMasterUnreachable");
    expect(homelab.filter((n) => /RedisReplicas|RedisSentinel/.test(n))).toEqual([]);
  });

  it("watches the alerting pipeline itself", () => {
    expect(names(rulesOf("homelab"))).toEqual(expect.arrayContaining(["AlertmanagerNotificationsFailing", "PrometheusRuleEvaluationFailures"]));
  });
});

describe("data alerts added here", () => {
  it("Postgres replication lag past monitoring.thresholds.replicationLagMb, only with replicas", () => {
    const lag = rule(postgresAlertRules(validatedStackConfig("production", thresholds({ replicationLagMb: 64 }))), "PostgresReplicationLag");
    expect(lag.expr).toBe(`pg_stat_replication_pg_wal_lsn_diff{job="postgres-exporter"} > ${64 * 1024 * 1024}`);
    expect(postgresAlertRules(validatedStackConfig("homelab"))).toEqual([]);
  });

  it("a backup upload whose last round failed after its last success", () => {
    const config = validatedStackConfig("production");
    const failing = rule(backupAlertRules(config), "BackupUploadFailing");
    expect(failing.expr).toContain(`medianest_backup_upload_last_failure_timestamp_seconds{database="${config.services.postgres.database}"}`);
    expect(failing.expr).toContain(" > max by (database, target) (medianest_backup_upload_last_success_timestamp_seconds");
    expect(failing.expr).toContain("unless on (database, target)");
  });
});

describe("monitoring.thresholds validation", () => {
  it("refuses a critical threshold that is not past its warning, naming the key", () => {
    const refused = (values: Record<string, number>) => {
      try {
        validatedStackConfig("homelab", thresholds(values));
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message;
      }
      return "accepted";
    };
    expect(refused({ diskFreeWarningPercent: 10, diskFreeCriticalPercent: 10 })).toContain("monitoring.thresholds.diskFreeCriticalPercent");
    expect(refused({ certExpiryWarningDays: 7, certExpiryCriticalDays: 14 })).toContain("monitoring.thresholds.certExpiryCriticalDays");
    expect(refused({ diskFreeWarningPercent: 10, diskFreeCriticalPercent: 4 })).toBe("accepted");
  });
});

describe("redis_exporter's password file and scrape jobs", () => {
  it("is JSON keyed by the exact URIs the exporter dials, each with its server's password (JSON-escaped)", () => {
    const production = validatedStackConfig("production");
    const source = secretSource("redis-exporter-passwords", production);
    expect(source.kind).toBe("derived");
    if (source.kind !== "derived") return;
    expect(source.from).toEqual(["redis-password", "redis-sentinel-password"]);
    const rendered = JSON.parse(renderDerivedSecret(source.template, ['p"w\\1', "sentinel{value}"], source.encoding)) as Record<string, string>;
    expect(rendered).toEqual({ "redis://tasks.redis-proxy:6379": 'p"w\\1', "redis://tasks.redis-sentinel:26379": "sentinel{value}" });
    const homelab = secretSource("redis-exporter-passwords", validatedStackConfig("homelab"));
    if (homelab.kind !== "derived") throw new Error("derived");
    expect(JSON.parse(renderDerivedSecret(homelab.template, ["pw"], homelab.encoding))).toEqual({ "redis://tasks.redis-master:6379": "pw" });
  });

  it("the Redis exporter, whose image is FROM scratch (no shell, no wget), carries no health check it cannot run", () => {
    for (const stack of ["production", "homelab"] as const) {
      const exporter = servicesOf(planOf(stack).plan.services).find((s) => s.name === "redis-exporter");
      expect(exporter, stack).toBeDefined();
      expect(exporter?.healthcheck, stack).toBeUndefined();
    }
  });

  it("the exporter reads the app's Redis address with that file, and the sentinels through its /scrape endpoint", () => {
    const { plan } = planOf("production");
    const exporter = servicesOf(plan.services).find((s) => s.name === "redis-exporter");
    expect(exporter?.env).toEqual({ REDIS_PASSWORD_FILE: "/run/secrets/redis-exporter-passwords" });
    expect(exporter?.args).toEqual(["--redis.addr=redis://tasks.redis-proxy:6379"]);
    expect(plan.secrets.map((s) => s.name)).toEqual(expect.arrayContaining(["redis-exporter-passwords", "redis-password", "redis-sentinel-password"]));
    const prometheus = parse(plan.configFiles.files["prometheus.yml"] ?? "") as { scrape_configs: { job_name: string; metrics_path: string; params?: Record<string, string[]> }[] };
    const sentinel = prometheus.scrape_configs.find((j) => j.job_name === "redis-sentinel");
    expect([sentinel?.metrics_path, sentinel?.params]).toEqual(["/scrape", { target: ["redis://tasks.redis-sentinel:26379"] }]);
    expect(prometheus.scrape_configs.map((j) => j.job_name)).toContain("alertmanager");
    const homelab = parse(planOf("homelab").plan.configFiles.files["prometheus.yml"] ?? "") as typeof prometheus;
    expect(homelab.scrape_configs.map((j) => j.job_name)).not.toContain("redis-sentinel");
  });
});
