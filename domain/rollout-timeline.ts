// The spec's rolling deployment timeline ("Rolling Update Strategy" Gantt), as data: what
// each phase of an image change may take, in seconds from the start, for 3 backend and 3
// frontend tasks. The lab prints its measured rollout next to it; nothing else restates it.

export type RolloutPhase = "backup" | "migration" | "backend" | "frontend" | "verification";

export interface TimelineWindow {
  readonly phase: RolloutPhase;
  readonly label: string;
  /** Seconds from the start of the rollout; undefined where the spec has no such step. */
  readonly start?: number;
  readonly end?: number;
}

export const SPEC_ROLLING_TIMELINE = {
  replicas: { backend: 3, frontend: 3 },
  totalSeconds: 180,
  windows: [
    { phase: "backup", label: "pre-deploy backup", start: 0, end: 30 },
    // Not in the spec's chart: the app's schema migration runs between the backup and the
    // first new backend task (expand/contract, README "Rolling updates").
    { phase: "migration", label: "schema migration" },
    // Three tasks of 30 s each, 15 s apart.
    { phase: "backend", label: "backend ×3", start: 30, end: 90 },
    // The spec starts the frontend while the last backend task is still updating; we start
    // it after the backend has converged (the frontend depends on the backend).
    { phase: "frontend", label: "frontend ×3", start: 75, end: 135 },
    { phase: "verification", label: "smoke and load tests", start: 135, end: 180 },
  ] satisfies readonly TimelineWindow[],
} as const;
