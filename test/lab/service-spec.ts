// Strict translators from recorded Pulumi docker inputs to Engine API bodies:
//   docker:index/service:Service        -> ServiceSpec (POST /services/create)
//   docker:index/secret:Secret          -> SecretSpec  (POST /secrets/create)
//   docker:index/serviceConfig:ServiceConfig -> ConfigSpec (POST /configs/create)
// The mapping follows what Pulumi's docker provider (terraform-provider-docker v4.5.0
// createServiceSpec) sends, field by field, including its quirks: a placement preference
// string becomes the SpreadDescriptor verbatim; Env is built from a Go map, so its order
// is random on every call (mapTypeMapValsToStringSlice); the SDK reads absent attributes
// of a nested block as zero values, so an absent stop_grace_period is sent as 0 and an
// absent healthcheck or dns_config as an empty object, isolation as its default. Every input field that is not
// mapped below fails the translation (UnmappedFieldError), so nothing is silently dropped.
// References to other resources (network, secret and config ids/names) arrive as the
// mocked run's values and are resolved to the real objects through `SwarmRefs`; an
// unknown reference fails too.
import { labelMap } from "./network-spec";
import { Fields, StrictReader, goDurationNs } from "./strict";

export interface SwarmRefs {
  /** Mocked network id ("frontend-net-id") -> real network id. */
  readonly networkIds: ReadonlyMap<string, string>;
  /** Mocked secret id / name -> real secret id / name. */
  readonly secretIds: ReadonlyMap<string, string>;
  readonly secretNames: ReadonlyMap<string, string>;
  /** Mocked config id / name -> real config id / name. */
  readonly configIds: ReadonlyMap<string, string>;
  readonly configNames: ReadonlyMap<string, string>;
}

export interface FileTarget {
  Name: string;
  UID: string;
  GID: string;
  Mode: number;
}

export interface EngineMount {
  Type: string;
  Source?: string;
  Target: string;
  ReadOnly: boolean;
  BindOptions?: { Propagation: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface EngineResources {
  NanoCPUs?: number;
  MemoryBytes?: number;
}

export interface EngineUpdateConfig {
  Parallelism: number;
  Delay: number;
  FailureAction: string;
  Monitor: number;
  MaxFailureRatio: number;
  Order: string;
}

export interface EngineServiceSpec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Labels?: Record<string, string>;
      Command?: string[];
      Args?: string[];
      Hostname?: string;
      Env?: string[];
      Dir?: string;
      User?: string;
      Groups?: string[];
      ReadOnly?: boolean;
      Init?: boolean;
      Isolation?: string;
      DNSConfig?: Record<string, unknown>;
      Mounts?: EngineMount[];
      StopSignal?: string;
      StopGracePeriod?: number;
      Healthcheck?: { Test: string[]; Interval: number; Timeout: number; StartPeriod: number; Retries: number };
      Secrets?: { SecretID: string; SecretName: string; File: FileTarget }[];
      Configs?: { ConfigID: string; ConfigName: string; File: FileTarget }[];
      CapabilityAdd?: string[];
      CapabilityDrop?: string[];
      Sysctls?: Record<string, string>;
    };
    Resources?: { Limits?: EngineResources; Reservations?: EngineResources };
    RestartPolicy?: { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number };
    Placement?: {
      Constraints?: string[];
      Preferences?: { Spread: { SpreadDescriptor: string } }[];
      MaxReplicas?: number;
      Platforms?: { Architecture: string; OS: string }[];
    };
    Networks?: { Target: string; Aliases: string[]; DriverOpts?: Record<string, string> }[];
    ForceUpdate?: number;
    Runtime?: string;
    LogDriver?: { Name: string; Options?: Record<string, string> };
  };
  Mode: { Replicated: { Replicas: number } } | { Global: Record<string, never> };
  UpdateConfig?: EngineUpdateConfig;
  RollbackConfig?: EngineUpdateConfig;
  EndpointSpec: {
    Mode: string;
    Ports: { Name?: string; Protocol: string; TargetPort: number; PublishedPort?: number; PublishMode: string }[];
  };
}

export interface ServiceTranslation {
  readonly spec: EngineServiceSpec;
  /** The provider's convergeConfig: how long `pulumi up` waits for the tasks (the lab waits likewise). */
  readonly converge?: { readonly delayNs: number; readonly timeoutNs: number };
}

