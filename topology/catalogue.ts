// Where the spec's services may run ("Node Placement Strategy"), as data. Config
// validation uses it to refuse a stack on which a service could never be scheduled.

export interface PlacementRequirement {
  readonly service: string;
  /** Node labels the service needs, e.g. { type: "compute" }. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The spec pins app services to `node.role == worker`. The constraint is only
   * emitted when some worker carries the labels, so a one-server homelab (a
   * manager with every label) can still run them.
   */
  readonly preferWorkers: boolean;
}

export const PLACEMENT_REQUIREMENTS: readonly PlacementRequirement[] = [
  { service: "medianest-frontend", labels: { type: "compute" }, preferWorkers: true },
  { service: "medianest-backend", labels: { type: "compute" }, preferWorkers: true },
  { service: "medianest-worker", labels: { type: "processing" }, preferWorkers: false },
  { service: "postgres-primary", labels: { type: "database", storage: "ssd" }, preferWorkers: false },
];
