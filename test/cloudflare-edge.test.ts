// The Cloudflare edge: the pure plan (records, cache rules judged by a small
// evaluator of the Rules language subset they use, zone settings), then the
// component under Pulumi's mocks (zone lookup by name, every resource on the
// component's own provider, the API token secret on the wire).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { plannedCacheRules, plannedDnsRecords, ZONE_SETTINGS, type CloudflareEdgeInput, type PlannedCacheRule } from "../topology/cloudflare-plan";

const INPUT: CloudflareEdgeInput = {
  zone: "example.com",
  hostnames: ["medianest.example.com", "example.com"],
  edgeAddresses: ["203.0.113.10", "2001:DB8:0:0::10", "198.51.100.7"],
  staticCacheTtlSeconds: 31_536_000,
  imageCacheTtlSeconds: 86_400,
};

// --- A tiny evaluator for the Rules language subset the plan emits ----------
// Supports: and / or / not, parentheses, starts_with(field, "s"), field in {"a" "b"}.
// Anything else throws, so a rule drifting outside the subset fails loudly.

interface Request {
  readonly host: string;
  readonly path: string;
}

function fieldValue(field: string, request: Request): string {
  switch (field) {
    case "http.host":
      return request.host;
    case "http.request.uri.path":
      return request.path;
    case "http.request.uri.path.extension": {
      const segment = request.path.slice(request.path.lastIndexOf("/") + 1);
      const dot = segment.lastIndexOf(".");
      return dot < 0 ? "" : segment.slice(dot + 1).toLowerCase();
    }
    default:
      throw new Error(`evaluator: unknown field ${field}`);
  }
}

function tokenize(expression: string): string[] {
  const tokens: string[] = [];
  const pattern = /\s*("(?:[^"\\]|\\.)*"|[(){},]|[A-Za-z_][A-Za-z0-9_.]*)/y;
  let index = 0;
  while (index < expression.trim().length) {
    pattern.lastIndex = index;
    const match = pattern.exec(expression);
    if (!match) throw new Error(`evaluator: cannot read "${expression.slice(index)}"`);
    tokens.push(match[1]);
    index = pattern.lastIndex;
  }
  return tokens;
}

function matches(expression: string, request: Request): boolean {
  const tokens = tokenize(expression);
  let position = 0;
  const peek = (): string | undefined => tokens[position];
  const take = (expected?: string): string => {
    const token = tokens[position++];
    if (token === undefined || (expected !== undefined && token !== expected)) throw new Error(`evaluator: expected ${expected ?? "a token"}, got ${token}`);
    return token;
  };
  const stringLiteral = (): string => {
    const token = take();
    if (!token.startsWith('"')) throw new Error(`evaluator: expected a string, got ${token}`);
    return JSON.parse(token) as string;
  };
  const primary = (): boolean => {
    if (peek() === "(") {
      take("(");
      const value = orExpression();
      take(")");
      return value;
    }
    const name = take();
    if (name === "starts_with") {
      take("(");
      const field = take();
      take(",");
      const prefix = stringLiteral();
      take(")");
      return fieldValue(field, request).startsWith(prefix);
    }
    take("in");
    take("{");
    const values: string[] = [];
    while (peek() !== "}") values.push(stringLiteral());
    take("}");
    return values.includes(fieldValue(name, request));
  };
  const unary = (): boolean => {
    if (peek() === "not") {
      take("not");
      return !unary();
    }
    return primary();
  };
  const andExpression = (): boolean => {
    let value = unary();
    while (peek() === "and") {
      take("and");
      value = unary() && value;
    }
    return value;
  };
  const orExpression = (): boolean => {
    let value = andExpression();
    while (peek() === "or") {
      take("or");
      value = andExpression() || value;
    }
    return value;
  };
  const result = orExpression();
  if (position !== tokens.length) throw new Error(`evaluator: trailing tokens ${tokens.slice(position).join(" ")}`);
  return result;
}

/** The rules (by ref) that match a request: the cache phase applies every match. */
function matchingRules(rules: readonly PlannedCacheRule[], host: string, path: string): string[] {
  return rules.filter((rule) => matches(rule.expression, { host, path })).map((rule) => rule.ref);
}

