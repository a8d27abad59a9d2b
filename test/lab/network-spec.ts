// Strict translator: the inputs of a recorded `docker:index/network:Network` (Pulumi's
// docker provider) to the Engine API's NetworkCreate body, with the provider's semantics
// (terraform-provider-docker resource_docker_network). Any input field it does not map
// fails the translation (UnmappedFieldError).
import { StrictReader, type Fields } from "./strict";

export interface IpamConfig {
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkCreateBody {
  Name: string;
  CheckDuplicate: true;
  Driver: string;
  Attachable: boolean;
  Internal: boolean;
  Ingress: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Config: IpamConfig[]; Options: Record<string, string> };
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `[{label, value}]` (the provider's label lists) to a map; a label given twice fails. */
export function labelMap(items: readonly Fields[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const label = item.string("label");
    if (label in out) throw new Error(`${item.path}: label ${label} given twice`);
    out[label] = item.string("value");
  }
  return out;
}

export function networkCreateBody(inputs: Record<string, unknown>, path = "network"): NetworkCreateBody {
  const r = new StrictReader();
  const n = r.of(inputs, path);
  const body: NetworkCreateBody = {
    Name: n.string("name"),
    CheckDuplicate: true,
    Driver: n.optString("driver") ?? "bridge",
    Attachable: n.optBoolean("attachable") ?? false,
    Internal: n.optBoolean("internal") ?? false,
    Ingress: n.optBoolean("ingress") ?? false,
    EnableIPv6: n.optBoolean("ipv6") ?? false,
    IPAM: {
      Driver: n.optString("ipamDriver") ?? "default",
      Options: n.optStringMap("ipamOptions") ?? {},
      Config: r.objs(n, "ipamConfigs").map((c) => {
        const config: IpamConfig = {};
        const subnet = c.optString("subnet");
        const gateway = c.optString("gateway");
        const ipRange = c.optString("ipRange");
        const aux = c.optStringMap("auxAddress");
        if (subnet !== undefined) config.Subnet = subnet;
        if (gateway !== undefined) config.Gateway = gateway;
        if (ipRange !== undefined) config.IPRange = ipRange;
        if (aux !== undefined) config.AuxiliaryAddresses = aux;
        return config;
      }),
    },
    Options: n.optStringMap("options") ?? {},
    Labels: labelMap(r.objs(n, "labels")),
  };
  r.done();
  return body;
}
