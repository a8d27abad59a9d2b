// What a second `pulumi up` would plan, by the model of the real providers
// (test/support/docker-provider-model.ts): every docker resource of every stack is sent
// the way the provider sends it (the lab's translator), stored the way the provider
// reads it back, and diffed with the schema's rules. The lab does the same against a
// real engine. Each defect the model knows of is shown failing in its old form, so the
// guards cannot pass vacuously.
import { describe, expect, it } from "vitest";
import { NETWORK_IGNORE_CHANGES, NetworkMigrationError, checkEncryption } from "../components/networks";
import { SERVICE_IGNORE_CHANGES } from "../components/swarm-service";
import { providerDuration } from "../domain/durations";
import { familiarImage } from "../domain/images";
import { networkCreateBody } from "./lab/network-spec";
import { serviceSpec, stubRefs, type EngineServiceSpec, type SwarmRefs } from "./lab/service-spec";
import {
  NETWORK_SCHEMA,
  SERVICE_SCHEMA,
  planDiff,
  readNetwork,
  readService,
  resolveServiceInputs,
  summarise,
  type IdMaps,
  type PlannedChange,
} from "./support/docker-provider-model";
import { STACKS, mockedRun, testConfig, type MockedRun, type RecordedResource, type StackName } from "./support/mocked-run";

type Obj = Record<string, unknown>;

const runs = new Map<string, MockedRun>();
async function runOf(stack: StackName, config?: Record<string, unknown>, key: string = stack): Promise<MockedRun> {
  if (!runs.has(key)) runs.set(key, await mockedRun(stack, config ? { config } : {}));
  return runs.get(key) as MockedRun;
}

const idMaps = (run: MockedRun): SwarmRefs & IdMaps => stubRefs(run);

const sortedEnv: Parameters<typeof serviceSpec>[3] = (entries) => [...entries].sort(([x], [y]) => (x < y ? -1 : 1));

/** The engine's object after the provider's create: the spec as sent, the endpoint as Swarm fills it in. */
function engineService(spec: EngineServiceSpec): Obj {
  return { ID: `svc-${spec.Name}`, Spec: spec, Endpoint: { Spec: { Mode: spec.EndpointSpec.Mode }, Ports: spec.EndpointSpec.Ports.map((p) => ({ Name: "", ...p })) } };
}

/** The lab's images are built on its hosts: no registry has them, so the query leaves them alone. */
const inSomeRegistry = (image: string) => !image.startsWith("medianest-lab/");

/** docker/client ServiceCreate with QueryRegistry, as a registry that knows every published image would answer it. */
function afterRegistryQuery(spec: EngineServiceSpec): EngineServiceSpec {
  const image = spec.TaskTemplate.ContainerSpec.Image;
  if (!inSomeRegistry(image)) return spec;
  const pinned = /@sha256:/.test(image) ? image : `${image}@sha256:${"e".repeat(64)}`;
  return {
    ...spec,
    TaskTemplate: {
      ...spec.TaskTemplate,
      ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Image: pinned },
      Placement: { ...(spec.TaskTemplate.Placement ?? {}), Platforms: [{ Architecture: "amd64", OS: "linux" }, { Architecture: "arm64", OS: "linux" }] },
    },
  };
}

/** The engine's object after NetworkCreate: the allocator adds the VXLAN ids to the options. */
function engineNetwork(inputs: Obj, name: string): Obj {
  const body = networkCreateBody(inputs, name);
  return { Name: body.Name, Driver: body.Driver, Scope: "swarm", Internal: body.Internal, Attachable: body.Attachable, Ingress: false, EnableIPv6: false, IPAM: { Driver: "default", Options: null, Config: body.IPAM.Config }, Options: { ...body.Options, "com.docker.network.driver.overlay.vxlanid_list": "4097" }, Labels: body.Labels };
}

function storedService(run: MockedRun, service: RecordedResource, registry = true): Obj {
  const { spec } = serviceSpec(service.inputs, idMaps(run), service.name, sortedEnv);
  return readService(engineService(registry ? afterRegistryQuery(spec) : spec), service.inputs);
}

function planService(run: MockedRun, service: RecordedResource, declared: Obj = service.inputs, ignore: readonly string[] = SERVICE_IGNORE_CHANGES): PlannedChange[] {
  return planDiff(SERVICE_SCHEMA, resolveServiceInputs(declared, idMaps(run)), storedService(run, service), ignore);
}

const paths = (changes: readonly PlannedChange[]) => changes.map((c) => `${c.path}${c.replace ? " (replace)" : ""}`);

