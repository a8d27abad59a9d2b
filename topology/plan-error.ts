// A stack the config schema accepted but the planner cannot lay out. The entry point
// reports it as its message alone (pulumi.RunError): it names what to change.
export class PlanError extends Error {
  override readonly name = "PlanError";
}
