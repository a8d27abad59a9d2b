// The app contract (domain/app-contract.ts) against what every stack deploys: each tier gets
// exactly the settings and secret files MediaNest reads, in the form it reads them, and
// nothing it never reads; generated secrets cannot trip the app's validator; config values
// that would are refused before any resource exists.
import { describe, expect, it } from "vitest";
import { FORBIDDEN_SECRET_WORDS, MEDIANEST_CONTRACT, SAFE_SECRET_ALPHABET, SECRET_VALUE_RULES, forbiddenWordIn, type TierContract } from "../domain/app-contract";
import { ConfigError, validateStackConfig } from "../config/schema";
import { FAKE_SSH_KEY, MOCK_SAFE_RANDOM_PREFIX, STACKS, stackFileConfig, testConfig, effectiveEnv, isSecretValue, mockedRun, type MockedRun, type RecordedResource, type StackName } from "./support/mocked-run";
import { validatedStackConfig } from "./support/stack-config";

interface ContainerInputs {
  commands?: string[];
  secrets?: { secretName: string; fileName: string; fileMode: number; fileUid?: string; fileGid?: string }[];
}

const runs = new Map<StackName, MockedRun>();
async function runOf(stack: StackName): Promise<MockedRun> {
  if (!runs.has(stack)) runs.set(stack, await mockedRun(stack));
  return runs.get(stack) as MockedRun;
}
const serviceOf = (run: MockedRun, name: string): RecordedResource => {
  const found = run.ofType("docker:index/service:Service").find((s) => s.inputs.name === name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
};
const containerOf = (service: RecordedResource) => (service.inputs.taskSpec as { containerSpec: ContainerInputs }).containerSpec;
const secretData = (run: MockedRun, name: string): string => {
  const secret = run.ofType("docker:index/secret:Secret").find((s) => s.name === name);
  if (!secret) throw new Error(`no secret ${name}`);
  return Buffer.from(String(secret.inputs.data), "base64").toString("utf8");
};

describe("the contract", () => {
  it("names the upstream commits it was read from", () => {
    expect(MEDIANEST_CONTRACT.upstream.backendCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(MEDIANEST_CONTRACT.upstream.frontendCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(MEDIANEST_CONTRACT.upstream.repository).toBe("https://github.com/KingInYellow18/medianest");
  });

  it("generated secrets cannot contain a forbidden word: each word has a character outside the alphabet", () => {
    const alphabet = new Set(SAFE_SECRET_ALPHABET.toLowerCase());
    for (const word of FORBIDDEN_SECRET_WORDS) expect([...word].some((c) => !alphabet.has(c)), word).toBe(true);
    expect(forbiddenWordIn("abcDEVxyz")).toBe("dev");
    expect(forbiddenWordIn(SAFE_SECRET_ALPHABET)).toBeUndefined();
  });
});

describe.each(STACKS)("stack %s wires the app as its contract says", (stack) => {
  const tiers: [string, TierContract][] = [
    ["medianest-frontend", MEDIANEST_CONTRACT.frontend],
    ["medianest-backend", MEDIANEST_CONTRACT.backend],
  ];

  it.each(tiers)("%s: exactly the contract's settings, nothing the app never reads", async (name, tier) => {
    const run = await runOf(stack);
    const backendName = run.ofType("docker:index/service:Service").some((s) => s.inputs.name === name) ? name : `${name}-blue`;
    const env = await effectiveEnv(run, serviceOf(run, backendName));
    expect(Object.keys(env).sort()).toEqual(Object.keys(tier.env).sort());
    expect(env.PORT).toBe(String(tier.port));
    expect(env.NODE_ENV).toBe("production");
  });

  it.each(tiers)("%s: the contract's secret files, its own and read-only, and the env-only ones exported by the wrapper", async (name, tier) => {
    const run = await runOf(stack);
    const container = containerOf(serviceOf(run, name));
    const files = [...new Set(tier.secrets.map((s) => s.file))].sort();
    expect((container.secrets ?? []).map((s) => s.fileName).sort()).toEqual(files.map((f) => `/run/secrets/${f}`));
    for (const secret of container.secrets ?? []) expect([secret.fileMode, secret.fileUid, secret.fileGid]).toEqual([0o400, String(tier.uid), String(tier.gid)]);
    const wrapper = container.commands?.[2] ?? "";
    for (const { env, file, exportedBy } of tier.secrets) {
      const exported = `${env}="$(cat /run/secrets/${file})"`;
      if (exportedBy === "wrapper") expect(wrapper).toContain(exported);
      else expect(wrapper).not.toContain(exported);
    }
    // Then the image's own entrypoint, which exports the rest and starts node.
    expect(container.commands?.slice(-tier.entrypoint.length)).toEqual([...tier.entrypoint]);
  });

  it("database_url and redis_url hold whole URLs with the generated passwords", async () => {
    const run = await runOf(stack);
    const config = validatedStackConfig(stack);
    const { user, database } = config.services.postgres;
    const pgPassword = secretData(run, "postgres-password");
    expect(secretData(run, "database_url")).toBe(`postgresql://${user}:${pgPassword}@tasks.postgres-rw:5432/${database}`);
    // With Sentinel the app's Sentinel-unaware client is given the master endpoint (redis-proxy).
    const redisHost = config.services.redis.sentinels > 0 ? "tasks.redis-proxy" : "tasks.redis-master";
    expect(secretData(run, "redis_url")).toBe(`redis://default:${secretData(run, "redis-password")}@${redisHost}:6379`);
    expect(forbiddenWordIn(secretData(run, "database_url").replace(pgPassword, ""))).toBeUndefined();
  });

  it("generates the app's checked secrets from the safe alphabet, long enough", async () => {
    const run = await runOf(stack);
    for (const file of ["jwt_secret", "encryption_key", "metrics_token"] as const) {
      const password = run.ofType("random:index/randomPassword:RandomPassword").find((r) => r.name === file);
      expect(password?.inputs, file).toMatchObject({ lower: false, upper: false, numeric: false, special: true, overrideSpecial: SAFE_SECRET_ALPHABET });
      expect(Number(password?.inputs.length)).toBeGreaterThanOrEqual(SECRET_VALUE_RULES[file].minLength);
    }
    // The mock, like the provider, draws them from that alphabet only.
    expect(secretData(run, "jwt_secret")).toMatch(new RegExp(`^${MOCK_SAFE_RANDOM_PREFIX}jsecre`));
    expect(secretData(run, "jwt_secret")).toHaveLength(64);
    expect(forbiddenWordIn(secretData(run, "database_url"))).toBeUndefined();
  });
});

describe("a stack extends the contract with plain settings", () => {
  it("the backend gets them next to the contract's, the frontend does not", async () => {
    const config = testConfig("homelab");
    const app = { ...(config["medianest:app"] as object), extraEnv: { backend: { LOG_LEVEL: "debug" } } };
    const run = await mockedRun("homelab", { config: { ...config, "medianest:app": app } });
    expect((await effectiveEnv(run, serviceOf(run, "medianest-backend"))).LOG_LEVEL).toBe("debug");
    expect((await effectiveEnv(run, serviceOf(run, "medianest-frontend"))).LOG_LEVEL).toBeUndefined();
  });
});

describe("a stack extends the contract with secret files (a fork's)", () => {
  const SMTP = "smtp-value-for-the-fork";
  async function forkRun(): Promise<MockedRun> {
    const config = testConfig("homelab");
    const app = {
      ...(config["medianest:app"] as object),
      extraSecrets: { backend: [{ file: "smtp_password", env: "SMTP_PASSWORD" }, { file: "youtube_api_key" }] },
    };
    return mockedRun("homelab", { config: { ...config, "medianest:app": app, "medianest:appSecrets": { smtp_password: SMTP, youtube_api_key: "yt-key" } } });
  }

  it("mounts each as /run/secrets/<file>, the image user's, read-only; exports the env-named ones in the wrapper only", async () => {
    const run = await forkRun();
    const backend = containerOf(serviceOf(run, "medianest-backend"));
    const extra = (backend.secrets ?? []).filter((s) => ["/run/secrets/smtp_password", "/run/secrets/youtube_api_key"].includes(s.fileName));
    expect(extra.map((s) => [s.fileName, s.fileMode, s.fileUid, s.fileGid])).toEqual([
      ["/run/secrets/smtp_password", 0o400, "1001", "1001"],
      ["/run/secrets/youtube_api_key", 0o400, "1001", "1001"],
    ]);
    const wrapper = backend.commands?.[2] ?? "";
    expect(wrapper).toContain('SMTP_PASSWORD="$(cat /run/secrets/smtp_password)"');
    expect(wrapper).not.toContain("youtube_api_key");
    // The value is a Docker secret's data (a Pulumi secret), never a setting.
    expect(secretData(run, "app-extra-smtp_password")).toBe(SMTP);
    expect(isSecretValue(run.ofType("docker:index/secret:Secret").find((r) => r.name === "app-extra-smtp_password")?.rawInputs.data)).toBe(true);
    expect(JSON.stringify((await effectiveEnv(run, serviceOf(run, "medianest-backend"))))).not.toContain(SMTP);
    // The frontend has its own list (empty here).
    expect((containerOf(serviceOf(run, "medianest-frontend")).secrets ?? []).map((s) => s.fileName)).not.toContain("/run/secrets/smtp_password");
  });

  it.each([
    [{ file: "jwt_secret" }, {}, "medianest:app.extraSecrets.backend[0].file: \"jwt_secret\" is a secret the program already manages"],
    [{ file: "smtp_password", env: "DATABASE_URL" }, { smtp_password: "x" }, "medianest:app.extraSecrets.backend[0].env: DATABASE_URL is set by the app contract"],
    [{ file: "smtp_password" }, {}, "medianest:appSecrets.smtp_password: is needed by app.extraSecrets.backend[0]: pulumi config set --secret --path 'medianest:appSecrets.smtp_password' <value>"],
    [{ file: "smtp_password" }, { smtp_password: "x", smpt_password: "y" }, "medianest:appSecrets.smpt_password: is not used by any app.extraSecrets entry"],
  ] as const)("refuses %o with values %o", (entry, values, message) => {
    let text = "";
    try {
      validatedStackConfig("homelab", { app: { hostname: "medianest.example.com", extraSecrets: { backend: [entry] } }, appSecrets: values });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      text = error.issues.map((i) => `${i.key}: ${i.message}`).join("\n");
    }
    expect(text).toContain(message);
    // Values never appear in an error.
    for (const value of Object.values(values)) if (value.length > 1) expect(text).not.toContain(`"${value}"`);
  });

  it("refuses appSecrets given in plain text", () => {
    const raw = Object.fromEntries(Object.entries(testConfig("homelab")).map(([k, v]) => [k.replace(/^medianest:/, ""), v]));
    const secretKeys = new Set(["sshPrivateKey", "cloudflareApiToken"]);
    const config = { ...raw, app: { hostname: "medianest.example.com", extraSecrets: { backend: [{ file: "smtp_password" }] } }, appSecrets: { smtp_password: "x" } };
    expect(() => validateStackConfig(config, { secretKeys, runningAsRoot: true })).toThrow(/medianest:appSecrets: must be a secret/);
  });
});

describe("monitoring scrapes the backend with its metrics token", () => {
  it("as a bearer file Prometheus mounts", async () => {
    const run = await runOf("homelab");
    const prometheus = containerOf(serviceOf(run, "prometheus"));
    expect((prometheus.secrets ?? []).map((s) => s.fileName)).toContain("/run/secrets/metrics_token");
  });
});

describe("the samples' app images", () => {
  it("are placeholders the config refuses, saying how to get real ones", () => {
    const raw = Object.fromEntries(Object.entries(stackFileConfig("homelab")).map(([k, v]) => [k.replace(/^medianest:/, ""), v]));
    const secretKeys = new Set(["sshPrivateKey", "cloudflareApiToken"]);
    let message = "";
    try {
      validateStackConfig({ ...raw, sshPrivateKey: FAKE_SSH_KEY, cloudflareApiToken: "x".repeat(40) }, { secretKeys, runningAsRoot: true });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('medianest:images.frontend: is the sample\'s placeholder: no MediaNest image is published. Build it (README "Building the MediaNest images")');
    expect(message).toContain("medianest:images.backend: is the sample's placeholder");
  });
});

describe("config values the app would refuse", () => {
  const issues = (overrides: Parameters<typeof validatedStackConfig>[1]): string[] => {
    try {
      validatedStackConfig("homelab", overrides);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((i) => `${i.key}: ${i.message}`);
    }
  };

  it.each([
    [{ jwtSecret: "x".repeat(31) }, "medianest:jwtSecret: is 31 characters; MediaNest refuses to start with fewer than 32"],
    [{ encryptionKey: `Changeme${"x".repeat(40)}` }, 'medianest:encryptionKey: contains "changeme"'],
    [{ metricsToken: "short" }, "medianest:metricsToken: is 5 characters"],
    [{ services: { postgres: { database: "medianest_dev" } } }, 'medianest:services.postgres.database: contains "dev"; it goes into DATABASE_URL'],
    [{ services: { postgres: { maxConnections: 60 } } }, "medianest:services.postgres.maxConnections: the app can open"],
    [{ app: { hostname: "medianest.example.com", extraEnv: { backend: { JWT_SECRET: "x" } } } }, "medianest:app.extraEnv.backend.JWT_SECRET: is set by the program from the app contract"],
    [{ app: { hostname: "medianest.example.com", extraEnv: { frontend: { SMTP_PASSWORD: "x" } } } }, "medianest:app.extraEnv.frontend.SMTP_PASSWORD: looks like a secret"],
  ] as const)("%o", (overrides, message) => {
    expect(issues(overrides as Parameters<typeof validatedStackConfig>[1]).join("\n")).toContain(message);
  });
});
