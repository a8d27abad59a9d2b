// Container scripts and generated files as Swarm configs. Configs are immutable,
// so the name carries a hash of the content: a changed file gets a new config
// and the services using it roll onto it.
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_SCRIPTS, type ContainerScript, type ServiceFile } from "../topology/services";
import { SCRIPTS_DIR, bundledScript } from "../scripts/loader";
import type { SwarmObjectRef } from "./swarm-service";

/** A container script as its Swarm config carries it: shared helpers bundled in. */
export function containerScriptContent(name: ContainerScript): string {
  return bundledScript(path.join(SCRIPTS_DIR, CONTAINER_SCRIPTS[name]));
}

/** `<name>-<first 12 hex of sha256(content)>`: Swarm config names are immutable identities. */
export function contentHashedName(name: string, content: string): string {
  return `${name}-${createHash("sha256").update(content).digest("hex").slice(0, 12)}`;
}

export interface ServiceConfigsArgs {
  readonly provider: docker.Provider;
  readonly scripts: readonly ContainerScript[];
  /** Generated files and env files by name (content already rendered). */
  readonly files: Readonly<Partial<Record<ServiceFile, string>>>;
}

export class ServiceConfigs extends pulumi.ComponentResource {
  readonly refs: ReadonlyMap<ContainerScript | ServiceFile, SwarmObjectRef>;

  constructor(name: string, args: ServiceConfigsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:service:ServiceConfigs", name, {}, opts);
    const refs = new Map<ContainerScript | ServiceFile, SwarmObjectRef>();
    const contents = new Map<ContainerScript | ServiceFile, string>([
      ...[...new Set(args.scripts)].sort().map((script) => [script, containerScriptContent(script)] as const),
      ...Object.entries(args.files).map(([file, content]) => [file as ServiceFile, content as string] as const),
    ]);
    for (const [key, content] of contents) {
      // Resource names may not contain dots everywhere they are shown; the config name keeps them.
      const config = new docker.ServiceConfig(
        key.replace(/\./g, "-"),
        { name: contentHashedName(key.replace(/\./g, "-"), content), data: Buffer.from(content, "utf8").toString("base64") },
        { parent: this, provider: args.provider },
      );
      refs.set(key, { id: config.id, name: config.name });
    }
    this.refs = refs;
    this.registerOutputs({ configNames: [...refs.values()].map((ref) => ref.name) });
  }
}
