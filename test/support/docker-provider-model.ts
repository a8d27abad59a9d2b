// A model of what the real docker provider does on the engine's next run: read the object
// back (what it stores), then diff the program's inputs against that with the schema's
// Optional/Computed/Default/ForceNew rules. It is our model of kreuzwerker
// terraform-provider-docker v4.5.0 (bridged by @pulumi/docker 5.2.0); each rule names the
// upstream function it follows. A model kinder than the provider hides churn, so where the
// provider stores a field verbatim we store it verbatim, and where it normalises we do the
// same and nothing more.
//
// Names are Pulumi's (camelCase, MaxItemsOne blocks as objects, list blocks pluralised as
// the SDK has them: networksAdvanceds, ipamConfigs, commands, tests).
import { shortDuration } from "../../domain/durations";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, unknown>;

// ----------------------------------------------------------------------------------------
// Schema: resource_docker_service.go and resource_docker_network.go, the attributes the
// program can set or the read can store.

interface Common {
  /** Optional+Computed: absent in the inputs keeps whatever is stored. */
  readonly computed?: boolean;
  readonly forceNew?: boolean;
  readonly default?: Json;
  /** DiffSuppressFunc suppressEquivalentFloatRatio: "0" and "0.0" are the same ratio. */
  readonly floatRatio?: boolean;
}
export type Attr =
  | (Common & { readonly kind: "string" | "int" | "bool" })
  | (Common & { readonly kind: "map" })
  | (Common & { readonly kind: "list" | "set" })
  | (Common & { readonly kind: "object"; readonly attrs: Schema })
  | (Common & { readonly kind: "objectList" | "objectSet"; readonly attrs: Schema });
export type Schema = Readonly<Record<string, Attr>>;

const str = (extra: Common = {}): Attr => ({ kind: "string", ...extra });
const int = (extra: Common = {}): Attr => ({ kind: "int", ...extra });
const bool = (extra: Common = {}): Attr => ({ kind: "bool", ...extra });
const labelSet = (extra: Common = {}): Attr => ({ kind: "objectSet", attrs: { label: str(), value: str() }, ...extra });
const fileRef = (id: string, name: string): Attr => ({
  kind: "objectSet",
  attrs: { [id]: str(), [name]: str(), fileName: str(), fileUid: str({ default: "0" }), fileGid: str({ default: "0" }), fileMode: int({ default: 0o444 }) },
});
const updateOrRollback: Attr = {
  kind: "object",
  attrs: {
    parallelism: int({ default: 1 }),
    delay: str({ default: "0s" }),
    failureAction: str({ default: "pause" }),
    monitor: str({ default: "5s" }),
    maxFailureRatio: str({ default: "0.0", floatRatio: true }),
    order: str({ default: "stop-first" }),
  },
};

