// The ordered preparation steps of one host, as plain data: which of our scripts run,
// with which arguments, and what runs when the step is deleted. The Host component runs
// them in this order; tests and the lab replay the same list.
import type { StackConfig } from "../config/schema";
import type { ScriptName } from "../scripts/loader";
import { daemonJson, dataDirectoryArgs, firewallArgs, nfsMountArgs } from "./host-setup";
import type { PlannedNode, TopologyPlan } from "./plan";

export interface HostStep {
  readonly id: string;
  readonly script: ScriptName;
  readonly args?: readonly string[];
  /** Run when the step's resource is deleted (public arguments only). */
  readonly onDelete?: { readonly script: ScriptName; readonly args: readonly string[] };
}

/** A host step's resource name: by host and step, so it is also the owner its delete step checks. */
export const hostStepResourceName = (host: string, step: string): string => `${host}-${step}`;

export function hostSteps(config: StackConfig, plan: TopologyPlan, node: PlannedNode): HostStep[] {
  const setup = config.hostSetup;
  const steps: HostStep[] = [];
  // The OS check guards the apt-based Docker install; without it any Linux with Docker will do.
  if (setup.installDocker) {
    steps.push({ id: "check-os", script: "host/check-os.sh" });
    steps.push({ id: "install-docker", script: "host/install-docker.sh" });
  }
  // The docker provider talks to the engine as the SSH user: it needs the docker group.
  if (config.connection === "ssh" && node.ssh.user !== "root") {
    steps.push({ id: "docker-access", script: "host/docker-access.sh", args: [node.ssh.user] });
  }
  if (setup.daemonConfig) steps.push({ id: "daemon-config", script: "host/daemon-config.sh", args: [daemonJson(config)] });
  steps.push({ id: "data-dirs", script: "host/data-dirs.sh", args: dataDirectoryArgs(config) });
  const nfsOwner = hostStepResourceName(node.name, "nfs-mount");
  const nfs = nfsMountArgs(config, nfsOwner);
  if (nfs) {
    steps.push({
      id: "nfs-mount",
      script: "host/nfs-mount.sh",
      args: nfs,
      onDelete: { script: "host/nfs-mount.sh", args: ["absent", config.storage.mediaPath, nfsOwner] },
    });
  }
  // The docker provider multiplexes its API calls over one SSH connection to the leader (a manager).
  if (config.connection === "ssh" && node.role === "manager" && setup.sshdMaxSessions !== false) {
    steps.push({ id: "sshd-sessions", script: "host/sshd-sessions.sh", args: [String(setup.sshdMaxSessions)] });
  }
  if (setup.firewall) steps.push({ id: "firewall", script: "host/firewall.sh", args: firewallArgs(config, plan, node) });
  return steps;
}
