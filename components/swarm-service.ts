// The one building block every Swarm service goes through. It cannot express a
// service without limits AND reservations (the spec type requires both), pins
// networks by id, mounts secrets and scripts as files, and applies the spec's
// rolling-update strategy. `swarmServiceArgs` is the pure translation; the lab
// applies the very same inputs to a real swarm.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { providerDuration } from "../domain/durations";
import { familiarImage } from "../domain/images";
import type { OverlayNetworkKey } from "../domain/networks";
import { ENV_FILE_PATH, scriptPath, secretPath, type ContainerScript, type SecretName, type ServiceFile, type ServiceSpec } from "../topology/services";

export interface SwarmObjectRef {
  readonly id: pulumi.Input<string>;
  readonly name: pulumi.Input<string>;
}

export interface SwarmServiceRefs {
  readonly networkIds: pulumi.Input<Record<OverlayNetworkKey, string>>;
  readonly secrets: ReadonlyMap<SecretName, SwarmObjectRef>;
  /** Swarm configs by name: container scripts, generated files and env files. */
  readonly configs: ReadonlyMap<ContainerScript | ServiceFile, SwarmObjectRef>;
  /** Locally built images' IDs by the names the plan uses for them (images.build). */
  readonly builtImages?: ReadonlyMap<string, pulumi.Output<string>>;
}

/** Docker's own default grace period, declared for services that set none. */
export const DEFAULT_STOP_GRACE_PERIOD = "10s";

const NANO = 1e9;
const MIB = 1024 * 1024;

export function updatePolicy(spec: ServiceSpec): docker.types.input.ServiceUpdateConfig {
  // Host-mode ports cannot be bound twice on a node: start-first would fail with "address already in use".
  const order = spec.update === "stateless" && !spec.hostPorts?.length ? "start-first" : "stop-first";
  return {
    parallelism: 1,
    // The spec's timeline starts a task every 15 s; a task is healthy ~11 s after it starts
    // (first health check at 10 s), so 5 s more gives that pace (10 s measured 193 s for
    // 3 + 3 tasks in the lab against the spec's 180 s).
    delay: providerDuration("5s"),
    // Stateless tasks roll back on their own; a database is not restarted again automatically.
    failureAction: spec.update === "stateless" ? "rollback" : "pause",
    monitor: providerDuration("30s"),
    // As the provider reads it back: strconv.FormatFloat(ratio, 'f', 1, 64).
    maxFailureRatio: "0.0",
    order,
  };
}

function requireRef<K>(map: ReadonlyMap<K, SwarmObjectRef>, key: K, what: string, service: string): SwarmObjectRef {
  const ref = map.get(key);
  if (!ref) throw new Error(`service ${service} needs ${what} "${String(key)}", which was not created`);
  return ref;
}

/**
 * Service inputs the engine would otherwise keep diffing, left to the provider:
 * on create the provider's registry query (docker/client ServiceCreate → QueryRegistry)
 * writes the image's platforms into the placement, which no program can know ahead; the
 * next run's diff would drop them again (an update). The bridge removes ignored paths
 * from the provider's diff (pulumi-terraform-bridge tfshim/sdk-v2 processIgnoreChanges).
 */
export const SERVICE_IGNORE_CHANGES = ["taskSpec.placement.platforms"] as const;

