// The folders are layers: each may import only the folders below it, so the plan cannot
// reach into components, config never needs the plan, and the pure layers never load
// Pulumi (only config/load.ts reads the engine's config).
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/mocked-run";

/** Each layer and the layers it may import (besides itself). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  domain: [],
  config: ["domain"],
  scripts: ["domain"],
  topology: ["domain", "config", "scripts"],
  components: ["domain", "config", "scripts", "topology"],
  policies: ["domain", "config", "scripts", "topology"],
  "index.ts": ["config", "topology", "components"],
  tools: ["domain", "config", "scripts", "topology", "components", "policies", "index.ts"],
};

/** Layers that hold no Pulumi code: plain data in, plain data out. */
const PURE = new Set(["domain", "scripts", "topology"]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === "node_modules") return [];
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

function layerOf(file: string): string {
  const [top] = path.relative(REPO_ROOT, file).split(path.sep);
  return top;
}

interface Import {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2]);
  return specifiers.map((specifier) => ({
    from: layerOf(file),
    to: specifier.startsWith(".") ? layerOf(path.resolve(path.dirname(file), specifier)) : specifier,
    specifier,
  }));
}

const files = Object.keys(MAY_IMPORT).flatMap((layer) => (layer.endsWith(".ts") ? [path.join(REPO_ROOT, layer)] : sources(path.join(REPO_ROOT, layer))));

describe("layers", () => {
  it("every file imports only from its own layer and the layers below it", () => {
    expect(files.length).toBeGreaterThan(50);
    const upward = files.flatMap((file) => {
      const layer = layerOf(file);
      const allowed = new Set([layer, ...MAY_IMPORT[layer]]);
      return importsOf(file)
        .filter((i) => i.specifier.startsWith(".") && !allowed.has(i.to))
        .map((i) => `${path.relative(REPO_ROOT, file)} imports ${i.specifier} (${i.to})`);
    });
    expect(upward).toEqual([]);
  });

  it("the pure layers never load Pulumi, and config only to read the engine's config", () => {
    const offenders = files
      .filter((f) => PURE.has(layerOf(f)) || (layerOf(f) === "config" && path.basename(f) !== "load.ts"))
      .flatMap((f) => importsOf(f).filter((i) => i.specifier.startsWith("@pulumi/")).map((i) => `${path.relative(REPO_ROOT, f)}: ${i.specifier}`));
    expect(offenders).toEqual([]);
  });

  it("no layer imports one that imports it back", () => {
    const edges = new Set(files.flatMap((f) => importsOf(f).filter((i) => i.specifier.startsWith(".") && i.from !== i.to).map((i) => `${i.from}>${i.to}`)));
    const cycles = [...edges].filter((e) => edges.has(e.split(">").reverse().join(">")));
    expect(cycles).toEqual([]);
    // The table itself has no cycle, and the check sees real imports.
    expect(edges.has("topology>config") && edges.has("components>topology")).toBe(true);
  });
});