export const SERVICE_SCHEMA: Schema = {
  name: str({ forceNew: true }),
  labels: labelSet({ computed: true }),
  taskSpec: {
    kind: "object",
    attrs: {
      containerSpec: {
        kind: "object",
        attrs: {
          image: str(),
          labels: labelSet(),
          commands: { kind: "list" },
          args: { kind: "list" },
          hostname: str(),
          env: { kind: "map" },
          dir: str(),
          user: str(),
          groups: { kind: "list" },
          readOnly: bool(),
          mounts: {
            kind: "objectSet",
            attrs: {
              target: str(),
              source: str(),
              type: str(),
              readOnly: bool(),
              bindOptions: { kind: "object", attrs: { propagation: str({ default: "rprivate" }) } },
              tmpfsOptions: { kind: "object", attrs: { sizeBytes: int(), mode: int() } },
            },
          },
          stopSignal: str(),
          stopGracePeriod: str({ computed: true }),
          healthcheck: {
            kind: "object",
            computed: true,
            attrs: { tests: { kind: "list" }, interval: str({ default: "0s" }), timeout: str({ default: "0s" }), startPeriod: str({ default: "0s" }), retries: int({ default: 0 }) },
          },
          hosts: { kind: "objectSet", forceNew: true, attrs: { host: str({ forceNew: true }), ip: str({ forceNew: true }) } },
          secrets: fileRef("secretId", "secretName"),
          configs: fileRef("configId", "configName"),
          isolation: str({ default: "default" }),
          sysctl: { kind: "map", forceNew: true },
          capAdds: { kind: "list" },
          capDrops: { kind: "list" },
          init: bool({ computed: true }),
        },
      },
      resources: {
        kind: "object",
        computed: true,
        attrs: {
          limits: { kind: "object", attrs: { nanoCpus: int(), memoryBytes: int() } },
          reservation: { kind: "object", attrs: { nanoCpus: int(), memoryBytes: int() } },
        },
      },
      restartPolicy: { kind: "object", computed: true, attrs: { condition: str(), delay: str(), maxAttempts: int(), window: str() } },
      placement: {
        kind: "object",
        computed: true,
        attrs: {
          constraints: { kind: "set" },
          prefs: { kind: "set" },
          maxReplicas: int(),
          platforms: { kind: "objectSet", attrs: { architecture: str(), os: str() } },
        },
      },
      forceUpdate: int({ computed: true }),
      runtime: str({ computed: true }),
      networksAdvanceds: {
        kind: "objectSet",
        attrs: { name: str({ forceNew: true }), id: str({ forceNew: true }), aliases: { kind: "set", forceNew: true }, driverOpts: { kind: "set", forceNew: true } },
      },
      logDriver: { kind: "object", attrs: { name: str(), options: { kind: "map" } } },
    },
  },
  mode: {
    kind: "object",
    computed: true,
    forceNew: true,
    attrs: { replicated: { kind: "object", computed: true, attrs: { replicas: int({ default: 1 }) } }, global: bool({ default: false }) },
  },
  updateConfig: updateOrRollback,
  rollbackConfig: updateOrRollback,
  endpointSpec: {
    kind: "object",
    computed: true,
    attrs: {
      mode: str({ computed: true }),
      ports: {
        kind: "objectList",
        attrs: { name: str(), protocol: str({ default: "tcp" }), targetPort: int(), publishedPort: int({ computed: true }), publishMode: str({ default: "ingress" }) },
      },
    },
  },
  // Not read back (resourceDockerServiceRead never sets it): the stored value is the input.
  convergeConfig: { kind: "object", attrs: { delay: str({ default: "7s" }), timeout: str({ default: "3m" }) } },
};

export const NETWORK_SCHEMA: Schema = {
  name: str({ forceNew: true }),
  labels: labelSet({ forceNew: true }),
  driver: str({ computed: true, forceNew: true }),
  options: { kind: "map", computed: true, forceNew: true },
  internal: bool({ computed: true, forceNew: true }),
  attachable: bool({ forceNew: true }),
  ingress: bool({ forceNew: true }),
  ipv6: bool({ forceNew: true }),
  ipamDriver: str({ default: "default", forceNew: true }),
  ipamOptions: { kind: "map", forceNew: true },
  ipamConfigs: {
    kind: "objectSet",
    computed: true,
    forceNew: true,
    attrs: { subnet: str({ forceNew: true }), ipRange: str({ forceNew: true }), gateway: str({ forceNew: true }), auxAddress: { kind: "map", forceNew: true } },
  },
};

// ----------------------------------------------------------------------------------------
// Read: what the provider stores from the engine's object.

const o = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const has = (v: unknown): boolean => v !== undefined && v !== null;
const nonEmpty = (v: unknown): boolean => (Array.isArray(v) ? v.length > 0 : typeof v === "string" ? v.length > 0 : has(v));

/** helpers.go mapToLabelSet. */
function labelsOf(map: unknown): Obj[] {
  return Object.entries(o(map)).map(([label, value]) => ({ label, value: String(value) }));
}

/** resource_docker_service_structures.go mapStringSliceToMap: "K=V" entries, split at the first '='. */
function envMap(env: unknown): Obj {
  return Object.fromEntries(
    a(env)
      .map(String)
      .filter((e) => e.length > 0)
      .map((e) => [e.split("=")[0], e.split("=").slice(1).join("=")]),
  );
}

const dur = (ns: unknown): string => shortDuration(Number(ns ?? 0));