export function swarmServiceArgs(spec: ServiceSpec, refs: SwarmServiceRefs): docker.ServiceArgs {
  if (spec.placement.spread.includes("node.id") && spec.placement.maxReplicasPerNode !== 1) {
    throw new Error(`service ${spec.name}: spreading over node.id needs maxReplicasPerNode 1 (Swarm cannot spread over node ids)`);
  }
  const { limits, reservations } = spec.resources;
  if (!(limits.cpus > 0 && limits.memoryMb > 0 && reservations.cpus > 0 && reservations.memoryMb > 0)) {
    throw new Error(`service ${spec.name}: limits and reservations must both be set and positive`);
  }
  if (reservations.cpus > limits.cpus || reservations.memoryMb > limits.memoryMb) {
    throw new Error(`service ${spec.name}: reservations exceed limits`);
  }
  const update = updatePolicy(spec);
  const envFile = spec.envFile ? requireRef(refs.configs, spec.envFile.name, "env file", spec.name) : undefined;
  // Secrets read by our entrypoints (run as root, then drop privileges) stay root-only; an
  // image with a known user owns its secret files. Otherwise world-readable in the task.
  const secretMode = spec.scripts.length > 0 || spec.secretOwner ? 0o400 : 0o444;
  // The provider stores file_uid/file_gid as strings, default "0" (terraform-provider-docker
  // v4.5.0 resource_docker_service.go schema; read back by flattenServiceSecrets).
  const secretOwner = spec.secretOwner ? { fileUid: String(spec.secretOwner.uid), fileGid: String(spec.secretOwner.gid) } : {};
  return {
    name: spec.name,
    mode: spec.global ? { global: true } : { replicated: { replicas: spec.replicas } },
    labels: Object.entries({ ...(spec.labels ?? {}), "com.medianest.role": spec.role, "com.medianest.managed-by": "pulumi" })
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, value]) => ({ label, value })),
    taskSpec: {
      containerSpec: {
        image: refs.builtImages?.get(spec.image) ?? familiarImage(spec.image),
        ...(spec.command ? { commands: [...spec.command] } : {}),
        ...(spec.args ? { args: [...spec.args] } : {}),
        ...(Object.keys(spec.env).length > 0 ? { env: envOfAtMostOne(spec) } : {}),
        ...(spec.healthcheck
          ? {
              healthcheck: {
                tests: [...spec.healthcheck.test],
                interval: providerDuration(spec.healthcheck.interval),
                timeout: providerDuration(spec.healthcheck.timeout),
                retries: spec.healthcheck.retries,
                startPeriod: providerDuration(spec.healthcheck.startPeriod),
              },
            }
          : {}),
        secrets: spec.secrets.map((name) => {
          const ref = requireRef(refs.secrets, name, "secret", spec.name);
          return { secretId: ref.id, secretName: ref.name, fileName: secretPath(name), fileMode: secretMode, ...secretOwner };
        }),
        configs: [
          ...spec.scripts.map((name) => {
            const ref = requireRef(refs.configs, name, "script", spec.name);
            return { configId: ref.id, configName: ref.name, fileName: scriptPath(name), fileMode: 0o555 };
          }),
          ...(spec.files ?? []).map(({ file, target }) => {
            const ref = requireRef(refs.configs, file, "config file", spec.name);
            return { configId: ref.id, configName: ref.name, fileName: target, fileMode: 0o444 };
          }),
          ...(envFile ? [{ configId: envFile.id, configName: envFile.name, fileName: ENV_FILE_PATH, fileMode: 0o444 }] : []),
        ],
        mounts: [
          ...spec.mounts.map((m) => ({ type: "bind", source: m.source, target: m.target, readOnly: m.readOnly })),
          // No tmpfsOptions.mode: the kernel's default is 1777, and the provider reads a
          // mode back as int(Mode.Perm()) (flattenServiceMounts), which drops the sticky bit,
          // so a declared 0o1777 would differ from the stored 0o777 on every run.
          ...(spec.tmpfs ?? []).map((target) => ({ type: "tmpfs", target })),
        ],
        ...(spec.stopSignal ? { stopSignal: spec.stopSignal } : {}),
        // Always declared: createContainerSpec parses an absent stop_grace_period (read as
        // "" by the SDK) into a zero duration, so the task would be killed at once on stop.
        stopGracePeriod: providerDuration(spec.stopGracePeriod ?? DEFAULT_STOP_GRACE_PERIOD),
      },
      resources: {
        limits: { nanoCpus: Math.round(limits.cpus * NANO), memoryBytes: limits.memoryMb * MIB },
        reservation: { nanoCpus: Math.round(reservations.cpus * NANO), memoryBytes: reservations.memoryMb * MIB },
      },
      placement: {
        constraints: [...spec.placement.constraints],
        // The provider passes each string as the spread descriptor itself (no "spread=" prefix:
        // the lab showed the engine storing it verbatim). Swarm spreads only over node or
        // engine labels; "spread over node.id" is what maxReplicas 1 per node already gives.
        prefs: spec.placement.spread.filter((d) => /^(node|engine)\.labels\./.test(d)),
        ...(spec.placement.maxReplicasPerNode ? { maxReplicas: spec.placement.maxReplicasPerNode } : {}),
      },
      restartPolicy: { condition: "any", delay: providerDuration("5s"), maxAttempts: 0, window: providerDuration("120s") },
      // `id`, never the deprecated `name`: the provider reads an attachment back into `id`
      // (flattenTaskNetworksAdvanced sets m["id"] = Target), and both are replace-on-change.
      networksAdvanceds: pulumi.output(refs.networkIds).apply((ids) =>
        spec.networks.map((key) => {
          const id = ids[key];
          if (!id) throw new Error(`service ${spec.name}: network ${key} does not exist`);
          const aliases = spec.aliases?.[key];
          return aliases && aliases.length > 0 ? { id, aliases: [...aliases] } : { id };
        }),
      ),
    },
    updateConfig: update,
    rollbackConfig: { parallelism: 1, delay: providerDuration("0s"), failureAction: "pause", monitor: providerDuration("30s"), maxFailureRatio: "0.0", order: update.order },
    endpointSpec: {
      mode: spec.endpointMode,
      ports: (spec.hostPorts ?? []).map((p) => ({ targetPort: p.target, publishedPort: p.published, publishMode: "host", protocol: "tcp" })),
    },
    // Replicated services only (it conflicts with global mode): wait until every task runs.
    ...(spec.global ? {} : { convergeConfig: { delay: "7s", timeout: "5m" } }),
  };
}

