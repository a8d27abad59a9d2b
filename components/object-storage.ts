// Object storage: the internal MinIO service (media path as its data) with its
// buckets, backup versioning and lifecycle, and least-privilege users, through
// a minio.Provider; or an external S3/MinIO endpoint whose keys come from config.
import * as docker from "@pulumi/docker";
import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { StackConfig } from "../config/schema";
import { EDGE_LABEL } from "../domain/catalogue";
import { TRAEFIK_PORTS, edgeClusterAddresses } from "../topology/edge";
import { APP_USER, BACKUP_USER, appPolicy, backupPolicy } from "../topology/s3-policies";
import type { ServiceSpec } from "../topology/services";
import type { TopologyPlan } from "../topology/plan";
import { SwarmService, type SwarmServiceRefs } from "./swarm-service";
import type { SwarmSecrets } from "./swarm-secrets";

export interface ObjectStorageArgs {
  readonly config: StackConfig;
  readonly plan: TopologyPlan;
  readonly provider: docker.Provider;
  readonly specs: readonly ServiceSpec[];
  readonly secrets: SwarmSecrets;
  readonly refs: () => SwarmServiceRefs;
  /** The minio provider talks through Traefik. */
  readonly edgeReady: pulumi.Input<pulumi.Resource>[];
  readonly configSecrets: { readonly minioRootPassword?: pulumi.Output<string>; readonly s3AccessKey?: pulumi.Output<string>; readonly s3SecretKey?: pulumi.Output<string> };
}

/** Address the minio provider dials: the first edge node's HTTPS port (see minioAdminRoutingLabels). */
export function minioAdminAddress(config: StackConfig): string {
  const [address] = edgeClusterAddresses(config);
  if (!address) throw new Error(`no host carries ${EDGE_LABEL.key}=${EDGE_LABEL.value}: the minio provider reaches MinIO through the edge`);
  return `${address.includes(":") ? `[${address}]` : address}:${TRAEFIK_PORTS.websecure}`;
}

export class ObjectStorage extends pulumi.ComponentResource {
  /** Resources the app and backups must wait for (buckets, users). */
  readonly ready: pulumi.Resource[];
  readonly buckets: pulumi.Output<Record<"media" | "thumbnails" | "backups", string>>;

  constructor(name: string, args: ObjectStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:storage:ObjectStorage", name, {}, opts);
    const { config, secrets } = args;
    this.buckets = pulumi.output({ ...config.s3.buckets });

    if (config.s3.mode === "external") {
      const accessKey = args.configSecrets.s3AccessKey;
      const secretKey = args.configSecrets.s3SecretKey;
      if (!accessKey || !secretKey) throw new Error("medianest:s3AccessKey and medianest:s3SecretKey are required for external S3");
      // One key pair for the external endpoint: it is provisioned outside this program.
      secrets.fromValue("s3-app-access-key", accessKey);
      secrets.fromValue("s3-app-secret-key", secretKey);
      secrets.fromValue("s3-backup-access-key", accessKey);
      secrets.fromValue("s3-backup-secret-key", secretKey);
      this.ready = [];
      this.registerOutputs({ buckets: this.buckets });
      return;
    }

    const rootUser = new random.RandomPassword("minio-root-user", { length: 16, special: false, upper: false }, { parent: this });
    secrets.fromValue("minio-root-user", rootUser.result);
    secrets.generated("minio-root-password", args.configSecrets.minioRootPassword);
    const spec = args.specs.find((s) => s.role === "minio");
    if (!spec) throw new Error("internal S3 needs the minio service in the plan");
    const service = new SwarmService("minio", { ...args.refs(), spec, provider: args.provider }, { parent: this });

    const provider = new minio.Provider(
      "minio",
      {
        minioServer: minioAdminAddress(config),
        minioUser: secrets.value("minio-root-user"),
        minioPassword: secrets.value("minio-root-password"),
        minioSsl: true,
        // The edge answers an IP address with its default certificate; the route only admits
        // the management networks and the cluster.
        minioInsecure: true,
      },
      { parent: this, dependsOn: [service, ...args.edgeReady] },
    );
    const inMinio = { parent: this, provider };

    const buckets = Object.fromEntries(
      (["media", "thumbnails", "backups"] as const).map((key) => [
        key,
        // Private ACL and no bucket policy: nothing is anonymous.
        new minio.S3Bucket(key, { bucket: config.s3.buckets[key], acl: "private", forceDestroy: false }, inMinio),
      ]),
    ) as Record<"media" | "thumbnails" | "backups", minio.S3Bucket>;
    const versioning = new minio.S3BucketVersioning(
      "backups-versioning",
      { bucket: buckets.backups.bucket, versioningConfiguration: { status: "Enabled" } },
      inMinio,
    );
    const lifecycle = new minio.IlmPolicy(
      "backups-retention",
      {
        bucket: buckets.backups.bucket,
        rules: [
          {
            // No `status`: it is computed-only in terraform-provider-minio v1.20.1
            // (resource_minio_ilm_policy.go), which always writes rules as "Enabled";
            // setting it is rejected by the bridge as an unconfigurable attribute.
            id: "expire-backups",
            expiration: `${config.backup.retentionDays}d`,
            noncurrentVersionExpirationDays: config.backup.retentionDays,
          },
        ],
      },
      { ...inMinio, dependsOn: [versioning] },
    );

    const user = (id: string, userName: string, policy: object, dependsOn: pulumi.Resource[]) => {
      const secret = new random.RandomPassword(`${id}-secret`, { length: 40, special: false }, { parent: this });
      const iamUser = new minio.IamUser(id, { name: userName, secret: secret.result, forceDestroy: true }, inMinio);
      const iamPolicy = new minio.IamPolicy(id, { name: `${userName}-policy`, policy: JSON.stringify(policy) }, inMinio);
      const attachment = new minio.IamUserPolicyAttachment(
        id,
        { userName: iamUser.name, policyName: iamPolicy.name },
        { ...inMinio, dependsOn },
      );
      return { name: iamUser.name, secret: secret.result, attachment };
    };
    const app = user("app", APP_USER, appPolicy(config), [buckets.media, buckets.thumbnails]);
    const backup = user("backup", BACKUP_USER, backupPolicy(config), [buckets.backups]);
    secrets.fromValue("s3-app-access-key", app.name);
    secrets.fromValue("s3-app-secret-key", app.secret);
    secrets.fromValue("s3-backup-access-key", backup.name);
    secrets.fromValue("s3-backup-secret-key", backup.secret);

    this.ready = [app.attachment, backup.attachment, lifecycle];
    this.registerOutputs({ buckets: this.buckets });
  }
}