/** flattenContainerSpec (fields the program can produce; the rest are stored when present). */
function readContainerSpec(c: Obj): Obj {
  const m: Obj = {};
  if (nonEmpty(c.Image)) m.image = c.Image;
  if (Object.keys(o(c.Labels)).length > 0) m.labels = labelsOf(c.Labels);
  if (nonEmpty(c.Command)) m.commands = c.Command;
  if (nonEmpty(c.Args)) m.args = c.Args;
  if (nonEmpty(c.Hostname)) m.hostname = c.Hostname;
  if (nonEmpty(c.Env)) m.env = envMap(c.Env);
  if (nonEmpty(c.User)) m.user = c.User;
  if (nonEmpty(c.Dir)) m.dir = c.Dir;
  if (nonEmpty(c.Groups)) m.groups = c.Groups;
  if (c.ReadOnly === true) m.readOnly = true;
  if (nonEmpty(c.Mounts)) {
    // flattenServiceMounts: tmpfs mode as int(Mode.Perm()) — the sticky bit is lost.
    m.mounts = a(c.Mounts).map((raw) => {
      const x = o(raw);
      const mount: Obj = { target: x.Target, source: x.Source ?? "", type: x.Type, readOnly: x.ReadOnly === true };
      if (has(x.BindOptions)) mount.bindOptions = nonEmpty(o(x.BindOptions).Propagation) ? { propagation: o(x.BindOptions).Propagation } : {};
      if (has(x.TmpfsOptions)) mount.tmpfsOptions = { sizeBytes: Number(o(x.TmpfsOptions).SizeBytes ?? 0), mode: Number(o(x.TmpfsOptions).Mode ?? 0) & 0o777 };
      return mount;
    });
  }
  if (nonEmpty(c.StopSignal)) m.stopSignal = c.StopSignal;
  if (has(c.StopGracePeriod)) m.stopGracePeriod = dur(c.StopGracePeriod);
  if (has(c.Healthcheck)) {
    // flattenServiceHealthcheck: durations through shortDur.
    const h = o(c.Healthcheck);
    m.healthcheck = { ...(nonEmpty(h.Test) ? { tests: h.Test } : {}), interval: dur(h.Interval), timeout: dur(h.Timeout), startPeriod: dur(h.StartPeriod), retries: Number(h.Retries ?? 0) };
  }
  if (nonEmpty(c.Hosts)) m.hosts = a(c.Hosts).map((h) => ({ ip: String(h).split(" ")[0], host: String(h).split(" ")[1] }));
  const refs = (list: unknown, id: string, name: string, idKey: string, nameKey: string) =>
    a(list).map((raw) => {
      const x = o(raw);
      const f = o(x.File);
      const out: Obj = { [idKey]: x[id] };
      if (nonEmpty(x[name])) out[nameKey] = x[name];
      if (has(x.File)) {
        out.fileName = f.Name;
        if (nonEmpty(f.UID)) out.fileUid = f.UID;
        if (nonEmpty(f.GID)) out.fileGid = f.GID;
        out.fileMode = Number(f.Mode ?? 0);
      }
      return out;
    });
  if (nonEmpty(c.Secrets)) m.secrets = refs(c.Secrets, "SecretID", "SecretName", "secretId", "secretName");
  if (nonEmpty(c.Configs)) m.configs = refs(c.Configs, "ConfigID", "ConfigName", "configId", "configName");
  if (nonEmpty(c.Isolation)) m.isolation = c.Isolation;
  if (Object.keys(o(c.Sysctls)).length > 0) m.sysctl = c.Sysctls;
  if (nonEmpty(c.CapabilityAdd)) m.capAdds = c.CapabilityAdd;
  if (nonEmpty(c.CapabilityDrop)) m.capDrops = c.CapabilityDrop;
  if (has(c.Init)) m.init = c.Init;
  return m;
}