describe("Cloudflare plan: DNS records", () => {
  it("plans one proxied, automatic-TTL record per hostname and edge address, typed by address family", () => {
    const records = plannedDnsRecords(INPUT);
    expect(records).toHaveLength(INPUT.hostnames.length * INPUT.edgeAddresses.length);
    for (const hostname of INPUT.hostnames) {
      const forHost = records.filter((r) => r.name === hostname);
      expect(forHost.map((r) => [r.type, r.content])).toEqual([
        ["A", "203.0.113.10"],
        ["AAAA", "2001:db8::10"],
        ["A", "198.51.100.7"],
      ]);
    }
    for (const record of records) {
      expect(record.proxied).toBe(true);
      expect(record.ttl).toBe(1);
    }
  });

  it("derives unique keys that are valid resource-name suffixes and stable across runs", () => {
    const keys = plannedDnsRecords(INPUT).map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(key).not.toContain(":");
    expect(keys).toContain("medianest.example.com-aaaa-2001-db8--10");
    expect(plannedDnsRecords({ ...INPUT }).map((r) => r.key)).toEqual(keys);
    // Another spelling of the same IPv6 address keeps the same key (no replace).
    expect(plannedDnsRecords({ ...INPUT, edgeAddresses: ["2001:db8::10"] })[0].key).toBe("medianest.example.com-aaaa-2001-db8--10");
  });

  it("rejects a hostname outside the zone, naming the hostname and the zone", () => {
    for (const outside of ["medianest.example.org", "notexample.com", "example.com.evil.net"]) {
      expect(() => plannedDnsRecords({ ...INPUT, hostnames: ["medianest.example.com", outside] })).toThrow(
        new RegExp(`${outside.replace(/\./g, "\\.")}.*example\\.com`),
      );
      expect(() => plannedCacheRules({ ...INPUT, hostnames: [outside] })).toThrow(outside);
    }
  });

  it("rejects addresses that are not IP addresses and duplicates", () => {
    expect(() => plannedDnsRecords({ ...INPUT, edgeAddresses: ["edge-1.example.com"] })).toThrow("edge-1.example.com");
    expect(() => plannedDnsRecords({ ...INPUT, edgeAddresses: ["2001:db8::10", "2001:DB8:0::10"] })).toThrow("listed twice");
    expect(() => plannedDnsRecords({ ...INPUT, hostnames: ["a.example.com", "A.example.com."] })).toThrow("listed twice");
    expect(() => plannedDnsRecords({ ...INPUT, edgeAddresses: [] })).toThrow("no edge addresses");
  });
});

