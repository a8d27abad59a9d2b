// The CrossGuard pack: `pulumi preview --policy-pack policies`. Only this file
// constructs the PolicyPack (it starts the policy gRPC server).
import { PolicyPack } from "@pulumi/policy";
import { ALL_POLICIES } from "./all-policies";

new PolicyPack("medianest", { policies: [...ALL_POLICIES] });
