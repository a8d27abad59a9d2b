// The Cloudflare edge in front of the Traefik nodes, as plain data: proxied DNS
// records, cache rules and zone settings. The CloudflareEdge component turns it
// into resources; keys and refs are derived from the input only, so resource
// names and rule identities stay stable between runs.
import { isIPv4, isIPv6 } from "node:net";

export interface CloudflareEdgeInput {
  /** The zone, e.g. "example.com". */
  readonly zone: string;
  /** FQDNs inside the zone (or the apex), e.g. "medianest.example.com". */
  readonly hostnames: readonly string[];
  /** Public IPv4/IPv6 addresses of the edge (Traefik) nodes: one record per address and hostname. */
  readonly edgeAddresses: readonly string[];
  readonly staticCacheTtlSeconds: number;
  readonly imageCacheTtlSeconds: number;
}

export interface PlannedDnsRecord {
  /** Stable resource-name suffix: hostname, type and address. */
  readonly key: string;
  readonly name: string;
  readonly type: "A" | "AAAA";
  readonly content: string;
  readonly proxied: true;
  /** 1 = automatic, the only TTL Cloudflare accepts for proxied records. */
  readonly ttl: 1;
}

export interface PlannedCacheRule {
  /** Stable rule reference: Cloudflare keeps the rule's identity across updates by it. */
  readonly ref: string;
  readonly description: string;
  readonly expression: string;
  readonly edgeTtlSeconds: number;
  readonly browserTtlSeconds: number;
}

/** Zone settings by their API ids (snake_case: the provider's doc table shows them camelCased, the examples and the API do not). */
export const ZONE_SETTINGS: readonly { readonly settingId: string; readonly value: string }[] = [
  // Full (strict): Cloudflare → Traefik over TLS with a valid certificate.
  { settingId: "ssl", value: "strict" },
  { settingId: "always_use_https", value: "on" },
  { settingId: "min_tls_version", value: "1.2" },
  { settingId: "http3", value: "on" },
  // No "brotli": that setting and its API reached end of life on 2024-06-14 (Cloudflare's
  // API deprecations page); Brotli is on for every zone since, and Compression Rules are
  // its successor for anyone who wants to change it. Nothing to declare for "on".
];

export const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "avif", "gif", "svg", "ico"] as const;
export const NEXT_STATIC_PREFIX = "/_next/static/";
export const THUMBNAIL_PREFIXES = ["/thumbnails/", "/api/thumbnails/"] as const;
/** API responses are per-user: never cached, except the thumbnail prefix above. */
export const API_PREFIX = "/api/";

/** Lowercase, no trailing dot: DNS names are case-insensitive and Cloudflare stores them this way. */
function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** The hostnames, normalised; throws unless each is the zone or inside it, and unique. */
function validatedHostnames(input: CloudflareEdgeInput): string[] {
  const zone = normaliseName(input.zone);
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(zone)) throw new Error(`Cloudflare zone "${input.zone}" is not a domain name`);
  if (input.hostnames.length === 0) throw new Error(`no hostnames given for Cloudflare zone ${zone}`);
  const seen = new Set<string>();
  return input.hostnames.map((raw) => {
    const hostname = normaliseName(raw);
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(hostname) || (hostname !== zone && !hostname.endsWith(`.${zone}`))) {
      throw new Error(`hostname "${raw}" is not inside the Cloudflare zone ${zone}`);
    }
    if (seen.has(hostname)) throw new Error(`hostname "${raw}" is listed twice`);
    seen.add(hostname);
    return hostname;
  });
}

/** IPv6 in RFC 5952 form (lowercase, compressed), as Cloudflare returns it: anything else diffs on every run. */
function canonicalAddress(address: string): { type: "A" | "AAAA"; content: string } {
  const trimmed = address.trim();
  if (isIPv4(trimmed)) return { type: "A", content: trimmed };
  // A zone index ("%eth0") is link-local only, never a public edge address.
  if (isIPv6(trimmed) && !trimmed.includes("%")) return { type: "AAAA", content: new URL(`http://[${trimmed}]/`).hostname.slice(1, -1) };
  throw new Error(`edge address "${address}" is neither an IPv4 nor an IPv6 address`);
}

function validatedTtl(label: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error(`${label} must be a positive whole number of seconds, got ${seconds}`);
  return seconds;
}

/** One proxied record per hostname × edge address; the address family decides A or AAAA. */
export function plannedDnsRecords(input: CloudflareEdgeInput): PlannedDnsRecord[] {
  const hostnames = validatedHostnames(input);
  if (input.edgeAddresses.length === 0) throw new Error(`no edge addresses given for Cloudflare zone ${normaliseName(input.zone)}`);
  const addresses = input.edgeAddresses.map(canonicalAddress);
  const contents = new Set<string>();
  for (const [index, { content }] of addresses.entries()) {
    if (contents.has(content)) throw new Error(`edge address "${input.edgeAddresses[index]}" is listed twice`);
    contents.add(content);
  }
  return hostnames.flatMap((name) =>
    addresses.map(({ type, content }) => ({
      // Resource names must not contain "::" (the URN separator), so IPv6 colons become dashes.
      key: `${name}-${type.toLowerCase()}-${content.replace(/:/g, "-")}`,
      name,
      type,
      content,
      proxied: true as const,
      ttl: 1 as const,
    })),
  );
}

const quoted = (values: readonly string[]): string => `{${values.map((v) => JSON.stringify(v)).join(" ")}}`;
const pathStartsWith = (prefix: string): string => `starts_with(http.request.uri.path, ${JSON.stringify(prefix)})`;

/** Cache rules for the Next.js build assets, images and thumbnails, only on the given hostnames. */
export function plannedCacheRules(input: CloudflareEdgeInput): PlannedCacheRule[] {
  const hosts = `http.host in ${quoted(validatedHostnames(input))}`;
  const staticTtl = validatedTtl("staticCacheTtlSeconds", input.staticCacheTtlSeconds);
  const imageTtl = validatedTtl("imageCacheTtlSeconds", input.imageCacheTtlSeconds);
  return [
    {
      ref: "medianest_next_static",
      description: "Next.js build assets (content-hashed, immutable)",
      expression: `${hosts} and ${pathStartsWith(NEXT_STATIC_PREFIX)}`,
      // File names change with every build, so browsers may keep them as long as the edge.
      edgeTtlSeconds: staticTtl,
      browserTtlSeconds: staticTtl,
    },
    {
      ref: "medianest_images",
      description: "Images outside the API",
      expression: `${hosts} and http.request.uri.path.extension in ${quoted(IMAGE_EXTENSIONS)} and not ${pathStartsWith(API_PREFIX)}`,
      edgeTtlSeconds: imageTtl,
      browserTtlSeconds: imageTtl,
    },
    {
      ref: "medianest_thumbnails",
      description: "Generated thumbnails (the only cached API path)",
      expression: `${hosts} and (${THUMBNAIL_PREFIXES.map(pathStartsWith).join(" or ")})`,
      edgeTtlSeconds: imageTtl,
      browserTtlSeconds: imageTtl,
    },
  ];
}
