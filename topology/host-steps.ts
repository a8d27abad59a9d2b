// The ordered preparation steps of one host, as plain data: which of our scripts run,
// with which arguments, and what runs when the step is deleted. The Host component runs
// them in this order; tests and the lab replay the same list.
import type { StackConfig } from "../config/schema";
import { scriptCall, type ScriptCall } from "../scripts/interfaces";
import { daemonJson, dataDirectoryArgs, dockerMountsArgs, firewallArgs, nfsMountArgs } from "./host-setup";
import type { PlannedNode, TopologyPlan } from "./plan";

export interface HostStep {
  readonly id: string;
  readonly call: ScriptCall;
  /** Run when the step's resource is deleted (public arguments only). */
  readonly onDelete?: ScriptCall;
}

/** A host step's resource name: by host and step, so it is also the owner its delete step checks. */
export const hostStepResourceName = (host: string, step: string): string => `${host}-${step}`;

export function hostSteps(config: StackConfig, plan: TopologyPlan, node: PlannedNode): HostStep[] {
  const setup = config.hostSetup;
  const steps: HostStep[] = [];
  // The OS check guards the apt-based Docker install; without it any Linux with Docker will do.
  if (setup.installDocker) {
    steps.push({ id: "check-os", call: scriptCall("host/check-os.sh", {}) });
    steps.push({ id: "install-docker", call: scriptCall("host/install-docker.sh", {}) });
  }
  // The docker provider talks to the engine as the SSH user: it needs the docker group.
  if (config.connection === "ssh" && node.ssh.user !== "root") {
    steps.push({ id: "docker-access", call: scriptCall("host/docker-access.sh", { user: node.ssh.user }) });
  }
  if (setup.daemonConfig) steps.push({ id: "daemon-config", call: scriptCall("host/daemon-config.sh", { json: daemonJson(config) }) });
  steps.push({ id: "data-dirs", call: scriptCall("host/data-dirs.sh", dataDirectoryArgs(config)) });
  const nfsOwner = hostStepResourceName(node.name, "nfs-mount");
  const nfs = nfsMountArgs(config, nfsOwner);
  if (nfs) {
    steps.push({
      id: "nfs-mount",
      call: scriptCall("host/nfs-mount.sh", nfs),
      onDelete: scriptCall("host/nfs-mount.sh", { state: "absent", mountPoint: config.storage.mediaPath, owner: nfsOwner }),
    });
  }
  // Docker waits for the share at boot; the drop-in goes with the share (its delete, which
  // runs with the arguments stored when it was created: state absent and this owner).
  const mountsOwner = hostStepResourceName(node.name, "docker-mounts");
  const mounts = dockerMountsArgs(config, mountsOwner);
  if (mounts) {
    steps.push({
      id: "docker-mounts",
      call: scriptCall("host/docker-mounts.sh", mounts),
      onDelete: scriptCall("host/docker-mounts.sh", { state: "absent", owner: mountsOwner }),
    });
  }
  // The docker provider multiplexes its API calls over one SSH connection to the leader (a manager).
  if (config.connection === "ssh" && node.role === "manager" && setup.sshdMaxSessions !== false) {
    steps.push({ id: "sshd-sessions", call: scriptCall("host/sshd-sessions.sh", { maxSessions: setup.sshdMaxSessions }) });
  }
  if (setup.firewall) steps.push({ id: "firewall", call: scriptCall("host/firewall.sh", firewallArgs(config, plan, node)) });
  return steps;
}
