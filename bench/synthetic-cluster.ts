// A synthetic production-like cluster of N nodes for the benchmark: 3 managers
// (5 from 50 nodes on), the rest workers cycling compute/processing/database
// over three zones, Postgres replicas and Traefik on managers 1 and 2,
// monitoring on manager 3, Redis on the first three compute workers, external S3.
import { FAKE_CONFIG_SECRETS, FAKE_SSH_KEY, fakeHostKey } from "../test/support/mocked-run";

export function syntheticClusterConfig(nodes: number): Record<string, unknown> {
  const managers = nodes >= 50 ? 5 : 3;
  const types = ["compute", "compute", "processing", "database"];
  const hosts = Array.from({ length: nodes }, (_, i) => {
    const manager = i < managers;
    const labels: Record<string, string> = { az: ["a", "b", "c"][i % 3] };
    if (manager && i < 2) {
      labels.postgres = `replica-${i + 1}`;
      labels.edge = "traefik";
    }
    if (i === 2) labels.monitoring = "main";
    if (!manager) {
      labels.type = types[(i - managers) % types.length];
      if (labels.type === "database") labels.storage = "ssd";
      if (labels.type === "compute" && i < managers + 6) labels.redis = "data";
    }
    const name = `${manager ? "mgr" : "wrk"}-${i + 1}`;
    return {
      name,
      hostKey: fakeHostKey(name),
      address: `10.${200 + Math.floor(i / 250)}.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      sshUser: "deploy",
      role: manager ? "manager" : "worker",
      cpus: manager ? 4 : 8,
      memoryGb: manager ? 8 : 16,
      labels,
    };
  });
  return {
    "medianest:environment": "production",
    "medianest:hosts": hosts,
    "medianest:sshPrivateKey": FAKE_SSH_KEY,
    "medianest:s3AccessKey": FAKE_CONFIG_SECRETS.s3AccessKey,
    "medianest:s3SecretKey": FAKE_CONFIG_SECRETS.s3SecretKey,
    "medianest:app": { hostname: "medianest.example.com" },
    "medianest:images": { frontend: "ghcr.io/medianest/medianest-frontend:1.0.0@sha256:7d8f249bac169d71a113232ba6b343a7c7c14eb20d568997fdaafa94997a94a7", backend: "ghcr.io/medianest/medianest-backend:1.0.0@sha256:2c128afe11fa8bacaab9dc0245a7080970747b446f895707e8a590f7d13dfccf" },
    "medianest:s3": { mode: "external", endpoint: "https://s3.example.com" },
    "medianest:edge": { acme: { email: "admin@example.com", challenge: "dns-cloudflare" } },
    "medianest:cloudflareDnsToken": FAKE_CONFIG_SECRETS.cloudflareDnsToken,
  };
}
