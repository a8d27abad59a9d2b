// Runs one of our scripts on a host: over SSH (command.remote.Command) or on the
// machine running Pulumi (command.local.Command, for the `local` stack). Values
// travel as positional arguments, never `environment` (that silently depends on
// sshd's AcceptEnv); the script itself travels as stdin to `bash -s`.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { loadScript, type ScriptName } from "./scripts";

export type ScriptTarget =
  | { readonly kind: "ssh"; readonly connection: command.types.input.remote.ConnectionArgs; readonly sudo: boolean }
  | { readonly kind: "local"; readonly sudo: boolean };

export interface ScriptInvocation {
  readonly script: ScriptName;
  readonly args?: readonly pulumi.Input<string>[];
}

export interface ScriptCommandArgs extends ScriptInvocation {
  readonly target: ScriptTarget;
  /** Script run when the resource is deleted (e.g. leave the swarm). */
  readonly onDelete?: ScriptInvocation;
  /** stdout carries secrets (join tokens): keep it out of logs and encrypt it in state. */
  readonly secretStdout?: boolean;
  /** Values that re-run the script when they change (besides the script itself and its arguments). */
  readonly triggers?: readonly pulumi.Input<string>[];
}

export interface ScriptCommand {
  readonly resource: pulumi.CustomResource;
  readonly stdout: pulumi.Output<string>;
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function bashInvocation(target: ScriptTarget, args: readonly string[]): string {
  return [...(target.sudo ? ["sudo", "-n"] : []), "bash", "-s", "--", ...args.map(shellQuote)].join(" ");
}

/** Command line that runs `script` with `args`, the script read from stdin. */
export function scriptCommandLine(target: ScriptTarget, invocation: ScriptInvocation): pulumi.Output<string> {
  return pulumi.all([...(invocation.args ?? [])]).apply((args) => bashInvocation(target, args));
}

/**
 * Self-contained command line (script embedded as base64): delete commands run
 * long after create, and stdin is only documented for create/update.
 */
export function embeddedScriptCommandLine(target: ScriptTarget, invocation: ScriptInvocation): pulumi.Output<string> {
  const encoded = Buffer.from(loadScript(invocation.script).content, "utf8").toString("base64");
  return pulumi
    .all([...(invocation.args ?? [])])
    .apply((args) => `printf '%s' ${shellQuote(encoded)} | base64 -d | ${bashInvocation(target, args)}`);
}

export function runScript(name: string, args: ScriptCommandArgs, opts: pulumi.CustomResourceOptions): ScriptCommand {
  const script = loadScript(args.script);
  const create = scriptCommandLine(args.target, args);
  const common = {
    create,
    // With `update` set, a changed script or argument re-runs the (idempotent)
    // script in place instead of replacing the resource, which would run `delete`.
    update: create,
    delete: args.onDelete ? embeddedScriptCommandLine(args.target, args.onDelete) : undefined,
    stdin: script.content,
    triggers: [script.sha256, ...(args.triggers ?? [])],
  };
  const options: pulumi.CustomResourceOptions = args.secretStdout
    ? { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "stdout"] }
    : opts;
  if (args.target.kind === "ssh") {
    const resource = new command.remote.Command(
      name,
      { ...common, connection: args.target.connection, logging: args.secretStdout ? "stderr" : "stdoutAndStderr" },
      options,
    );
    return { resource, stdout: resource.stdout };
  }
  const resource = new command.local.Command(
    name,
    { ...common, interpreter: ["/bin/sh", "-c"], logging: args.secretStdout ? "stderr" : "stdoutAndStderr" },
    options,
  );
  return { resource, stdout: resource.stdout };
}
