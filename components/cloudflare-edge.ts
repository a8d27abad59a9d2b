// Cloudflare in front of the Traefik edge nodes: proxied DNS records, the zone's
// cache rules and its TLS/protocol settings. Everything goes through a provider
// built from the component's own API token (never the ambient default provider),
// and every resource name comes from the plan, so a rerun never replaces anything.
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { plannedCacheRules, plannedDnsRecords, ZONE_SETTINGS, type CloudflareEdgeInput } from "../topology/cloudflare-plan";

export interface CloudflareEdgeArgs {
  readonly input: CloudflareEdgeInput;
  /** A token scoped to the zone (Zone Read, DNS Write, Zone Settings Write, Cache Settings Write). */
  readonly apiToken: pulumi.Output<string>;
}

export const DNS_RECORD_COMMENT = "managed by medianest-infra";

export class CloudflareEdge extends pulumi.ComponentResource {
  readonly zoneId: pulumi.Output<string>;
  readonly recordNames: pulumi.Output<string[]>;

  constructor(name: string, args: CloudflareEdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    // Plan before super(): a bad hostname fails before even the component is registered.
    const records = plannedDnsRecords(args.input);
    const cacheRules = plannedCacheRules(args.input);
    super("medianest:edge:CloudflareEdge", name, {}, opts);

    // The provider marks apiToken secret too; wrapping here keeps it secret whatever the caller passed.
    const provider = new cloudflare.Provider(`${name}-provider`, { apiToken: pulumi.secret(args.apiToken) }, { parent: this });

    // v6 looks a zone up by name through `filter`; the provider fills `zoneId` (`id` may be empty with a filter).
    const zone = cloudflare.getZoneOutput({ filter: { name: args.input.zone } }, { parent: this, provider });
    this.zoneId = zone.zoneId;

    const dnsRecords = records.map(
      (record) =>
        new cloudflare.DnsRecord(
          `${name}-${record.key}`,
          {
            zoneId: this.zoneId,
            name: record.name,
            type: record.type,
            content: record.content,
            proxied: record.proxied,
            ttl: record.ttl,
            comment: DNS_RECORD_COMMENT,
          },
          { parent: this, provider },
        ),
    );

    // The zone's entry point for the cache-settings phase: a zone holds one, so an
    // existing (dashboard-made) one must be imported rather than created next to it.
    new cloudflare.Ruleset(
      `${name}-cache-rules`,
      {
        zoneId: this.zoneId,
        kind: "zone",
        phase: "http_request_cache_settings",
        name: "medianest cache rules",
        description: "Managed by medianest-infra",
        rules: cacheRules.map((rule) => ({
          ref: rule.ref,
          description: rule.description,
          expression: rule.expression,
          enabled: true,
          action: "set_cache_settings",
          actionParameters: {
            cache: true,
            edgeTtl: { mode: "override_origin", default: rule.edgeTtlSeconds },
            browserTtl: { mode: "override_origin", default: rule.browserTtlSeconds },
          },
        })),
      },
      { parent: this, provider },
    );

    for (const setting of ZONE_SETTINGS) {
      new cloudflare.ZoneSetting(
        `${name}-setting-${setting.settingId}`,
        { zoneId: this.zoneId, settingId: setting.settingId, value: setting.value },
        { parent: this, provider },
      );
    }

    this.recordNames = pulumi.all(dnsRecords.map((record) => record.name));
    this.registerOutputs({ zoneId: this.zoneId, recordNames: this.recordNames });
  }
}
