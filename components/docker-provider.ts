// One docker.Provider for the swarm leader, used by every docker resource.
//
// Over SSH the provider shells out to `ssh <sshOpts> <host> docker system dial-stdio`
// (terraform-provider-docker v4.5.0 internal/provider/config.go, docker/cli connhelper).
// The provider's inputs are stored in state and reused as they are by `pulumi destroy`
// and `pulumi refresh`, which do not run the program: so sshOpts name no file that
// exists only during a run (the old temporary key file), and carry a pinned host key
// inline. Authentication comes from the control master the program opens right before
// the provider is first used (ssh-control-master.ts: key from medianest:sshPrivateKey,
// never written to disk); without a program run, from the operator's ssh-agent.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { PlannedNode } from "../topology/plan";
import { ControlMasterError, multiplexedSshOptions, openControlMaster, type SshEndpoint } from "./ssh-control-master";

export const LOCAL_DOCKER_HOST = "unix:///var/run/docker.sock";

/** Set by the mocked runs (tools/mocked-program.ts): no real SSH connection is opened there. */
export const NO_CONTROL_MASTER_ENV = "MEDIANEST_NO_SSH_CONTROL_MASTER";

export interface LeaderDockerProviderArgs {
  readonly connection: "ssh" | "local";
  readonly leader: PlannedNode;
  readonly sshPrivateKey?: pulumi.Output<string>;
  /** Resolves once the swarm is formed: the master is opened only then (ControlPersist counts from its last use). */
  readonly swarmReady: pulumi.Input<unknown>;
}

export function dockerHostUrl(leader: PlannedNode): string {
  const address = leader.address.includes(":") ? `[${leader.address}]` : leader.address;
  return `ssh://${leader.ssh.user}@${address}:${leader.ssh.port}`;
}

export function leaderEndpoint(leader: PlannedNode): SshEndpoint {
  // config/rules.ts (connection) refuses an SSH host without hostKey before anything runs.
  if (!leader.ssh.hostKey) throw new Error(`medianest:hosts: ${leader.name} has no hostKey; an SSH connection needs its pinned host key`);
  return { user: leader.ssh.user, address: leader.address, port: leader.ssh.port, hostKey: leader.ssh.hostKey };
}

/** The ssh options the provider stores and uses: no key file, the pinned host key inline. */
export function dockerSshOptions(leader: PlannedNode): string[] {
  return multiplexedSshOptions(leaderEndpoint(leader));
}

export function leaderDockerProvider(name: string, args: LeaderDockerProviderArgs, opts: pulumi.CustomResourceOptions): docker.Provider {
  if (args.connection === "local") return new docker.Provider(name, { host: LOCAL_DOCKER_HOST }, opts);
  if (!args.sshPrivateKey) throw new pulumi.RunError("the ssh connection needs medianest:sshPrivateKey: pulumi config set --secret medianest:sshPrivateKey < ~/.ssh/id_ed25519");
  const endpoint = leaderEndpoint(args.leader);
  const sshOpts = pulumi.all([args.sshPrivateKey, args.swarmReady]).apply(async ([key]) => {
    if (process.env[NO_CONTROL_MASTER_ENV] !== "1") {
      try {
        await openControlMaster(endpoint, key);
      } catch (error) {
        if (!(error instanceof ControlMasterError)) throw error;
        // The provider's own ssh then tries the operator's ssh-agent; say why it may fail.
        await pulumi.log.warn(
          `medianest:sshPrivateKey: could not open the SSH connection the docker provider shares (${error.message}); docker operations will use your ssh-agent instead`,
        );
      }
    }
    return dockerSshOptions(args.leader);
  });
  return new docker.Provider(name, { host: dockerHostUrl(args.leader), sshOpts: pulumi.unsecret(sshOpts) }, opts);
}
