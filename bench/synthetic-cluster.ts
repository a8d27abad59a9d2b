// A synthetic production-like cluster of N nodes for the benchmark: 3 managers
// (5 from 50 nodes on), the rest workers cycling compute/processing/database
// over three zones, Postgres replicas on managers 1 and 2, external S3.
import { FAKE_CONFIG_SECRETS, FAKE_SSH_KEY } from "../test/support/mocked-run";

export function syntheticClusterConfig(nodes: number): Record<string, unknown> {
  const managers = nodes >= 50 ? 5 : 3;
  const types = ["compute", "compute", "processing", "database"];
  const hosts = Array.from({ length: nodes }, (_, i) => {
    const manager = i < managers;
    const labels: Record<string, string> = { az: ["a", "b", "c"][i % 3] };
    if (manager && i < 2) labels.postgres = `replica-${i + 1}`;
    if (!manager) {
      labels.type = types[(i - managers) % types.length];
      if (labels.type === "database") labels.storage = "ssd";
    }
    return {
      name: `${manager ? "mgr" : "wrk"}-${i + 1}`,
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
    "medianest:images": { frontend: "ghcr.io/medianest/medianest-frontend:1.0.0", backend: "ghcr.io/medianest/medianest-backend:1.0.0" },
    "medianest:s3": { mode: "external", endpoint: "https://s3.example.com" },
  };
}
