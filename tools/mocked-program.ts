// Runs the real program (index.ts) for a stack under Pulumi's mocks and records
// the resource graph: type, name, parent, dependencies, inputs (plain and with
// secret markers). The mocks are strict: an unexpected resource type or any
// provider function call fails the run.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { isPlaceholderImage } from "../domain/images";
import * as path from "node:path";
import { parse } from "yaml";
import type * as pulumiType from "@pulumi/pulumi";

export const PROJECT = "medianest";
export const REPO_ROOT = path.resolve(__dirname, "..");
export const STACKS = ["local", "homelab", "cluster", "production", "lab"] as const;
export type StackName = (typeof STACKS)[number];

/** Not a real key: only its shape (PEM armour) is checked by config validation. */
export const FAKE_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nZmFrZS1rZXktZm9yLXRlc3Rz\n-----END OPENSSH PRIVATE KEY-----\n";

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly parent: string;
  readonly dependencies: readonly string[];
  readonly deleteBeforeReplace: boolean;
  /** The resource's ignoreChanges option (property paths). */
  readonly ignoreChanges: readonly string[];
  /** The id the mocks gave the resource (custom resources only). */
  readonly id: string;
  /** Provider reference ("urn::id"), empty for the default provider. */
  readonly provider: string;
  /** Inputs with secrets unwrapped. */
  readonly inputs: Record<string, unknown>;
  /** Inputs as sent to the engine: secrets are `{ [sig]: secretSig, value }` objects. */
  readonly rawInputs: Record<string, unknown>;
}

export interface MockedRun {
  readonly resources: readonly RecordedResource[];
  readonly exports: Record<string, unknown>;
  readonly secretExports: ReadonlySet<string>;
  ofType(type: string): RecordedResource[];
  named(name: string): RecordedResource;
  /** URNs this resource depends on, directly or through other dependencies. */
  dependsOnTransitively(resource: RecordedResource, target: RecordedResource): boolean;
}

export function isSecretValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** The `config:` map of Pulumi.<stack>.yaml, keys fully qualified. */
export function stackFileConfig(stack: string): Record<string, unknown> {
  const file = parse(readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  return { ...(file.config ?? {}) };
}

export interface MockedRunOptions {
  /** Replaces the stack file's config entirely when given. */
  readonly config?: Record<string, unknown>;
  /** Fully qualified keys to mark secret; defaults to every secret config key present. */
  readonly secretKeys?: readonly string[];
  /** Forgets the program's modules so it is evaluated afresh (vitest: vi.resetModules). */
  readonly resetModules?: () => void;
  /** Loads index.ts (vitest: a dynamic import through its registry). */
  readonly loadProgram?: () => Promise<Record<string, unknown>>;
}

/** Outside vitest: CommonJS require, whose cache purgeProgramModules clears (import()'s cache cannot be cleared). */
function requireProgram(): Promise<Record<string, unknown>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return Promise.resolve(require("../index") as Record<string, unknown>);
}

/** Outside vitest: drop the repository's own modules from Node's cache (dependencies stay loaded). */
export function purgeProgramModules(): void {
  for (const file of Object.keys(require.cache)) {
    if (file.startsWith(REPO_ROOT) && !file.includes(`${path.sep}node_modules${path.sep}`) && !file.startsWith(__dirname)) delete require.cache[file];
  }
}

/** The config a stack runs with in tests: its file plus the (fake) SSH key as a secret. */
/**
 * What a user puts in place of the samples' placeholder app images once they have built
 * and pushed theirs: mocked runs (tests, compliance, benchmarks) evaluate the stacks as
 * they will run, not as they ship.
 */
export const BUILT_APP_IMAGES: Readonly<Record<"frontend" | "backend", string>> = {
  frontend: "ghcr.io/medianest/medianest-frontend:1.0.0@sha256:7d8f249bac169d71a113232ba6b343a7c7c14eb20d568997fdaafa94997a94a7",
  backend: "ghcr.io/medianest/medianest-backend:1.0.0@sha256:2c128afe11fa8bacaab9dc0245a7080970747b446f895707e8a590f7d13dfccf",
};