/** Refs that resolve every mocked id and name of a run to a recognisable stand-in for the real one. */
export function stubRefs(run: { ofType(type: string): readonly { readonly id: string; readonly name: string; readonly inputs: Record<string, unknown> }[] }): SwarmRefs {
  const ids = (type: string) => new Map(run.ofType(type).map((r) => [r.id, `real-${r.name}`]));
  const names = (type: string) => new Map(run.ofType(type).map((r) => [String(r.inputs.name ?? `${r.name}-mock`), `real-name-${r.name}`]));
  return {
    networkIds: ids("docker:index/network:Network"),
    secretIds: ids("docker:index/secret:Secret"),
    secretNames: names("docker:index/secret:Secret"),
    configIds: ids("docker:index/serviceConfig:ServiceConfig"),
    configNames: names("docker:index/serviceConfig:ServiceConfig"),
  };
}

function resolve(map: ReadonlyMap<string, string>, value: string, what: string, path: string): string {
  const real = map.get(value);
  if (real === undefined) throw new Error(`${path}: ${what} "${value}" is not one the lab created (known: ${[...map.keys()].join(", ") || "none"})`);
  return real;
}

function fileTarget(f: Fields, defaultMode: number): FileTarget {
  return {
    Name: f.string("fileName"),
    UID: f.optString("fileUid") ?? "0",
    GID: f.optString("fileGid") ?? "0",
    Mode: f.optNumber("fileMode") ?? defaultMode,
  };
}

function updateConfig(f: Fields): EngineUpdateConfig {
  const ratio = f.optString("maxFailureRatio") ?? "0.0";
  if (!/^\d+(\.\d+)?$/.test(ratio)) throw new Error(`${f.at("maxFailureRatio")}: not a number: ${ratio}`);
  return {
    Parallelism: f.optNumber("parallelism") ?? 1,
    Delay: goDurationNs(f.optString("delay") ?? "0s", f.at("delay")),
    FailureAction: f.optString("failureAction") ?? "pause",
    Monitor: goDurationNs(f.optString("monitor") ?? "5s", f.at("monitor")),
    MaxFailureRatio: Number(ratio),
    Order: f.optString("order") ?? "stop-first",
  };
}

function resources(f: Fields | undefined): EngineResources | undefined {
  if (!f) return undefined;
  const out: EngineResources = {};
  const cpus = f.optNumber("nanoCpus");
  const memory = f.optNumber("memoryBytes");
  if (cpus !== undefined) out.NanoCPUs = cpus;
  if (memory !== undefined) out.MemoryBytes = memory;
  return out;
}