describe.each([...STACKS])("a second run of the %s stack, as the providers store it", (stack) => {
  it("plans nothing for any service", async () => {
    const run = await runOf(stack);
    const services = run.ofType("docker:index/service:Service");
    expect(services.length).toBeGreaterThan(5);
    for (const service of services) expect(paths(planService(run, service)), service.name).toEqual([]);
  });

  it("plans nothing for any network", async () => {
    const run = await runOf(stack);
    for (const network of run.ofType("docker:index/network:Network")) {
      expect(paths(planDiff(NETWORK_SCHEMA, network.inputs, readNetwork(engineNetwork(network.inputs, network.name)), NETWORK_IGNORE_CHANGES)), network.name).toEqual([]);
    }
  });
});

describe("the defects the model knows of, in their old forms", () => {
  const withContainer = (service: RecordedResource, patch: (c: Obj) => Obj): Obj => {
    const task = service.inputs.taskSpec as Obj;
    return { ...service.inputs, taskSpec: { ...task, containerSpec: patch(task.containerSpec as Obj) } };
  };
  const serviceOf = async (name: string) => {
    const run = await runOf("production");
    const service = run.ofType("docker:index/service:Service").find((s) => s.name === name) as RecordedResource;
    return { run, service };
  };

  it("attaching networks by the deprecated `name` replaces the service on every run", async () => {
    const { run, service } = await serviceOf("medianest-backend");
    const task = service.inputs.taskSpec as Obj;
    const byName = { ...service.inputs, taskSpec: { ...task, networksAdvanceds: (task.networksAdvanceds as Obj[]).map((n) => ({ name: n.id })) } };
    expect(summarise(planService(run, service, byName)).replaces.map((c) => c.path)).toEqual(["taskSpec.networksAdvanceds"]);
  });

  it("durations not in the provider's short form update on every run", async () => {
    const { run, service } = await serviceOf("medianest-backend");
    const task = service.inputs.taskSpec as Obj;
    const longForm = { ...service.inputs, taskSpec: { ...task, restartPolicy: { ...(task.restartPolicy as Obj), window: "120s" } } };
    expect(paths(planService(run, service, longForm))).toEqual(["taskSpec.restartPolicy.window"]);
    expect([providerDuration("120s"), providerDuration("90s"), providerDuration("60s"), providerDuration("3600s"), providerDuration("5400s"), providerDuration("0s")]).toEqual(["2m", "1m30s", "1m", "1h", "1h30m", "0s"]);
  });

  it("a tmpfs mode with the sticky bit (0o1777) updates on every run", async () => {
    const { run, service } = await serviceOf("postgres-primary");
    const sticky = withContainer(service, (c) => ({ ...c, mounts: (c.mounts as Obj[]).map((m) => (m.type === "tmpfs" ? { ...m, tmpfsOptions: { mode: 0o1777 } } : m)) }));
    // The declared form sends the mode; compare with what the provider reads back of it.
    const stored = readService(engineService(afterRegistryQuery(serviceSpec(sticky, idMaps(run), service.name, sortedEnv).spec)), sticky);
    expect(paths(planDiff(SERVICE_SCHEMA, resolveServiceInputs(sticky, idMaps(run)), stored, SERVICE_IGNORE_CHANGES))).toEqual(["taskSpec.containerSpec.mounts"]);
  });

  it("an image without its digest updates (and restarts) after the create pinned it", async () => {
    const { run, service } = await serviceOf("postgres-primary");
    const tagOnly = withContainer(service, (c) => ({ ...c, image: String(c.image).replace(/@sha256:[a-f0-9]+$/, "") }));
    const stored = readService(engineService(afterRegistryQuery(serviceSpec(tagOnly, idMaps(run), service.name, sortedEnv).spec)), tagOnly);
    expect(paths(planDiff(SERVICE_SCHEMA, resolveServiceInputs(tagOnly, idMaps(run)), stored, SERVICE_IGNORE_CHANGES))).toEqual(["taskSpec.containerSpec.image"]);
    expect(familiarImage("docker.io/library/postgres:15@sha256:" + "a".repeat(64))).toBe("postgres:15@sha256:" + "a".repeat(64));
    expect(familiarImage("docker.io/grafana/grafana:12.1.1")).toBe("grafana/grafana:12.1.1");
    expect(familiarImage("quay.io/minio/minio:RELEASE.x")).toBe("quay.io/minio/minio:RELEASE.x");
  });

  it("without ignoreChanges, the platforms the create's registry query added update on the next run", async () => {
    const { run, service } = await serviceOf("medianest-frontend");
    expect(paths(planService(run, service, service.inputs, []))).toEqual(["taskSpec.placement.platforms"]);
  });

  it("an encrypted overlay's options replace the network on every run without ignoreChanges", async () => {
    const run = await runOf("production");
    const network = run.ofType("docker:index/network:Network")[0];
    expect(network.inputs.options).toEqual({ encrypted: "" });
    const stored = readNetwork(engineNetwork(network.inputs, network.name));
    expect(paths(planDiff(NETWORK_SCHEMA, network.inputs, stored))).toEqual(["options (replace)"]);
    expect(paths(planDiff(NETWORK_SCHEMA, { ...network.inputs, options: {} }, stored, NETWORK_IGNORE_CHANGES))).toEqual([]);
  });

  it("a change of an existing overlay's encryption is refused as a migration, naming the key", async () => {
    const run = await runOf("production");
    const network = run.ofType("docker:index/network:Network")[0];
    const subnet = { key: "frontend", name: String(network.inputs.name), encrypted: true } as Parameters<typeof checkEncryption>[0];
    const live = { "com.docker.network.driver.overlay.vxlanid_list": "4097" };
    expect(() => checkEncryption(subnet, live, "id-1")).toThrow(NetworkMigrationError);
    expect(() => checkEncryption(subnet, live, "id-1")).toThrow(/medianest:network\.encrypted: frontend-net exists unencrypted, the config asks for encryption/);
    expect(checkEncryption(subnet, { ...live, encrypted: "" }, "id-1")).toBe("id-1");
    expect(checkEncryption({ ...subnet, encrypted: false }, live, "id-1")).toBe("id-1");
    // A network not created yet (preview): nothing stored, nothing to compare.
    expect(checkEncryption(subnet, {}, "id-1")).toBe("id-1");
  });

  it("an absent stopGracePeriod would be sent as 0 s (immediate kill): every service declares one", async () => {
    for (const stack of STACKS) {
      const run = await runOf(stack);
      for (const service of run.ofType("docker:index/service:Service")) {
        const container = (service.inputs.taskSpec as Obj).containerSpec as Obj;
        expect(container.stopGracePeriod, `${stack} ${service.name}`).toMatch(/^[1-9]/);
      }
    }
    const { run, service } = await serviceOf("traefik");
    const none = withContainer(service, (c) => Object.fromEntries(Object.entries(c).filter(([k]) => k !== "stopGracePeriod")));
    expect(serviceSpec(none, idMaps(run), "traefik").spec.TaskTemplate.ContainerSpec.StopGracePeriod).toBe(0);
  });
});