export function testConfig(stack: StackName): Record<string, unknown> {
  const config = stackFileConfig(stack);
  const images = config["medianest:images"] as Record<string, string> | undefined;
  if (images) {
    config["medianest:images"] = Object.fromEntries(
      Object.entries(images).map(([key, ref]) => [key, isPlaceholderImage(ref) && (key === "frontend" || key === "backend") ? BUILT_APP_IMAGES[key] : ref]),
    );
  }
  if (config["medianest:connection"] !== "local") {
    config["medianest:sshPrivateKey"] = FAKE_SSH_KEY;
    // What a user pins (hosts[].hostKey is required over SSH; the samples cannot know the keys).
    const hosts = config["medianest:hosts"] as Record<string, unknown>[] | undefined;
    if (hosts) config["medianest:hosts"] = hosts.map((host) => ({ hostKey: fakeHostKey(String(host.name)), ...host }));
  }
  for (const key of STACK_SECRETS[stack]) config[`medianest:${key}`] = FAKE_CONFIG_SECRETS[key];
  return config;
}

/** A well-formed, fake ed25519 host key line for a host (tests only). */
export function fakeHostKey(name: string): string {
  const body = Buffer.from(`medianest-test-host-key-${name}`.padEnd(32, "-").slice(0, 32)).toString("base64").replace(/=+$/, "");
  return `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${body}`;
}

/** Fake but well-formed script results, so outputs that parse them resolve. */
function commandStdout(name: string, stdin: string, parseStdin: (stdin: string) => { script: string }): string {
  let script: string;
  try {
    script = parseStdin(stdin).script;
  } catch (error) {
    throw new Error(`strict mock: command ${name} runs no known script (${(error as Error).message})`);
  }
  if (script === "swarm/init.sh") {
    return `${JSON.stringify({
      clusterId: "cluster-0001",
      nodeId: `node-${name}`,
      workerToken: "SWMTKN-1-test-worker",
      managerToken: "SWMTKN-1-test-manager",
      unlockKey: "SWMKEY-1-test-unlock",
    })}\n`;
  }
  if (script === "swarm/join.sh") return `${JSON.stringify({ nodeId: `node-${name}` })}\n`;
  return "ok: mocked\n";
}

const ALLOWED_TYPES = new Set([
  "command:remote:Command",
  "command:local:Command",
  "pulumi:providers:docker",
  "docker:index/network:Network",
  "docker:index/secret:Secret",
  "docker:index/serviceConfig:ServiceConfig",
  "docker:index/service:Service",
  "docker:index/image:Image",
  "random:index/randomPassword:RandomPassword",
  "pulumi:providers:minio",
  "minio:index/s3Bucket:S3Bucket",
  "minio:index/s3BucketVersioning:S3BucketVersioning",
  "minio:index/ilmPolicy:IlmPolicy",
  "minio:index/iamUser:IamUser",
  "minio:index/iamPolicy:IamPolicy",
  "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment",
  "pulumi:providers:cloudflare",
  "cloudflare:index/dnsRecord:DnsRecord",
  "cloudflare:index/ruleset:Ruleset",
  "cloudflare:index/zoneSetting:ZoneSetting",
]);

/** The zone id the mocked Cloudflare lookup answers with. */
export const MOCK_ZONE_ID = "mock-zone-id";

/** Every generated password in a mocked run starts with this, so tests can find leaks. */
export const MOCK_RANDOM_PREFIX = "MOCKRANDOM";
/**
 * The prefix of mocked passwords drawn from an override_special-only alphabet (the app's
 * safe secrets): like the real provider, the mock then uses only that alphabet's characters.
 */
export const MOCK_SAFE_RANDOM_PREFIX = "QXRANDQX";