/** Go's map iteration order: random. Tests that need a fixed order pass their own. */
export type EnvOrder = (entries: [string, string][]) => [string, string][];
export const randomEnvOrder: EnvOrder = (entries) => {
  const out = [...entries];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

export function serviceSpec(inputs: Record<string, unknown>, refs: SwarmRefs, path = "service", envOrder: EnvOrder = randomEnvOrder): ServiceTranslation {
  const r = new StrictReader();
  const s = r.of(inputs, path);
  const task = r.obj(s, "taskSpec");
  const c = r.obj(task, "containerSpec");

  const container: EngineServiceSpec["TaskTemplate"]["ContainerSpec"] = { Image: c.string("image") };
  const containerLabels = r.objs(c, "labels");
  if (containerLabels.length > 0) container.Labels = labelMap(containerLabels);
  const command = c.optStrings("commands");
  if (command) container.Command = command;
  const args = c.optStrings("args");
  if (args) container.Args = args;
  const hostname = c.optString("hostname");
  if (hostname !== undefined) container.Hostname = hostname;
  const env = c.optStringMap("env");
  if (env) container.Env = envOrder(Object.entries(env)).map(([k, v]) => `${k}=${v}`);
  const dir = c.optString("dir");
  if (dir !== undefined) container.Dir = dir;
  const user = c.optString("user");
  if (user !== undefined) container.User = user;
  const groups = c.optStrings("groups");
  if (groups) container.Groups = groups;
  const readOnly = c.optBoolean("readOnly");
  if (readOnly !== undefined) container.ReadOnly = readOnly;
  // Zero values for what the inputs leave out (the SDK's readObjectField → ValueOrZero).
  container.Init = c.optBoolean("init") ?? false;
  container.Isolation = c.optString("isolation") ?? "default";
  container.DNSConfig = {};
  const stopSignal = c.optString("stopSignal");
  if (stopSignal !== undefined) container.StopSignal = stopSignal;
  const stopGrace = c.optString("stopGracePeriod");
  // time.ParseDuration("") fails and leaves 0: no grace at all.
  container.StopGracePeriod = stopGrace !== undefined ? goDurationNs(stopGrace, c.at("stopGracePeriod")) : 0;
  const capAdd = c.optStrings("capAdd");
  if (capAdd) container.CapabilityAdd = capAdd;
  const capDrop = c.optStrings("capDrop");
  if (capDrop) container.CapabilityDrop = capDrop;
  const sysctl = c.optStringMap("sysctl");
  if (sysctl) container.Sysctls = sysctl;

  const health = r.optObj(c, "healthcheck");
  if (health) {
    container.Healthcheck = {
      Test: health.optStrings("tests") ?? [],
      Interval: goDurationNs(health.optString("interval") ?? "0s", health.at("interval")),
      Timeout: goDurationNs(health.optString("timeout") ?? "0s", health.at("timeout")),
      StartPeriod: goDurationNs(health.optString("startPeriod") ?? "0s", health.at("startPeriod")),
      Retries: health.optNumber("retries") ?? 0,
    };
  } else {
    // An empty HealthConfig: the image's own HEALTHCHECK applies.
    container.Healthcheck = {} as NonNullable<typeof container.Healthcheck>;
  }

  container.Mounts = r.objs(c, "mounts").map((m) => {
    const mount: EngineMount = { Type: m.optString("type") ?? "volume", Target: m.string("target"), ReadOnly: m.optBoolean("readOnly") ?? false };
    const source = m.optString("source");
    if (source !== undefined) mount.Source = source;
    const bind = r.optObj(m, "bindOptions");
    if (bind) mount.BindOptions = { Propagation: bind.optString("propagation") ?? "" };
    const tmpfs = r.optObj(m, "tmpfsOptions");
    if (tmpfs) {
      mount.TmpfsOptions = {};
      const size = tmpfs.optNumber("sizeBytes");
      const mode = tmpfs.optNumber("mode");
      if (size !== undefined) mount.TmpfsOptions.SizeBytes = size;
      if (mode !== undefined) mount.TmpfsOptions.Mode = mode;
    }
    return mount;
  });

  container.Secrets = r.objs(c, "secrets").map((sec) => ({
    SecretID: resolve(refs.secretIds, sec.string("secretId"), "secret id", sec.path),
    SecretName: resolve(refs.secretNames, sec.string("secretName"), "secret name", sec.path),
    File: fileTarget(sec, 0o444),
  }));
  container.Configs = r.objs(c, "configs").map((cfg) => ({
    ConfigID: resolve(refs.configIds, cfg.string("configId"), "config id", cfg.path),
    ConfigName: resolve(refs.configNames, cfg.string("configName"), "config name", cfg.path),
    File: fileTarget(cfg, 0o444),
  }));

  const template: EngineServiceSpec["TaskTemplate"] = { ContainerSpec: container };

  const res = r.optObj(task, "resources");
  if (res) {
    template.Resources = {};
    const limits = resources(r.optObj(res, "limits"));
    const reservation = resources(r.optObj(res, "reservation"));
    if (limits) template.Resources.Limits = limits;
    if (reservation) template.Resources.Reservations = reservation;
  }

  const restart = r.optObj(task, "restartPolicy");
  if (restart) {
    template.RestartPolicy = {};
    const condition = restart.optString("condition");
    const delay = restart.optString("delay");
    const attempts = restart.optNumber("maxAttempts");
    const window = restart.optString("window");
    if (condition !== undefined) template.RestartPolicy.Condition = condition;
    if (delay !== undefined) template.RestartPolicy.Delay = goDurationNs(delay, restart.at("delay"));
    if (attempts !== undefined) template.RestartPolicy.MaxAttempts = attempts;
    if (window !== undefined) template.RestartPolicy.Window = goDurationNs(window, restart.at("window"));
  }

  const placement = r.optObj(task, "placement");
  if (placement) {
    template.Placement = {};
    const constraints = placement.optStrings("constraints");
    // Verbatim, as the provider does (stringSetToPlacementPrefs): no "spread=" parsing.
    const prefs = placement.optStrings("prefs");
    const maxReplicas = placement.optNumber("maxReplicas");
    const platforms = r.objs(placement, "platforms");
    if (constraints) template.Placement.Constraints = constraints;
    if (prefs) template.Placement.Preferences = prefs.map((p) => ({ Spread: { SpreadDescriptor: p } }));
    if (maxReplicas !== undefined) template.Placement.MaxReplicas = maxReplicas;
    if (platforms.length > 0) template.Placement.Platforms = platforms.map((p) => ({ Architecture: p.string("architecture"), OS: p.string("os") }));
  }

  const networks = r.objs(task, "networksAdvanceds");
  if (networks.length > 0) {
    template.Networks = networks.map((n) => {
      // The provider takes `id`, else `name`, as the attachment target.
      const target = n.optString("id") ?? n.string("name");
      const driverOpts = n.optStrings("driverOpts");
      const attachment: NonNullable<EngineServiceSpec["TaskTemplate"]["Networks"]>[number] = {
        Target: resolve(refs.networkIds, target, "network id", n.path),
        Aliases: n.optStrings("aliases") ?? [],
      };
      if (driverOpts) {
        attachment.DriverOpts = Object.fromEntries(
          driverOpts.map((o) => {
            const i = o.indexOf("=");
            if (i <= 0) throw new Error(`${n.at("driverOpts")}: "${o}" is not KEY=VALUE`);
            return [o.slice(0, i), o.slice(i + 1)];
          }),
        );
      }
      return attachment;
    });
  }
  const force = task.optNumber("forceUpdate");
  if (force !== undefined) template.ForceUpdate = force;
  const runtime = task.optString("runtime");
  if (runtime !== undefined) template.Runtime = runtime;
  const logDriver = r.optObj(task, "logDriver");
  if (logDriver) {
    template.LogDriver = { Name: logDriver.string("name") };
    const options = logDriver.optStringMap("options");
    if (options) template.LogDriver.Options = options;
  }

  const modeFields = r.optObj(s, "mode");
  let mode: EngineServiceSpec["Mode"] = { Replicated: { Replicas: 1 } };
  if (modeFields) {
    const global = modeFields.optBoolean("global") ?? false;
    const replicated = r.optObj(modeFields, "replicated");
    if (global && replicated) throw new Error(`${modeFields.path}: both global and replicated`);
    if (global) mode = { Global: {} };
    else if (replicated) mode = { Replicated: { Replicas: replicated.optNumber("replicas") ?? 1 } };
  }

  const endpoint = r.optObj(s, "endpointSpec");
  const endpointSpec: EngineServiceSpec["EndpointSpec"] = {
    Mode: endpoint?.optString("mode") ?? "vip",
    Ports: endpoint
      ? r.objs(endpoint, "ports").map((p) => {
          const port: EngineServiceSpec["EndpointSpec"]["Ports"][number] = {
            Protocol: p.optString("protocol") ?? "tcp",
            TargetPort: p.number("targetPort"),
            PublishMode: p.optString("publishMode") ?? "ingress",
          };
          const name = p.optString("name");
          const published = p.optNumber("publishedPort");
          if (name !== undefined) port.Name = name;
          if (published !== undefined) port.PublishedPort = published;
          return port;
        })
      : [],
  };

  const spec: EngineServiceSpec = {
    Name: s.string("name"),
    Labels: labelMap(r.objs(s, "labels")),
    TaskTemplate: template,
    Mode: mode,
    EndpointSpec: endpointSpec,
  };
  const update = r.optObj(s, "updateConfig");
  if (update) spec.UpdateConfig = updateConfig(update);
  const rollback = r.optObj(s, "rollbackConfig");
  if (rollback) spec.RollbackConfig = updateConfig(rollback);

  const convergeFields = r.optObj(s, "convergeConfig");
  const converge = convergeFields
    ? {
        delayNs: goDurationNs(convergeFields.optString("delay") ?? "7s", convergeFields.at("delay")),
        timeoutNs: goDurationNs(convergeFields.optString("timeout") ?? "3m", convergeFields.at("timeout")),
      }
    : undefined;

  r.done();
  return converge ? { spec, converge } : { spec };
}

export interface SecretCreateBody {
  Name: string;
  Data: string;
  Labels: Record<string, string>;
}

function checkBase64(data: string, path: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || Buffer.from(data, "base64").toString("base64") !== data) {
    throw new Error(`${path}: data is not canonical base64`);
  }
  return data;
}

