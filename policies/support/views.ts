// Read the resource graph the way the policies need it: typed views over the
// untyped props of docker services, networks, hosts and commands. Missing or
// unknown values (preview) come back as undefined, never as a guess.

type Props = Record<string, unknown>;

const obj = (value: unknown): Props => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Props) : {});
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === "number" ? value : typeof value === "string" && value !== "" && !Number.isNaN(Number(value)) ? Number(value) : undefined);

export interface ServiceView {
  readonly name: string;
  readonly role?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly image?: string;
  readonly global: boolean;
  readonly replicas: number;
  readonly limits: { readonly cpus?: number; readonly memoryMb?: number };
  readonly reservations: { readonly cpus?: number; readonly memoryMb?: number };
  readonly constraints: readonly string[];
  readonly spread: readonly string[];
  readonly maxReplicasPerNode?: number;
  readonly networks: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly mounts: readonly { readonly type?: string; readonly source?: string; readonly target?: string; readonly readOnly: boolean }[];
  readonly publishedPorts: readonly { readonly published?: number; readonly target?: number; readonly mode?: string }[];
  readonly capAdds: readonly string[];
  readonly update: { readonly order?: string; readonly failureAction?: string; readonly parallelism?: number };
  readonly args: readonly string[];
}

export function serviceView(props: Props): ServiceView {
  const taskSpec = obj(props.taskSpec);
  const container = obj(taskSpec.containerSpec);
  const resources = obj(taskSpec.resources);
  const limits = obj(resources.limits);
  const reservation = obj(resources.reservation);
  const placement = obj(taskSpec.placement);
  const mode = obj(props.mode);
  const labels = Object.fromEntries(arr(props.labels).map((l) => [str(obj(l).label) ?? "", str(obj(l).value) ?? ""]));
  const mb = (bytes: unknown) => (num(bytes) === undefined ? undefined : (num(bytes) as number) / 1024 / 1024);
  const cpus = (nano: unknown) => (num(nano) === undefined ? undefined : (num(nano) as number) / 1e9);
  return {
    name: str(props.name) ?? "(unnamed)",
    role: labels["com.medianest.role"],
    labels,
    image: str(container.image),
    global: mode.global === true || mode.global === "true",
    replicas: num(obj(mode.replicated).replicas) ?? (mode.global ? 0 : 1),
    limits: { cpus: cpus(limits.nanoCpus), memoryMb: mb(limits.memoryBytes) },
    reservations: { cpus: cpus(reservation.nanoCpus), memoryMb: mb(reservation.memoryBytes) },
    constraints: arr(placement.constraints).map((c) => String(c)),
    spread: arr(placement.prefs).map((p) => String(p).replace(/^spread=/, "")),
    maxReplicasPerNode: num(placement.maxReplicas),
    networks: arr(taskSpec.networksAdvanceds).map((n) => str(obj(n).name) ?? str(obj(n).id) ?? ""),
    env: Object.fromEntries(Object.entries(obj(container.env)).map(([k, v]) => [k, String(v)])),
    mounts: arr(container.mounts).map((m) => ({
      type: str(obj(m).type),
      source: str(obj(m).source),
      target: str(obj(m).target),
      readOnly: obj(m).readOnly === true || obj(m).readOnly === "true",
    })),
    publishedPorts: arr(obj(props.endpointSpec).ports).map((p) => ({
      published: num(obj(p).publishedPort),
      target: num(obj(p).targetPort),
      mode: str(obj(p).publishMode),
    })),
    capAdds: arr(container.capAdds).map((c) => String(c)),
    update: { order: str(obj(props.updateConfig).order), failureAction: str(obj(props.updateConfig).failureAction), parallelism: num(obj(props.updateConfig).parallelism) },
    args: arr(container.args).map((a) => String(a)),
  };
}

export interface NetworkView {
  readonly id?: string;
  readonly name?: string;
  readonly driver?: string;
  readonly internal: boolean;
  readonly encrypted: boolean;
  readonly subnets: readonly string[];
}

export function networkView(props: Props, id?: string): NetworkView {
  return {
    id,
    name: str(props.name),
    driver: str(props.driver),
    internal: props.internal === true || props.internal === "true",
    encrypted: "encrypted" in obj(props.options),
    subnets: arr(props.ipamConfigs).map((c) => str(obj(c).subnet) ?? ""),
  };
}

export const asProps = obj;
export const asNumber = num;
export const asString = str;
