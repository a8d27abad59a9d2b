// The spec's Capacity Planning Matrix, as data, and the row a user count falls in.
export interface CapacityRow {
  /** Upper bound of the user range (inclusive); the last row has no bound. */
  readonly maxUsers: number;
  readonly label: string;
  readonly cpus: number;
  readonly ramGb: number;
  readonly storageTb: number;
  readonly networkMbps: number;
}

export const CAPACITY_MATRIX: readonly CapacityRow[] = [
  { maxUsers: 50, label: "1-50", cpus: 8, ramGb: 16, storageTb: 2, networkMbps: 100 },
  { maxUsers: 200, label: "51-200", cpus: 16, ramGb: 32, storageTb: 5, networkMbps: 500 },
  { maxUsers: 500, label: "201-500", cpus: 32, ramGb: 64, storageTb: 10, networkMbps: 1000 },
  { maxUsers: 1000, label: "501-1000", cpus: 64, ramGb: 128, storageTb: 20, networkMbps: 2000 },
  { maxUsers: Number.POSITIVE_INFINITY, label: "1000+", cpus: 128, ramGb: 256, storageTb: 50, networkMbps: 5000 },
];

export function capacityRowFor(users: number): CapacityRow {
  const row = CAPACITY_MATRIX.find((r) => users <= r.maxUsers);
  if (!row) throw new Error(`no capacity row for ${users} users`);
  return row;
}