/** flattenTaskSpec. */
function readTaskSpec(t: Obj): Obj {
  const m: Obj = {};
  if (has(t.ContainerSpec)) m.containerSpec = readContainerSpec(o(t.ContainerSpec));
  if (has(t.Resources)) {
    // flattenTaskResources: limits/reservation as empty lists when nil.
    const r = o(t.Resources);
    const res = (x: unknown) => (has(x) ? { nanoCpus: Number(o(x).NanoCPUs ?? 0), memoryBytes: Number(o(x).MemoryBytes ?? 0) } : undefined);
    m.resources = { ...(res(r.Limits) ? { limits: res(r.Limits) } : {}), ...(res(r.Reservations) ? { reservation: res(r.Reservations) } : {}) };
  }
  if (has(t.RestartPolicy)) {
    const r = o(t.RestartPolicy);
    m.restartPolicy = {
      ...(nonEmpty(r.Condition) ? { condition: r.Condition } : {}),
      ...(has(r.Delay) ? { delay: dur(r.Delay) } : {}),
      ...(has(r.MaxAttempts) ? { maxAttempts: Number(r.MaxAttempts) } : {}),
      ...(has(r.Window) ? { window: dur(r.Window) } : {}),
    };
  }
  if (has(t.Placement)) {
    // flattenTaskPlacement: max_replicas always, the rest when non-empty.
    const p = o(t.Placement);
    m.placement = {
      ...(nonEmpty(p.Constraints) ? { constraints: p.Constraints } : {}),
      ...(nonEmpty(p.Preferences) ? { prefs: a(p.Preferences).map((x) => o(o(x).Spread).SpreadDescriptor) } : {}),
      ...(nonEmpty(p.Platforms) ? { platforms: a(p.Platforms).map((x) => ({ architecture: o(x).Architecture ?? "", os: o(x).OS ?? "" })) } : {}),
      maxReplicas: Number(p.MaxReplicas ?? 0),
    };
  }
  m.forceUpdate = Number(t.ForceUpdate ?? 0);
  if (nonEmpty(t.Runtime)) m.runtime = t.Runtime;
  if (nonEmpty(t.Networks)) {
    // flattenTaskNetworksAdvanced: the attachment's Target goes into `id` (never `name`).
    m.networksAdvanceds = a(t.Networks).map((raw) => {
      const n = o(raw);
      return { id: n.Target, driverOpts: Object.entries(o(n.DriverOpts)).map(([k, v]) => `${k}=${String(v)}`), ...(nonEmpty(n.Aliases) ? { aliases: n.Aliases } : {}) };
    });
  }
  if (has(t.LogDriver)) m.logDriver = { name: o(t.LogDriver).Name, ...(Object.keys(o(o(t.LogDriver).Options)).length > 0 ? { options: o(t.LogDriver).Options } : {}) };
  return m;
}

/** flattenServiceUpdateOrRollbackConfig: shortDur, and the ratio as FormatFloat(f, 'f', 1). */
function readUpdateConfig(u: unknown): Obj | undefined {
  if (!has(u)) return undefined;
  const x = o(u);
  return {
    parallelism: Number(x.Parallelism ?? 0),
    delay: dur(x.Delay),
    failureAction: x.FailureAction ?? "",
    monitor: dur(x.Monitor),
    maxFailureRatio: Number(x.MaxFailureRatio ?? 0).toFixed(1),
    order: x.Order ?? "",
  };
}

/** Attributes the read never sets: the state keeps what the previous run's inputs had. */
export const SERVICE_NOT_READ = ["convergeConfig", "auth"] as const;

/**
 * resourceDockerServiceReadRefreshFunc: the stored state of a service from GET
 * /services/{id}; `previousInputs` supplies what the read does not set.
 */
export function readService(engine: Obj, previousInputs: Obj = {}): Obj {
  const kept = Object.fromEntries(SERVICE_NOT_READ.filter((k) => has(previousInputs[k])).map((k) => [k, previousInputs[k]]));
  return { ...readServiceSpec(engine), ...kept };
}

function readServiceSpec(engine: Obj): Obj {
  const spec = o(engine.Spec);
  const mode = o(spec.Mode);
  const stored: Obj = {
    name: spec.Name,
    labels: labelsOf(spec.Labels),
    taskSpec: readTaskSpec(o(spec.TaskTemplate)),
    // flattenServiceMode
    mode: { ...(has(mode.Replicated) ? { replicated: has(o(mode.Replicated).Replicas) ? { replicas: Number(o(mode.Replicated).Replicas) } : {} } : {}), global: has(mode.Global) },
  };
  const update = readUpdateConfig(spec.UpdateConfig);
  if (update) stored.updateConfig = update;
  const rollback = readUpdateConfig(spec.RollbackConfig);
  if (rollback) stored.rollbackConfig = rollback;
  // flattenServiceEndpoint (from the live Endpoint when it has a mode) or flattenServiceEndpointSpec.
  const endpoint = o(engine.Endpoint);
  const ports = (list: unknown) =>
    a(list).map((raw) => {
      const p = o(raw);
      return { name: p.Name ?? "", protocol: p.Protocol ?? "", targetPort: Number(p.TargetPort ?? 0), publishedPort: Number(p.PublishedPort ?? 0), publishMode: p.PublishMode ?? "" };
    });
  if (nonEmpty(o(endpoint.Spec).Mode)) stored.endpointSpec = { mode: o(endpoint.Spec).Mode, ports: ports(endpoint.Ports) };
  else if (nonEmpty(o(spec.EndpointSpec).Mode)) stored.endpointSpec = { mode: o(spec.EndpointSpec).Mode, ports: ports(o(spec.EndpointSpec).Ports) };
  return stored;
}

