// Entry point: validate the stack's config and plan the whole stack (both before
// any resource exists), then build it. A config or plan error ends the run with its
// message only: it names the config key to fix, a stack trace would bury that.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load";
import { ConfigError } from "./config/schema";
import { PlanError, planStack, type StackPlan } from "./topology/stack-plan";
import { MediaNestStack } from "./components/medianest-stack";

function planned(): { plan: StackPlan; secrets: ReturnType<typeof loadStackConfig>["secrets"] } {
  try {
    const { config, secrets } = loadStackConfig();
    return { plan: planStack(config), secrets };
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PlanError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

const { plan, secrets } = planned();
const medianest = new MediaNestStack("medianest", { plan, secrets });

export const environment = plan.config.environment;
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
