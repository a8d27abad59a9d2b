// Container scripts as Swarm configs. Configs are immutable, so the name carries
// a hash of the content: a changed script gets a new config and the services
// using it roll onto it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_SCRIPTS, type ContainerScript } from "../topology/services";
import { SCRIPTS_DIR } from "./scripts";
import type { SwarmObjectRef } from "./swarm-service";

export function containerScriptContent(name: ContainerScript): string {
  return readFileSync(path.join(SCRIPTS_DIR, CONTAINER_SCRIPTS[name]), "utf8");
}

/** `<name>-<first 12 hex of sha256(content)>`: Swarm config names are immutable identities. */
export function contentHashedName(name: string, content: string): string {
  return `${name}-${createHash("sha256").update(content).digest("hex").slice(0, 12)}`;
}

export interface ServiceScriptsArgs {
  readonly provider: docker.Provider;
  readonly scripts: readonly ContainerScript[];
}

export class ServiceScripts extends pulumi.ComponentResource {
  readonly refs: ReadonlyMap<ContainerScript, SwarmObjectRef>;

  constructor(name: string, args: ServiceScriptsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:service:ServiceScripts", name, {}, opts);
    const refs = new Map<ContainerScript, SwarmObjectRef>();
    for (const script of [...new Set(args.scripts)].sort()) {
      const content = containerScriptContent(script);
      const config = new docker.ServiceConfig(
        script,
        { name: contentHashedName(script, content), data: Buffer.from(content, "utf8").toString("base64") },
        { parent: this, provider: args.provider },
      );
      refs.set(script, { id: config.id, name: config.name });
    }
    this.refs = refs;
    this.registerOutputs({});
  }
}