/** resourceDockerNetworkReadRefreshFunc + flattenIpamConfigSpec: the stored state from GET /networks/{id}. */
export function readNetwork(engine: Obj): Obj {
  const ipam = o(engine.IPAM);
  return {
    name: engine.Name,
    labels: labelsOf(engine.Labels),
    driver: engine.Driver,
    internal: engine.Internal === true,
    attachable: engine.Attachable === true,
    ingress: engine.Ingress === true,
    ipv6: engine.EnableIPv6 === true,
    ipamDriver: ipam.Driver,
    ipamOptions: o(ipam.Options),
    // The whole map the engine reports, vxlanid_list included.
    options: o(engine.Options),
    ipamConfigs: a(ipam.Config).map((raw) => {
      const c = o(raw);
      return {
        ...(nonEmpty(c.Subnet) ? { subnet: c.Subnet } : {}),
        ...(nonEmpty(c.IPRange) ? { ipRange: c.IPRange } : {}),
        ...(nonEmpty(c.Gateway) ? { gateway: c.Gateway } : {}),
        ...(Object.keys(o(c.AuxiliaryAddresses)).length > 0 ? { auxAddress: c.AuxiliaryAddresses } : {}),
      };
    }),
  };
}

// ----------------------------------------------------------------------------------------
// Diff: the inputs against the stored state, as terraform-plugin-sdk v2's schemaMap.Diff
// decides it (a value absent from the inputs takes its Default, or keeps the stored one
// when the attribute is Computed; sets compare without order; a change under a ForceNew
// attribute is a replace). ignoreChanges paths are dropped from the diff, as the bridge
// does (tfshim/sdk-v2 processIgnoreChanges).

export interface PlannedChange {
  readonly path: string;
  readonly replace: boolean;
  readonly declared: unknown;
  readonly stored: unknown;
}

function zeroOf(attr: Attr): Json {
  switch (attr.kind) {
    case "string":
      return "";
    case "int":
      return 0;
    case "bool":
      return false;
    case "map":
    case "object":
      return {};
    default:
      return [];
  }
}

/** The inputs as the schema sees them: defaults filled in, unknown attributes kept so they show up. */
function canonical(attr: Attr, value: unknown): unknown {
  switch (attr.kind) {
    case "string":
    case "int":
    case "bool": {
      const v = has(value) ? value : (attr.default ?? zeroOf(attr));
      return attr.floatRatio ? Number(v) : v;
    }
    case "map":
      return Object.fromEntries(Object.entries(o(value)).sort(([x], [y]) => (x < y ? -1 : 1)));
    case "list":
      return a(value);
    case "set":
      return [...a(value)].map(String).sort();
    case "object":
      return canonicalObject(attr.attrs, o(value));
    case "objectList":
      return a(value).map((v) => canonicalObject(attr.attrs, o(v)));
    case "objectSet":
      return a(value)
        .map((v) => canonicalObject(attr.attrs, o(v)))
        .map((v) => JSON.stringify(v))
        .sort()
        .map((v) => JSON.parse(v) as unknown);
  }
}

function canonicalObject(schema: Schema, value: Obj): Obj {
  const out: Obj = {};
  for (const key of Object.keys(schema).sort()) out[key] = canonical(schema[key], value[key]);
  for (const key of Object.keys(value).filter((k) => !(k in schema)).sort()) out[key] = value[key];
  return out;
}

const isIgnored = (path: string, ignore: readonly string[]) => ignore.some((p) => path === p || path.startsWith(`${p}.`));

function hasForceNew(attr: Attr): boolean {
  if (attr.forceNew) return true;
  return "attrs" in attr ? Object.values(attr.attrs).some(hasForceNew) : false;
}

