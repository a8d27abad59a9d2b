// Node label encoding. A Swarm node label has exactly one value, but a one-server
// homelab must be "compute" AND "processing" AND "database" at once. A label key
// given as a list on any host is therefore encoded, on every host, as one boolean
// label per value ("type.compute=true"); keys only ever given as scalars stay
// spec-literal ("type=compute"). Constraints are derived with the same rule, so
// they always match the labels that were applied.

export type ConfiguredLabels = Readonly<Record<string, string | readonly string[]>>;

export interface LabelEncoding {
  /** Keys encoded as one boolean label per value. */
  readonly multiValuedKeys: ReadonlySet<string>;
}

export function labelEncodingFor(hostLabels: readonly ConfiguredLabels[]): LabelEncoding {
  const multiValuedKeys = new Set<string>();
  for (const labels of hostLabels) {
    for (const [key, value] of Object.entries(labels)) {
      if (Array.isArray(value)) multiValuedKeys.add(key);
    }
  }
  return { multiValuedKeys };
}

function valuesOf(value: string | readonly string[]): readonly string[] {
  return typeof value === "string" ? [value] : value;
}

/** The exact node labels for one host, sorted by key for stable script arguments. */
export function encodeNodeLabels(labels: ConfiguredLabels, encoding: LabelEncoding): Record<string, string> {
  const encoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (encoding.multiValuedKeys.has(key)) {
      for (const item of valuesOf(value)) encoded[`${key}.${item}`] = "true";
    } else {
      encoded[key] = valuesOf(value)[0];
    }
  }
  return Object.fromEntries(Object.entries(encoded).sort(([a], [b]) => a.localeCompare(b)));
}

/** Does a host's configured label set satisfy `key=value`? */
export function hasLabel(labels: ConfiguredLabels, key: string, value: string): boolean {
  const configured = labels[key];
  return configured !== undefined && valuesOf(configured).includes(value);
}

/** Anything that carries configured labels (a host of the config). */
export interface Labelled {
  readonly labels: ConfiguredLabels;
}

/** The hosts that carry every label of `required` (in either encoding). */
export function hostsMatching<T extends Labelled>(hosts: readonly T[], required: Readonly<Record<string, string>>): T[] {
  return hosts.filter((h) => Object.entries(required).every(([k, v]) => hasLabel(h.labels, k, v)));
}

/** The Swarm placement constraint that selects nodes labelled `key=value`. */
export function labelConstraint(key: string, value: string, encoding: LabelEncoding): string {
  return encoding.multiValuedKeys.has(key) ? `node.labels.${key}.${value} == true` : `node.labels.${key} == ${value}`;
}