function envOfAtMostOne(spec: ServiceSpec): Record<string, string> {
  const keys = Object.keys(spec.env);
  if (keys.length > 1) throw new Error(`service ${spec.name}: ${keys.length} variables in the container's Env (the provider sends them in random order); deliverEnvironment moves them into an env file`);
  return { ...spec.env };
}

export interface SwarmServiceArgs extends SwarmServiceRefs {
  readonly spec: ServiceSpec;
  readonly provider: docker.Provider;
}

export class SwarmService extends pulumi.ComponentResource {
  readonly service: docker.Service;
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: SwarmServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:service:SwarmService", name, {}, opts);
    this.service = new docker.Service(args.spec.name, swarmServiceArgs(args.spec, args), {
      parent: this,
      provider: args.provider,
      // The name is fixed (clients resolve it): a replace must delete first.
      deleteBeforeReplace: true,
      ignoreChanges: [...SERVICE_IGNORE_CHANGES],
    });
    this.serviceName = this.service.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}

/**
 * A tier component's record of what it created, one entry per field of its plan section:
 * a service added to a tier's type but not created by its component fails to compile.
 * A service the plan may leave out is `null` when it did (`-?` would erase `undefined`).
 */
export type CreatedServices<Tier> = {
  readonly [K in keyof Tier]-?: Tier[K] extends readonly ServiceSpec[] ? readonly SwarmService[] : K extends OptionalKeys<Tier> ? SwarmService | null : SwarmService;
};

/** Keys whose field may be absent (an empty object fits them): those services may be left uncreated. */
type OptionalKeys<T> = { [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K> ? K : never }[keyof T];

/** Service names of a created tier, for the component's registered outputs. */
export function createdServiceNames<Tier>(created: CreatedServices<Tier>): pulumi.Output<string>[] {
  return Object.values(created as Record<string, SwarmService | readonly SwarmService[] | null>)
    .flatMap((entry) => (entry === null ? [] : Array.isArray(entry) ? entry : [entry as SwarmService]))
    .map((service) => service.serviceName);
}