function diffAttr(attr: Attr, declared: unknown, stored: unknown, path: string, ignore: readonly string[], out: PlannedChange[], underForceNew: boolean): void {
  if (isIgnored(path, ignore)) return;
  // Optional+Computed and not given: the stored value stands.
  if (attr.computed && !has(declared)) return;
  if (attr.kind === "object") {
    const d = o(declared);
    const s = o(stored);
    if (!has(declared) && !has(stored)) return;
    // Attributes the model does not know are compared only when declared (stored-only ones
    // are the provider's own business and cannot diff).
    for (const key of [...new Set([...Object.keys(attr.attrs), ...Object.keys(d)])].sort()) {
      const child = attr.attrs[key];
      const at = `${path}.${key}`;
      if (!child) {
        if (JSON.stringify(d[key]) !== JSON.stringify(s[key])) out.push({ path: at, replace: false, declared: d[key], stored: s[key] });
        continue;
      }
      diffAttr(child, d[key], s[key], at, ignore, out, underForceNew);
    }
    return;
  }
  if (attr.kind === "map" && !has(declared) && attr.computed) return;
  const left = canonical(attr, declared);
  const right = canonical(attr, stored);
  if (JSON.stringify(left) === JSON.stringify(right)) return;
  // A changed set element is removed and re-added: a replace when any part of it is ForceNew.
  const replace = underForceNew || (attr.kind === "objectSet" ? hasForceNew(attr) : Boolean(attr.forceNew));
  out.push({ path, replace, declared: left, stored: right });
}

/** What the next run plans for one resource: every changed path, replace or update. */
export function planDiff(schema: Schema, declared: Obj, stored: Obj, ignoreChanges: readonly string[] = []): PlannedChange[] {
  const out: PlannedChange[] = [];
  for (const key of [...new Set([...Object.keys(schema), ...Object.keys(declared)])].sort()) {
    const attr = schema[key];
    if (!attr) {
      out.push({ path: key, replace: false, declared: declared[key], stored: stored[key] });
      continue;
    }
    diffAttr(attr, declared[key], stored[key], key, ignoreChanges, out, false);
  }
  return out;
}

export interface PlanSummary {
  readonly updates: readonly PlannedChange[];
  readonly replaces: readonly PlannedChange[];
}

export function summarise(changes: readonly PlannedChange[]): PlanSummary {
  return { updates: changes.filter((c) => !c.replace), replaces: changes.filter((c) => c.replace) };
}

// ----------------------------------------------------------------------------------------
// pulumi-command v1.2.1: the provider stores its inputs (plus stdout/stderr); any changed
// input is an update (runs `update`), except `triggers`, which is replace-on-change
// (provider/pkg/provider/common/inputs.go `provider:"replaceOnChanges"`).

export function planCommandDiff(before: Obj, after: Obj): PlanSummary {
  const changes: PlannedChange[] = [];
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
    changes.push({ path: key, replace: key === "triggers", declared: after[key], stored: before[key] });
  }
  return summarise(changes);
}

// ----------------------------------------------------------------------------------------
// The program's inputs carry the mocks' ids ("frontend-net-id"); the lab and the unit tests
// resolve them to the objects' real ids and names before comparing with what is stored.

export interface IdMaps {
  readonly networkIds: ReadonlyMap<string, string>;
  readonly secretIds: ReadonlyMap<string, string>;
  readonly secretNames: ReadonlyMap<string, string>;
  readonly configIds: ReadonlyMap<string, string>;
  readonly configNames: ReadonlyMap<string, string>;
}

function mapped(map: ReadonlyMap<string, string>, value: unknown, what: string): string {
  const real = map.get(String(value));
  if (real === undefined) throw new Error(`${what} ${String(value)} has no real counterpart`);
  return real;
}

/** A recorded docker.Service's inputs with every reference resolved through `ids`. */
export function resolveServiceInputs(inputs: Obj, ids: IdMaps): Obj {
  const task = o(inputs.taskSpec);
  const container = o(task.containerSpec);
  return {
    ...inputs,
    taskSpec: {
      ...task,
      containerSpec: {
        ...container,
        ...(has(container.secrets)
          ? { secrets: a(container.secrets).map((x) => ({ ...o(x), secretId: mapped(ids.secretIds, o(x).secretId, "secret id"), secretName: mapped(ids.secretNames, o(x).secretName, "secret name") })) }
          : {}),
        ...(has(container.configs)
          ? { configs: a(container.configs).map((x) => ({ ...o(x), configId: mapped(ids.configIds, o(x).configId, "config id"), configName: mapped(ids.configNames, o(x).configName, "config name") })) }
          : {}),
      },
      ...(has(task.networksAdvanceds)
        ? { networksAdvanceds: a(task.networksAdvanceds).map((x) => ({ ...o(x), ...(has(o(x).id) ? { id: mapped(ids.networkIds, o(x).id, "network id") } : {}), ...(has(o(x).name) ? { name: mapped(ids.networkIds, o(x).name, "network id") } : {}) })) }
        : {}),
    },
  };
}