/** A recorded docker.Secret; `autoName` stands in for Pulumi's auto-naming when `name` is unset. */
export function secretCreateBody(inputs: Record<string, unknown>, autoName: string, path = "secret"): SecretCreateBody {
  const r = new StrictReader();
  const s = r.of(inputs, path);
  const body = {
    Name: s.optString("name") ?? autoName,
    Data: checkBase64(s.string("data"), s.at("data")),
    Labels: labelMap(r.objs(s, "labels")),
  };
  r.done();
  return body;
}

export interface ConfigCreateBody {
  Name: string;
  Data: string;
}

export function configCreateBody(inputs: Record<string, unknown>, path = "config"): ConfigCreateBody {
  const r = new StrictReader();
  const s = r.of(inputs, path);
  const body = { Name: s.string("name"), Data: checkBase64(s.string("data"), s.at("data")) };
  r.done();
  return body;
}

/**
 * Spread descriptors swarmkit's scheduler understands: `node.labels.<key>` or
 * `engine.labels.<key>` (scheduler/nodeset.go); with any other descriptor every node has
 * the same (empty) value, so the preference silently spreads over nothing.
 */
export function isSwarmSpreadDescriptor(descriptor: string): boolean {
  return /^(node\.labels|engine\.labels)\.[A-Za-z0-9._-]+$/i.test(descriptor);
}