/** A mocked RandomPassword result: recognisable, and within the alphabet its inputs allow. */
function mockedPassword(name: string, inputs: Record<string, unknown>): string {
  const onlySpecial = inputs.lower === false && inputs.upper === false && inputs.numeric === false && typeof inputs.overrideSpecial === "string";
  if (!onlySpecial) return `${MOCK_RANDOM_PREFIX}${name.replace(/[^A-Za-z0-9]/g, "")}`;
  const alphabet = new Set(String(inputs.overrideSpecial));
  const value = [...`${MOCK_SAFE_RANDOM_PREFIX}${name}`].filter((c) => alphabet.has(c)).join("");
  if (value.length < MOCK_SAFE_RANDOM_PREFIX.length) throw new Error(`mock: the alphabet of ${name} lacks the mock prefix's characters`);
  // As long as asked (the app checks minimum lengths), repeating the name's characters.
  const length = Number(inputs.length);
  return value.repeat(Math.ceil(length / value.length)).slice(0, length);
}
/** Fake secret config values (only ever given as secrets). */
export const FAKE_CONFIG_SECRETS = {
  s3AccessKey: "FAKEACCESSKEY0001",
  s3SecretKey: "FAKESECRETKEY0001",
  cloudflareApiToken: "FAKECFAPITOKEN0001",
  cloudflareDnsToken: "FAKECFDNSTOKEN0001",
  alertSmtpPassword: "FAKESMTPPASSWORD0001",
  alertSlackWebhookUrl: "http://198.18.0.1:9093/FAKE",
} as const;

/** The secrets each sample stack's README tells the operator to set. */
const STACK_SECRETS: Record<StackName, readonly (keyof typeof FAKE_CONFIG_SECRETS)[]> = {
  local: [],
  homelab: ["cloudflareApiToken"],
  cluster: [],
  production: ["s3AccessKey", "s3SecretKey", "cloudflareApiToken", "cloudflareDnsToken", "alertSmtpPassword"],
  lab: ["s3AccessKey", "s3SecretKey", "alertSlackWebhookUrl"],
};

export async function mockedRun(stack: StackName, options: MockedRunOptions = {}): Promise<MockedRun> {
  (options.resetModules ?? purgeProgramModules)();
  const pulumi: typeof pulumiType = await import("@pulumi/pulumi");
  const { parseStdin } = await import("../scripts/loader");

  const recorded: RecordedResource[] = [];
  let inFlight = 0;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type.startsWith("medianest:")) return { id: undefined, state: args.inputs };
        if (!ALLOWED_TYPES.has(args.type)) throw new Error(`strict mock: unexpected resource type ${args.type} (${args.name})`);
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = mockedPassword(args.name, args.inputs);
        // A local build's ID (repoDigest of an unpushed Image): content-addressed, so it follows the build inputs.
        if (args.type === "docker:index/image:Image") state.repoDigest = `sha256:${createHash("sha256").update(JSON.stringify(args.inputs)).digest("hex")}`;
        // Engine-side autonaming does not run under mocks: mimic it.
        if (args.type.startsWith("docker:") && state.name === undefined) state.name = `${args.name}-mock`;
        if (args.type.startsWith("command:")) {
          state.stdout = commandStdout(args.name, String(unwrapSecrets(args.inputs.stdin) ?? ""), parseStdin);
          state.stderr = "";
        }
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        // The v6 lookup by name fills zoneId (id may be empty), as the real provider does.
        if (args.token === "cloudflare:index/getZone:getZone") return { id: "", zoneId: MOCK_ZONE_ID, name: (args.inputs.filter as { name: string }).name };
        throw new Error(`strict mock: unexpected provider function call ${args.token}`);
      },
    },
    PROJECT,
    stack,
    false,
  );

  interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getProvider(): string;
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  }
  type Callback = (error: unknown, response?: { getUrn(): string; getId(): string }) => void;
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: Callback): unknown };
  const register = monitor.registerResource.bind(monitor);
  const { deserializeProperties } = await import("@pulumi/pulumi/runtime/rpc");
  monitor.registerResource = (req, cb) => {
    inFlight++;
    return register(req, (error, response) => {
      inFlight--;
      if (!error && response) {
        const object = req.getObject();
        recorded.push({
          type: req.getType(),
          name: req.getName(),
          urn: response.getUrn(),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          provider: req.getProvider(),
          deleteBeforeReplace: req.getDeletebeforereplace(),
          ignoreChanges: req.getIgnorechangesList(),
          id: response.getId(),
          inputs: object ? (unwrapSecrets(deserializeProperties(object as never)) as Record<string, unknown>) : {},
          rawInputs: object ? object.toJavaScript() : {},
        });
      }
      cb(error, response);
    });
  };

  const config = options.config ?? testConfig(stack);
  const { SECRET_KEYS } = await import("../config/schema");
  const secretKeys = options.secretKeys ?? Object.keys(config).filter((k) => SECRET_KEYS.includes(k.replace(/^medianest:/, "")));
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
    [...secretKeys],
  );

  // Mocked hosts do not exist: the docker provider must not try to reach the leader.
  const { NO_CONTROL_MASTER_ENV } = await import("../components/docker-provider");
  process.env[NO_CONTROL_MASTER_ENV] = "1";
  const loaded = await (options.loadProgram ?? requireProgram)();
  // Outside vitest (tsx), a CommonJS module may come back as the namespace's default export.
  const program = (loaded.default !== undefined && typeof loaded.default === "object" ? loaded.default : loaded) as Record<string, unknown>;
  const exports: Record<string, unknown> = {};
  const secretExports = new Set<string>();
  for (const [key, value] of Object.entries(program)) {
    if (pulumi.Output.isInstance(value)) {
      exports[key] = await new Promise((resolve) => value.apply((v) => resolve(v)));
      if (await pulumi.isSecret(value)) secretExports.add(key);
    } else {
      exports[key] = value;
    }
  }
  // Bounded settle: wait until no registration is in flight for a few turns.
  for (let turn = 0, quiet = 0; turn < 500 && quiet < 5; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    quiet = inFlight === 0 ? quiet + 1 : 0;
  }
  return recordedRun(recorded, exports, secretExports);
}

