// Entry point: validate the stack's config (before any resource exists), plan the
// topology, then build it.
import { loadStackConfig } from "./config/load";
import { planTopology } from "./topology/plan";
import { MediaNestStack } from "./components/medianest-stack";

const { config, secrets } = loadStackConfig();
const plan = planTopology(config);
const medianest = new MediaNestStack("medianest", { config, plan, secrets });

export const environment = config.environment;
export const leaderAddress = medianest.leaderAddress;
export const nodeIds = medianest.nodeIds;
export const networkIds = medianest.networkIds;
export const clusterId = medianest.clusterId;
/** Secret: needed to unlock managers after a daemon restart when autolock is on. */
export const swarmUnlockKey = medianest.unlockKey;
/** Secret: to join extra nodes by hand. */
export const workerJoinToken = medianest.workerToken;
export const managerJoinToken = medianest.managerToken;
export const services = medianest.serviceNames;
export const buckets = medianest.buckets;