describe("Cloudflare plan: cache rules", () => {
  const rules = plannedCacheRules(INPUT);
  const byRef = (ref: string): PlannedCacheRule => {
    const rule = rules.find((r) => r.ref === ref);
    if (!rule) throw new Error(`no rule ${ref}`);
    return rule;
  };

  it("caches Next.js static assets for the static TTL at the edge and in browsers", () => {
    const rule = byRef("medianest_next_static");
    expect(rule.expression).toContain('starts_with(http.request.uri.path, "/_next/static/")');
    expect([rule.edgeTtlSeconds, rule.browserTtlSeconds]).toEqual([31_536_000, 31_536_000]);
    expect(matchingRules(rules, "medianest.example.com", "/_next/static/chunks/main-abc123.js")).toEqual(["medianest_next_static"]);
  });

  it("caches every image extension for the image TTL", () => {
    const rule = byRef("medianest_images");
    expect(rule.expression).toContain('http.request.uri.path.extension in {"jpg" "jpeg" "png" "webp" "avif" "gif" "svg" "ico"}');
    expect([rule.edgeTtlSeconds, rule.browserTtlSeconds]).toEqual([86_400, 86_400]);
    for (const extension of ["jpg", "jpeg", "png", "webp", "avif", "gif", "svg", "ico", "JPG"]) {
      expect(matchingRules(rules, "medianest.example.com", `/posters/abc.${extension}`)).toEqual(["medianest_images"]);
    }
    expect(matchingRules(rules, "medianest.example.com", "/posters/abc.json")).toEqual([]);
  });

  it("caches thumbnails under both prefixes for the image TTL", () => {
    const rule = byRef("medianest_thumbnails");
    expect(rule.expression).toContain('starts_with(http.request.uri.path, "/thumbnails/")');
    expect(rule.expression).toContain('starts_with(http.request.uri.path, "/api/thumbnails/")');
    expect([rule.edgeTtlSeconds, rule.browserTtlSeconds]).toEqual([86_400, 86_400]);
    expect(matchingRules(rules, "medianest.example.com", "/api/thumbnails/42")).toEqual(["medianest_thumbnails"]);
    expect(matchingRules(rules, "example.com", "/thumbnails/42.webp")).toContain("medianest_thumbnails");
  });

  it("never matches other /api/ paths, image-looking ones included", () => {
    expect(byRef("medianest_images").expression).toContain('not starts_with(http.request.uri.path, "/api/")');
    for (const path of ["/api/", "/api/media", "/api/users/me", "/api/media/1/poster.jpg", "/api/thumbnailsx/1.png", "/api/_next/static/x.js"]) {
      expect(matchingRules(rules, "medianest.example.com", path)).toEqual([]);
    }
  });

  it("only matches the planned hostnames", () => {
    for (const rule of rules) expect(rule.expression).toMatch(/^http\.host in \{"medianest\.example\.com" "example\.com"\} and /);
    expect(matchingRules(rules, "other.example.com", "/_next/static/x.js")).toEqual([]);
    expect(matchingRules(rules, "medianest.example.org", "/thumbnails/1.png")).toEqual([]);
  });

  it("has stable, unique refs and rejects TTLs that are not positive whole seconds", () => {
    expect(rules.map((r) => r.ref)).toEqual(["medianest_next_static", "medianest_images", "medianest_thumbnails"]);
    expect(() => plannedCacheRules({ ...INPUT, staticCacheTtlSeconds: 0 })).toThrow("staticCacheTtlSeconds");
    expect(() => plannedCacheRules({ ...INPUT, imageCacheTtlSeconds: 1.5 })).toThrow("imageCacheTtlSeconds");
  });
});

describe("Cloudflare plan: zone settings", () => {
  it("sets Full (strict) TLS, HTTPS redirects, TLS 1.2+ and HTTP/3, by their API ids", () => {
    expect(Object.fromEntries(ZONE_SETTINGS.map((s) => [s.settingId, s.value]))).toEqual({
      ssl: "strict",
      always_use_https: "on",
      min_tls_version: "1.2",
      http3: "on",
    });
  });

  it("sets none of the settings Cloudflare retired (API v4 deprecations: brotli, minify, mobile_redirect, server_side_exclude)", () => {
    const retired = ["brotli", "minify", "mobile_redirect", "server_side_exclude"];
    expect(ZONE_SETTINGS.map((s) => s.settingId).filter((id) => retired.includes(id))).toEqual([]);
  });
});

// --- The component under Pulumi's mocks --------------------------------------

const ZONE_LOOKUP_TOKEN = "cloudflare:index/getZone:getZone";
const ZONE_ID = "zone-id-for-example-com";
const API_TOKEN = "cf-test-token-0001";
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly parent: string;
  /** Provider reference ("urn::id"); empty for components and providers. */
  readonly provider: string;
  /** Inputs as the mocks' newResource sees them. */
  readonly inputs: Record<string, unknown>;
  /** Inputs as sent to the engine (secrets as signature objects). */
  readonly raw: Record<string, unknown>;
}

interface Call {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
  readonly provider: string;
}

const isSecretValue = (value: unknown): boolean =>
  typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;

const outputValue = <T>(output: pulumi.Output<T>): Promise<T> => new Promise((resolve) => output.apply(resolve));