/** A MockedRun over recorded resources (also for runs read back from a cache). */
export function recordedRun(recorded: readonly RecordedResource[], exports: Record<string, unknown>, secretExports: ReadonlySet<string>): MockedRun {
  return {
    resources: recorded,
    exports,
    secretExports,
    ofType: (type) => recorded.filter((r) => r.type === type),
    dependsOnTransitively: (resource, target) => {
      const byUrn = new Map(recorded.map((r) => [r.urn, r]));
      const seen = new Set<string>();
      const queue = [...resource.dependencies];
      while (queue.length > 0) {
        const urn = queue.shift() as string;
        if (urn === target.urn) return true;
        if (seen.has(urn)) continue;
        seen.add(urn);
        queue.push(...(byUrn.get(urn)?.dependencies ?? []));
      }
      return false;
    },
    named: (name) => {
      const found = recorded.find((r) => r.name === name);
      if (!found) throw new Error(`no resource named ${name}; have: ${recorded.map((r) => r.name).join(", ")}`);
      return found;
    },
  };
}

/**
 * A recorded service's whole environment: its container Env plus the env file it sources
 * (a ServiceConfig mounted at ENV_FILE_PATH, see topology/services deliverEnvironment).
 */
export async function effectiveEnv(run: MockedRun, service: RecordedResource): Promise<Record<string, string>> {
  const { ENV_FILE_PATH, parseEnvFile } = await import("../topology/services");
  const container = ((service.inputs.taskSpec as Record<string, unknown>).containerSpec ?? {}) as { env?: Record<string, string>; configs?: { configId: string; fileName: string }[] };
  const envConfig = (container.configs ?? []).find((c) => c.fileName === ENV_FILE_PATH);
  const fromFile = envConfig
    ? parseEnvFile(Buffer.from(String(run.ofType("docker:index/serviceConfig:ServiceConfig").find((c) => c.id === envConfig.configId)?.inputs.data ?? ""), "base64").toString("utf8"))
    : {};
  return { ...fromFile, ...(container.env ?? {}) };
}
