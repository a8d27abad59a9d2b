// IPv4 address and CIDR arithmetic. Pure: shared by config validation, the plan,
// policies and the lab, so an overlap is judged the same way everywhere.
import { isIPv4 } from "node:net";

export interface Ipv4Cidr {
  /** Canonical text, e.g. "10.0.1.0/24". */
  readonly text: string;
  /** First address as an unsigned 32-bit integer. */
  readonly first: number;
  /** Last address as an unsigned 32-bit integer. */
  readonly last: number;
  readonly prefix: number;
}

export function ipv4ToInt(address: string): number {
  if (!isIPv4(address)) throw new Error(`"${address}" is not an IPv4 address`);
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses "a.b.c.d/n"; throws with the reason when it is malformed or has host bits set. */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  if (!match) throw new Error(`"${text}" is not in a.b.c.d/prefix form`);
  const [, address, prefixText] = match;
  const prefix = Number(prefixText);
  if (!isIPv4(address)) throw new Error(`"${text}" has an invalid address part`);
  if (prefix < 0 || prefix > 32) throw new Error(`"${text}" has a prefix outside 0-32`);
  const size = 2 ** (32 - prefix);
  const start = ipv4ToInt(address);
  if (start % size !== 0) {
    const network = intToIpv4(start - (start % size));
    throw new Error(`"${text}" has host bits set (the network address is ${network}/${prefix})`);
  }
  return { text: `${address}/${prefix}`, first: start, last: start + size - 1, prefix };
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function cidrContains(cidr: Ipv4Cidr, address: string): boolean {
  if (!isIPv4(address)) return false;
  const value = ipv4ToInt(address);
  return value >= cidr.first && value <= cidr.last;
}

/** The conventional gateway of an overlay subnet: its first usable address. */
export function firstHost(cidr: Ipv4Cidr): string {
  return intToIpv4(cidr.first + 1);
}
