// Applying a translated service the way the docker provider does it, not better
// (terraform-provider-docker v4.5.0 resource_docker_service_funcs.go):
// - create asks the registry for the image first (docker/client ServiceCreate with
//   QueryRegistry → GET /distribution/{image}/json): a known image is pinned to its digest
//   and gets the image's platforms in its placement; an unknown one is left as it is;
// - with convergeConfig, create waits until every replica runs on an active node and
//   *deletes the service* when that does not happen within the timeout;
// - update sends the spec without a registry query and, with convergeConfig, fails on
//   paused, rollback_paused and rollback_completed (a rolled-back update is an error).
import type { Engine } from "./engine";
import { EngineError } from "./engine";
import type { EngineServiceSpec, ServiceTranslation } from "./service-spec";

export class ProviderApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProviderApplyError";
  }
}

interface Task {
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string };
}
interface Node {
  ID: string;
  Status: { State: string };
}
interface Service {
  ID: string;
  Version: { Index: number };
  Spec: EngineServiceSpec;
  UpdateStatus?: { State: string; Message?: string };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The lab polls at most this far apart (the provider's own delay is 7 s; the outcome is the same). */
const MAX_POLL_MS = 2_000;

/** What the registry query makes of the spec (clientside resolveContainerSpecImage). */
export async function withRegistryAnswer(engine: Engine, spec: EngineServiceSpec): Promise<{ spec: EngineServiceSpec; resolved: boolean }> {
  const image = spec.TaskTemplate.ContainerSpec.Image;
  const res = await engine.request("GET", `/distribution/${encodeURIComponent(image)}/json`, undefined, { timeoutMs: 15_000 });
  if (res.status !== 200) return { spec, resolved: false };
  const answer = JSON.parse(res.body.toString("utf8")) as { Descriptor: { digest: string }; Platforms?: { architecture: string; os: string }[] };
  const pinned = image.includes("@sha256:") ? image : `${image}@${answer.Descriptor.digest}`;
  const platforms = (answer.Platforms ?? []).map((p) => ({ Architecture: p.architecture.toLowerCase() === "arm" ? "" : p.architecture, OS: p.os }));
  return {
    resolved: true,
    spec: {
      ...spec,
      TaskTemplate: {
        ...spec.TaskTemplate,
        ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Image: pinned },
        ...(platforms.length > 0 ? { Placement: { ...(spec.TaskTemplate.Placement ?? {}), Platforms: platforms } } : {}),
      },
    },
  };
}

/** replicatedConsoleLogUpdater.update: tasks by slot on active nodes, running ones counted. */
async function runningReplicas(engine: Engine, serviceId: string): Promise<number> {
  const filters = encodeURIComponent(JSON.stringify({ service: [serviceId], "desired-state": ["running"] }));
  const [tasks, nodes] = await Promise.all([engine.get<Task[]>(`/tasks?filters=${filters}`), engine.get<Node[]>("/nodes")]);
  const active = new Set(nodes.filter((n) => n.Status.State !== "down").map((n) => n.ID));
  const bySlot = new Map<number, Task>();
  for (const t of tasks) if (!t.NodeID || active.has(t.NodeID)) bySlot.set(t.Slot ?? 0, t);
  return [...bySlot.values()].filter((t) => t.Status.State === "running").length;
}

const replicasOf = (spec: EngineServiceSpec) => ("Replicated" in spec.Mode ? spec.Mode.Replicated.Replicas : undefined);

export interface CreateResult {
  readonly id: string;
  readonly seconds: number;
  /** Did the registry know the image (then it is pinned, with platforms)? */
  readonly resolved: boolean;
}

/** resourceDockerServiceCreate. `maxWaitMs` caps the converge timeout for the lab. */
export async function createServiceLikeProvider(engine: Engine, translation: ServiceTranslation, maxWaitMs = 240_000): Promise<CreateResult> {
  const started = Date.now();
  const { spec, resolved } = await withRegistryAnswer(engine, translation.spec);
  const created = await engine.post<{ ID: string }>("/services/create", spec);
  const converge = translation.converge;
  const replicas = replicasOf(spec);
  if (converge && replicas !== undefined) {
    const timeoutMs = Math.min(converge.timeoutNs / 1e6, maxWaitMs);
    const poll = Math.min(converge.delayNs / 1e6, MAX_POLL_MS);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await runningReplicas(engine, created.ID)) === replicas) break;
      if (Date.now() > deadline) {
        // "the service will be deleted in case it cannot be converged"
        await engine.request("DELETE", `/services/${created.ID}`);
        throw new ProviderApplyError(`Service with ID (${created.ID}) did not converge after ${Math.round(timeoutMs / 1000)}s (${spec.Name}; deleted, as the provider does)`);
      }
      await sleep(poll);
    }
  }
  return { id: created.ID, seconds: (Date.now() - started) / 1000, resolved };
}

/** resourceDockerServiceUpdate + resourceDockerServiceUpdateRefreshFunc. Returns the service as it was before. */
export async function updateServiceLikeProvider(engine: Engine, name: string, translation: ServiceTranslation, maxWaitMs = 360_000): Promise<Service> {
  const current = await engine.get<Service>(`/services/${name}`);
  try {
    await engine.post(`/services/${current.ID}/update?version=${current.Version.Index}`, translation.spec);
  } catch (error) {
    if (error instanceof EngineError) throw new ProviderApplyError(error.message);
    throw error;
  }
  const converge = translation.converge;
  const replicas = replicasOf(translation.spec);
  if (!converge || replicas === undefined) return current;
  const timeoutMs = Math.min(converge.timeoutNs / 1e6, maxWaitMs);
  const deadline = Date.now() + timeoutMs;
  // The provider waits converge.delay (7 s) before its first look, so a fresh update has started.
  await sleep(Math.min(converge.delayNs / 1e6, MAX_POLL_MS));
  let rollback = false;
  for (;;) {
    const s = await engine.get<Service>(`/services/${current.ID}`);
    const state = s.UpdateStatus?.State;
    if (state === "completed") return current;
    if (state === "rollback_started") rollback = true;
    if (state === "updating") rollback = false;
    if (state === "rollback_completed") throw new ProviderApplyError(`service rollback completed: ${s.UpdateStatus?.Message ?? ""}`);
    if (state === "paused") throw new ProviderApplyError(`service update paused: ${s.UpdateStatus?.Message ?? ""}`);
    if (state === "rollback_paused") throw new ProviderApplyError(`service rollback paused: ${s.UpdateStatus?.Message ?? ""}`);
    if ((await runningReplicas(engine, current.ID)) === replicas && state === undefined) {
      if (rollback) throw new ProviderApplyError("service rollback completed");
      return current;
    }
    if (Date.now() > deadline) throw new ProviderApplyError(`Service with ID (${current.ID}) did not converge after ${Math.round(timeoutMs / 1000)}s`);
    await sleep(MAX_POLL_MS);
  }
}