describe("CloudflareEdge under mocks", () => {
  const mocked = new Map<string, Record<string, unknown>>();
  const registered: Registered[] = [];
  const calls: Call[] = [];
  let zoneId = "";
  let recordNames: string[] = [];

  const ofType = (type: string): Registered[] => registered.filter((r) => r.type === type);
  const only = (type: string): Registered => {
    const found = ofType(type);
    expect(found, type).toHaveLength(1);
    return found[0];
  };

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          mocked.set(`${args.type}::${args.name}`, args.inputs as Record<string, unknown>);
          return { id: args.custom ? `${args.name}-id` : undefined, state: args.inputs };
        },
        call(args) {
          if (args.token !== ZONE_LOOKUP_TOKEN) throw new Error(`strict mock: unexpected call ${args.token}`);
          calls.push({ token: args.token, inputs: args.inputs as Record<string, unknown>, provider: args.provider ?? "" });
          const name = (args.inputs as { filter?: { name?: string } }).filter?.name;
          if (name !== INPUT.zone) throw new Error(`strict mock: no zone named ${name}`);
          // With a filter the v5/v6 data source fills zoneId; id may come back empty.
          return { id: "", zoneId: ZONE_ID, name };
        },
      },
      "medianest",
      "test",
      false,
    );

    interface RegisterRequest {
      getType(): string;
      getName(): string;
      getParent(): string;
      getProvider(): string;
      getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    }
    type Callback = (error: unknown, response?: { getUrn(): string }) => void;
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: Callback): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) =>
      register(req, (error, response) => {
        if (!error && response) {
          const type = req.getType();
          const name = req.getName();
          registered.push({
            type,
            name,
            urn: response.getUrn(),
            parent: req.getParent(),
            provider: req.getProvider(),
            inputs: mocked.get(`${type}::${name}`) ?? {},
            raw: req.getObject()?.toJavaScript() ?? {},
          });
        }
        cb(error, response);
      });

    // Imported only now: the mocks must be in place before the provider SDK loads.
    const { CloudflareEdge } = await import("../components/cloudflare-edge");
    const edge = new CloudflareEdge("edge", { input: INPUT, apiToken: pulumi.secret(API_TOKEN) });
    [zoneId, recordNames] = await Promise.all([outputValue(edge.zoneId), outputValue(edge.recordNames)]);

    // Component + provider + records + ruleset + settings; then a few quiet turns for strays.
    const expected = 2 + plannedDnsRecords(INPUT).length + 1 + ZONE_SETTINGS.length;
    for (let turn = 0, quiet = 0; turn < 2000 && quiet < 10; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      quiet = registered.length >= expected ? quiet + 1 : 0;
    }
  });

  const providerRef = (): string => {
    const provider = only("pulumi:providers:cloudflare");
    return `${provider.urn}::${provider.name}-id`;
  };

  it("looks the zone up by name, once, through its own provider", () => {
    expect(calls).toHaveLength(1);
    expect(calls[0].inputs).toEqual({ filter: { name: "example.com" } });
    expect(calls[0].provider).toBe(providerRef());
    expect(zoneId).toBe(ZONE_ID);
  });

  it("creates exactly the expected resources, all children of the component", () => {
    const component = only("medianest:edge:CloudflareEdge");
    const counts: Record<string, number> = {};
    for (const r of registered) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      "medianest:edge:CloudflareEdge": 1,
      "pulumi:providers:cloudflare": 1,
      "cloudflare:index/dnsRecord:DnsRecord": 6,
      "cloudflare:index/ruleset:Ruleset": 1,
      "cloudflare:index/zoneSetting:ZoneSetting": ZONE_SETTINGS.length,
    });
    for (const r of registered.filter((x) => x !== component)) expect(r.parent, r.name).toBe(component.urn);
  });

  it("puts every Cloudflare resource on the component's own provider", () => {
    const ref = providerRef();
    const resources = registered.filter((r) => r.type.startsWith("cloudflare:"));
    expect(resources.length).toBe(plannedDnsRecords(INPUT).length + 1 + ZONE_SETTINGS.length);
    for (const r of resources) expect(r.provider, r.name).toBe(ref);
  });

  it("creates the planned DNS records in the looked-up zone: proxied, automatic TTL, commented, stable names", () => {
    const records = ofType("cloudflare:index/dnsRecord:DnsRecord");
    const planned = plannedDnsRecords(INPUT);
    expect(records.map((r) => r.name).sort()).toEqual(planned.map((p) => `edge-${p.key}`).sort());
    for (const p of planned) {
      const record = records.find((r) => r.name === `edge-${p.key}`) as Registered;
      expect(record.inputs).toEqual({
        zoneId: ZONE_ID,
        name: p.name,
        type: p.type,
        content: p.content,
        proxied: true,
        ttl: 1,
        comment: "managed by medianest-infra",
      });
    }
    expect(records.map((r) => r.inputs.content).sort()).toEqual(
      ["198.51.100.7", "198.51.100.7", "2001:db8::10", "2001:db8::10", "203.0.113.10", "203.0.113.10"].sort(),
    );
    expect([...recordNames].sort()).toEqual(planned.map((p) => p.name).sort());
  });

  it("creates the zone's cache-settings ruleset with one set_cache_settings rule per planned rule", () => {
    const ruleset = only("cloudflare:index/ruleset:Ruleset");
    expect(ruleset.inputs).toMatchObject({ zoneId: ZONE_ID, kind: "zone", phase: "http_request_cache_settings" });
    expect(ruleset.inputs.accountId).toBeUndefined();
    const rules = ruleset.inputs.rules as Record<string, unknown>[];
    expect(rules.map((r) => r.ref)).toEqual(plannedCacheRules(INPUT).map((r) => r.ref));
    for (const [index, planned] of plannedCacheRules(INPUT).entries()) {
      expect(rules[index]).toMatchObject({
        ref: planned.ref,
        expression: planned.expression,
        action: "set_cache_settings",
        actionParameters: {
          cache: true,
          edgeTtl: { mode: "override_origin", default: planned.edgeTtlSeconds },
          browserTtl: { mode: "override_origin", default: planned.browserTtlSeconds },
        },
      });
    }
    expect(rules.map((r) => (r.actionParameters as { edgeTtl: { default: number } }).edgeTtl.default)).toEqual([31_536_000, 86_400, 86_400]);
  });

  it("creates one zone setting per ZONE_SETTINGS entry in the zone, named by setting id", () => {
    const settings = ofType("cloudflare:index/zoneSetting:ZoneSetting");
    expect(Object.fromEntries(settings.map((s) => [s.name, s.inputs]))).toEqual(
      Object.fromEntries(ZONE_SETTINGS.map((s) => [`edge-setting-${s.settingId}`, { zoneId: ZONE_ID, settingId: s.settingId, value: s.value }])),
    );
  });

  it("keeps the API token secret: the provider receives it only as a secret, and nothing carries it in plain text", () => {
    const provider = only("pulumi:providers:cloudflare");
    // Both the wire format and (in this SDK version) the mocks' inputs keep the secret envelope.
    for (const view of [provider.raw, provider.inputs]) {
      expect(isSecretValue(view.apiToken)).toBe(true);
      expect((view.apiToken as { value: unknown }).value).toBe(API_TOKEN);
    }
    for (const r of registered) {
      for (const view of [r.raw, r.inputs]) {
        const plain = JSON.stringify(view, (_key, value: unknown) => (isSecretValue(value) ? "[secret]" : value));
        expect(plain, r.name).not.toContain(API_TOKEN);
      }
    }
  });

  it("fails before registering anything when a hostname is outside the zone", async () => {
    const { CloudflareEdge } = await import("../components/cloudflare-edge");
    const before = registered.length;
    expect(
      () => new CloudflareEdge("bad", { input: { ...INPUT, hostnames: ["medianest.example.org"] }, apiToken: pulumi.secret(API_TOKEN) }),
    ).toThrow(/medianest\.example\.org.*example\.com/);
    await new Promise((resolve) => setImmediate(resolve));
    expect(registered.length).toBe(before);
    expect(registered.some((r) => r.name.startsWith("bad"))).toBe(false);
  });
});