describe("an intended label-only change restarts no task", () => {
  // Swarm replaces a task whose spec differs from the service's (swarmkit orchestrator
  // IsTaskDirty: reflect.DeepEqual of the task specs); the provider sends the whole spec on
  // every update, Env in random order.
  const blueGreen = (activeColor: "blue" | "green") => ({
    ...testConfig("homelab"),
    "medianest:deployment": { strategy: "blue-green", activeColor, images: { green: `ghcr.io/medianest/medianest-backend:1.1.0@sha256:${"b".repeat(64)}` } },
  });

  it("flipping blue-green sends task specs equal to the running ones, whatever the Env order", async () => {
    const blue = await runOf("homelab", blueGreen("blue"), "bg-blue");
    const green = await runOf("homelab", blueGreen("green"), "bg-green");
    for (const color of ["blue", "green"]) {
      const name = `medianest-backend-${color}`;
      const before = blue.ofType("docker:index/service:Service").find((s) => s.name === name) as RecordedResource;
      const after = green.ofType("docker:index/service:Service").find((s) => s.name === name) as RecordedResource;
      expect(JSON.stringify(after.inputs.labels)).not.toEqual(JSON.stringify(before.inputs.labels));
      const running = serviceSpec(before.inputs, idMaps(blue), name).spec.TaskTemplate;
      for (let sample = 0; sample < 20; sample++) expect(serviceSpec(after.inputs, idMaps(green), name).spec.TaskTemplate).toEqual(running);
    }
  });

  it("with two Env variables the same update would send another task spec (the reason for env files)", async () => {
    const run = await runOf("homelab");
    const backend = run.ofType("docker:index/service:Service").find((s) => s.name === "medianest-backend") as RecordedResource;
    const task = backend.inputs.taskSpec as Obj;
    const twoVars = { ...backend.inputs, taskSpec: { ...task, containerSpec: { ...(task.containerSpec as Obj), env: { A: "1", B: "2", C: "3", D: "4" } } } };
    const orders = new Set(Array.from({ length: 40 }, () => JSON.stringify(serviceSpec(twoVars, idMaps(run), "medianest-backend").spec.TaskTemplate.ContainerSpec.Env)));
    expect(orders.size).toBeGreaterThan(1);
  });
});
