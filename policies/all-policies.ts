// Every policy of the pack, side-effect free (tests and the offline compliance
// run import this; only index.ts constructs the PolicyPack, which starts a gRPC server).
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { backupVersioning, cloudflareRecords, cloudflareTls, minioPrivateBuckets } from "./rules/cloud";
import { capacityMatrix, schedulingFit } from "./rules/scheduling";
import { containerPrivileges, edgeOnlyExposure, imageDigests, noPlaintextSecrets, pinnedImages, serviceResources, statefulPlacement } from "./rules/services";
import { networkAttachments, overlayNetworks, productionMinimums, swarmHardening } from "./rules/stack";

export const RESOURCE_POLICIES: readonly ResourceValidationPolicy[] = [
  serviceResources,
  statefulPlacement,
  pinnedImages,
  imageDigests,
  noPlaintextSecrets,
  containerPrivileges,
  edgeOnlyExposure,
  cloudflareRecords,
  minioPrivateBuckets,
];

export const STACK_POLICIES: readonly StackValidationPolicy[] = [
  overlayNetworks,
  networkAttachments,
  productionMinimums,
  swarmHardening,
  cloudflareTls,
  backupVersioning,
  schedulingFit,
  capacityMatrix,
];

export const ALL_POLICIES = [...RESOURCE_POLICIES, ...STACK_POLICIES];
