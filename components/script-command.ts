// Runs one of our scripts on a host: over SSH (command.remote.Command) or on the
// machine running Pulumi (command.local.Command, for the `local` stack). Public values
// travel as --flags (scripts/interfaces.ts), secrets as shell variables on stdin ahead of the
// script (composeStdin), never in `environment` (that silently depends on sshd's
// AcceptEnv and would sit in the process environment) nor in the command line.
//
// What pulumi-command v1.2.1 does with these inputs (provider/pkg/provider/common/inputs.go,
// remote/commandController.go, remote/commandOutputs.go; local/* alike):
// - `triggers` is replace-on-change (`provider:"replaceOnChanges"`, and the SDK adds
//   `replaceOnChanges: ["triggers[*]"]`): a replace runs the old resource's `delete`, so
//   we never set it. Any other changed input (stdin, create, update, delete, connection)
//   is an update, which runs `update` in place: a changed script or argument re-runs the
//   idempotent script, never a delete.
// - `addPreviousOutputInEnv` defaults to true and sends the previous stdout/stderr as
//   PULUMI_COMMAND_STDOUT/STDERR environment on every run: off, since init's stdout
//   carries the join tokens.
// - A failed run's error quotes the command line (`running %q`) and all output: neither
//   carries a secret.
// - Delete runs with the stored inputs (stdin included); the delete script is embedded in
//   the delete command line so it does not depend on that.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { composeStdin, loadScript, type ScriptName } from "../scripts/loader";
import { shellQuote } from "../scripts/command-line";
import { scriptArgv, type ScriptCall } from "../scripts/interfaces";

export type ScriptTarget =
  | { readonly kind: "ssh"; readonly connection: command.types.input.remote.ConnectionArgs; readonly sudo: boolean }
  | { readonly kind: "local"; readonly sudo: boolean };

/** A script and its public arguments (typed by scripts/interfaces.ts); values may be Outputs. */
export type ScriptInvocation = ScriptCall<pulumi.Input<string>>;

export interface ScriptCommandArgs {
  readonly call: ScriptInvocation;
  readonly target: ScriptTarget;
  /** Secret values the script reads as shell variables (MEDIANEST_*), delivered on stdin. */
  readonly secrets?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Script run when the resource is deleted (e.g. leave the swarm). Public arguments only. */
  readonly onDelete?: ScriptInvocation;
  /** stdout carries secrets (join tokens): keep it out of logs and encrypt it in state. */
  readonly secretStdout?: boolean;
}

export interface ScriptCommand {
  readonly resource: pulumi.CustomResource;
  readonly stdout: pulumi.Output<string>;
}

function bashInvocation(target: ScriptTarget, args: readonly string[]): string {
  return [...(target.sudo ? ["sudo", "-n"] : []), "bash", "-s", "--", ...args.map(shellQuote)].join(" ");
}

/** Command line that runs the call's script with its arguments, the script read from stdin. */
export function scriptCommandLine(target: ScriptTarget, invocation: ScriptInvocation): pulumi.Output<string> {
  return pulumi.all(scriptArgv(invocation)).apply((args) => bashInvocation(target, args));
}

/**
 * Self-contained command line (script embedded as base64), for `delete`: it runs long
 * after create, from state, whatever stdin the resource stored.
 */
export function embeddedScriptCommandLine(target: ScriptTarget, invocation: ScriptInvocation): pulumi.Output<string> {
  const encoded = Buffer.from(loadScript(invocation.script).content, "utf8").toString("base64");
  return pulumi
    .all(scriptArgv(invocation))
    .apply((args) => `printf '%s' ${shellQuote(encoded)} | base64 -d | ${bashInvocation(target, args)}`);
}

/** The stdin of a script run: the script, with the secrets ahead of it (and then the whole stdin is secret). */
export function scriptStdin(script: ScriptName, secrets: Readonly<Record<string, pulumi.Input<string>>> = {}): pulumi.Output<string> {
  const loaded = loadScript(script);
  const names = Object.keys(secrets);
  if (names.length === 0) return pulumi.output(composeStdin(loaded));
  return pulumi.secret(pulumi.all(secrets).apply((values) => composeStdin(loaded, values)));
}

export function runScript(name: string, args: ScriptCommandArgs, opts: pulumi.CustomResourceOptions): ScriptCommand {
  const create = scriptCommandLine(args.target, args.call);
  const common = {
    create,
    // A changed script (stdin) or argument is an update: the idempotent script re-runs in place.
    update: create,
    delete: args.onDelete ? embeddedScriptCommandLine(args.target, args.onDelete) : undefined,
    stdin: scriptStdin(args.call.script, args.secrets),
    addPreviousOutputInEnv: false,
    logging: (args.secretStdout ? "stderr" : "stdoutAndStderr") as "stderr" | "stdoutAndStderr",
  };
  const options: pulumi.CustomResourceOptions = args.secretStdout
    ? { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "stdout"] }
    : opts;
  if (args.target.kind === "ssh") {
    const resource = new command.remote.Command(name, { ...common, connection: args.target.connection }, options);
    return { resource, stdout: resource.stdout };
  }
  const resource = new command.local.Command(name, { ...common, interpreter: ["/bin/sh", "-c"] }, options);
  return { resource, stdout: resource.stdout };
}
