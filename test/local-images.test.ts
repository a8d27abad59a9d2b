// images.build: a single-node stack builds the app images from a local checkout on its own
// node and runs them by image ID; the migration and the pre-deploy backup follow the build.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config/schema";
import { IMAGE_ID } from "../domain/images";
import { mockedRun, testConfig, type MockedRun, type RecordedResource } from "./support/mocked-run";
import { validatedStackConfig } from "./support/stack-config";

let checkout = "";
beforeAll(() => {
  checkout = mkdtempSync(path.join(os.tmpdir(), "mn-checkout-"));
  for (const tier of ["backend", "frontend"]) {
    mkdirSync(path.join(checkout, tier));
    writeFileSync(path.join(checkout, tier, "Dockerfile.prod"), "FROM scratch\n");
  }
});
afterAll(() => {
  if (checkout) rmSync(checkout, { recursive: true, force: true });
});

/** The homelab stack with images.build instead of pushed images. */
function buildConfig(build: Record<string, unknown> = {}): Record<string, unknown> {
  const config = testConfig("homelab");
  const { frontend: _frontend, backend: _backend, ...others } = config["medianest:images"] as Record<string, string>;
  return { ...config, "medianest:images": { ...others, build: { context: checkout, ...build } } };
}

const rawOf = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/^medianest:/, ""), v]));
function issues(overrides: Record<string, unknown>, stack: "homelab" | "cluster" = "homelab"): string {
  try {
    validatedStackConfig(stack, overrides);
    return "";
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.key}: ${i.message}`).join("\n");
  }
}

describe("images.build on a single-node stack", () => {
  let run: MockedRun;
  const named = (type: string, name: string): RecordedResource => {
    const found = run.ofType(type).find((r) => r.name === name);
    if (!found) throw new Error(`no ${type} ${name}`);
    return found;
  };
  beforeAll(async () => {
    run = await mockedRun("homelab", { config: buildConfig({ frontend: { args: { NEXT_PUBLIC_API_URL: "https://medianest.example.com/api" }, target: "runner" } }) });
  });

  it("builds both images on the node's daemon, never pushed, from the checkout's Dockerfiles", () => {
    const images = run.ofType("docker:index/image:Image");
    expect(images.map((i) => [i.name, i.inputs.imageName, i.inputs.skipPush])).toEqual([
      ["image-backend", "medianest-local/backend:build", true],
      ["image-frontend", "medianest-local/frontend:build", true],
    ]);
    expect(images[0].inputs.build).toEqual({ context: checkout, dockerfile: path.join(checkout, "backend/Dockerfile.prod") });
    expect(images[1].inputs.build).toEqual({ context: checkout, dockerfile: path.join(checkout, "frontend/Dockerfile.prod"), target: "runner", args: { NEXT_PUBLIC_API_URL: "https://medianest.example.com/api" } });
    for (const image of images) {
      expect(image.parent).toContain("medianest:app:LocalAppImages");
      // The stack's docker provider: the build runs on the node itself.
      expect(image.provider).toContain("pulumi:providers:docker::leader-docker");
    }
  });

  it("runs the services by the built image's ID, and the migration and the pre-deploy backup name it", () => {
    const image = (service: string) => String((named("docker:index/service:Service", service).inputs.taskSpec as { containerSpec: { image: string } }).containerSpec.image);
    expect(image("medianest-backend")).toMatch(IMAGE_ID);
    expect(image("medianest-frontend")).toMatch(IMAGE_ID);
    expect(image("medianest-backend")).not.toBe(image("medianest-frontend"));
    const migration = run.ofType("command:remote:Command").find((c) => c.parent.includes("SchemaMigration"));
    expect(String(migration?.inputs.create)).toContain(`--image ${image("medianest-backend")}`);
    const backup = run.ofType("command:remote:Command").find((c) => c.parent.includes("PreDeployBackup"));
    expect(String(backup?.inputs.create)).toContain(`--images ${image("medianest-backend")},${image("medianest-frontend")},${image("medianest-backend")}`);
  });

  it("another build (a changed build input) is another ID: the services roll", async () => {
    const other = await mockedRun("homelab", { config: buildConfig({ backend: { target: "production" } }) });
    const image = (r: MockedRun, service: string) =>
      String((r.ofType("docker:index/service:Service").find((s) => s.name === service)?.inputs.taskSpec as { containerSpec: { image: string } }).containerSpec.image);
    expect(image(other, "medianest-backend")).not.toBe(image(run, "medianest-backend"));
  });
});

describe("images.build is refused where it cannot work", () => {
  it.each([
    [{ images: { build: { context: "/nonexistent/medianest" } } }, 'medianest:images.build.context: "/nonexistent/medianest" is not a directory on this machine'],
    [{ images: { build: { context: "relative/medianest" } } }, "medianest:images.build.context:"],
  ])("%o", (overrides, message) => {
    expect(issues(overrides)).toContain(message);
  });

  it("a Dockerfile missing from the checkout, or outside it", () => {
    expect(issues({ images: { build: { context: checkout, backend: { dockerfile: "backend/Dockerfile" } } } })).toContain(
      `medianest:images.build.backend.dockerfile: ${path.join(checkout, "backend/Dockerfile")} does not exist in the checkout`,
    );
    expect(issues({ images: { build: { context: checkout, frontend: { dockerfile: "../Dockerfile" } } } })).toContain("medianest:images.build.frontend.dockerfile: must be inside images.build.context");
  });

  it("together with images.backend, and on a stack of several hosts", () => {
    const homelabImages = rawOf(testConfig("homelab")).images as Record<string, string>;
    expect(issues({ images: { ...homelabImages, build: { context: checkout } } })).toContain("medianest:images.backend: is set and images.build builds it too");
    const { frontend: _f, backend: _b, ...clusterImages } = rawOf(testConfig("cluster")).images as Record<string, string>;
    expect(issues({ images: { ...clusterImages, build: { context: checkout } } }, "cluster")).toContain("medianest:images.build: builds on one node, but the stack has");
  });

  it("neither images nor a build", () => {
    const { frontend: _f, backend: _b, ...others } = rawOf(testConfig("homelab")).images as Record<string, string>;
    expect(issues({ images: others })).toContain("medianest:images.backend: is required");
  });
});
