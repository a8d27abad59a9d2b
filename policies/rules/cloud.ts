// Cloudflare and MinIO rules.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asProps, asString } from "../support/views";

const DNS = "cloudflare:index/dnsRecord:DnsRecord";
const SETTING = "cloudflare:index/zoneSetting:ZoneSetting";

export const cloudflareRecords: ResourceValidationPolicy = {
  name: "cloudflare-proxied-records",
  description: "Public A/AAAA/CNAME records go through Cloudflare's proxy (CDN, hidden origin).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== DNS) return;
    const type = asString(args.props.type);
    if (["A", "AAAA", "CNAME"].includes(type ?? "") && args.props.proxied !== true && args.props.proxied !== "true") {
      reportViolation(`DNS record ${asString(args.props.name)} (${type}) is not proxied: set proxied: true`);
    }
  },
};

const TLS_ORDER = ["1.0", "1.1", "1.2", "1.3"];

export const cloudflareTls: StackValidationPolicy = {
  name: "cloudflare-tls",
  description: "A zone with records uses SSL Full (strict) and a minimum TLS version of 1.2.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    if (!args.resources.some((r) => r.type === DNS)) return;
    const settings = new Map(args.resources.filter((r) => r.type === SETTING).map((r) => [asString(r.props.settingId), asString(r.props.value)]));
    if (settings.get("ssl") !== "strict") reportViolation(`SSL mode is ${settings.get("ssl") ?? "not managed"}: set the zone's ssl setting to strict (Full (strict))`);
    const minTls = settings.get("min_tls_version");
    if (minTls === undefined || TLS_ORDER.indexOf(minTls) < TLS_ORDER.indexOf("1.2")) {
      reportViolation(`minimum TLS version is ${minTls ?? "not managed"}: set min_tls_version to 1.2 or higher`);
    }
  },
};

const BUCKET = "minio:index/s3Bucket:S3Bucket";
const BUCKET_POLICY = "minio:index/s3BucketPolicy:S3BucketPolicy";
const VERSIONING = "minio:index/s3BucketVersioning:S3BucketVersioning";

export const minioPrivateBuckets: ResourceValidationPolicy = {
  name: "minio-private-buckets",
  description: "No anonymous access to MinIO buckets: private ACLs and no bucket policy granting to everyone.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type === BUCKET) {
      const acl = asString(args.props.acl) ?? "private";
      if (acl !== "private") reportViolation(`bucket ${asString(args.props.bucket)} has ACL ${acl}: use private`);
    }
    if (args.type === BUCKET_POLICY) {
      const policy = String(args.props.policy ?? "");
      if (/"Principal"\s*:\s*("\*"|\{\s*"AWS"\s*:\s*(\[\s*)?"\*")/.test(policy)) reportViolation(`bucket policy on ${asString(args.props.bucket)} grants access to everyone: remove the anonymous principal`);
    }
  },
};

export const backupVersioning: StackValidationPolicy = {
  name: "backup-versioning",
  description: "The backups bucket keeps object versions (a deleted or overwritten dump can be recovered).",
  enforcementLevel: "mandatory",
  configSchema: { properties: { backupBucket: { type: "string", default: "backups" } } },
  validateStack: (args, reportViolation) => {
    const bucketName = args.getConfig<{ backupBucket?: string }>().backupBucket ?? "backups";
    const bucket = args.resources.find((r) => r.type === BUCKET && asString(r.props.bucket) === bucketName);
    if (!bucket) return; // external S3: not managed here
    const enabled = args.resources.some(
      (r) => r.type === VERSIONING && asString(r.props.bucket) === bucketName && asString(asProps(r.props.versioningConfiguration).status) === "Enabled",
    );
    if (!enabled) reportViolation(`bucket ${bucketName} has no versioning: add an S3BucketVersioning with status Enabled`, bucket.urn);
  },
};
