// Object storage: the internal MinIO service (media path as its data) with its
// buckets, backup versioning and lifecycle, and least-privilege users, through a
// minio.Provider; or an external S3/MinIO endpoint, provisioned elsewhere, for which
// nothing is created here. What to create is the plan's storage section.
import * as docker from "@pulumi/docker";
import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { SecretName } from "../topology/services";
import { BUCKET_KEYS, type BucketKey, type StoragePlan } from "../topology/stack-plan";
import { SwarmService, type SwarmServiceRefs } from "./swarm-service";

export interface ObjectStorageArgs {
  readonly plan: StoragePlan;
  readonly provider: docker.Provider;
  readonly refs: SwarmServiceRefs;
  /** MinIO's root password (a declared secret); the root user is created here. */
  readonly rootPassword?: pulumi.Output<string>;
  /** The minio provider talks through Traefik. */
  readonly edgeReady: pulumi.Input<pulumi.Resource>[];
}

export class ObjectStorage extends pulumi.ComponentResource {
  /** Resources the app and backups must wait for (buckets, users). */
  readonly ready: pulumi.Resource[];
  readonly buckets: pulumi.Output<Record<BucketKey, string>>;
  /** Values of the secrets this component decides: the root user and each user's key pair. */
  readonly secretValues: ReadonlyMap<SecretName, pulumi.Output<string>>;

  constructor(name: string, args: ObjectStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("medianest:storage:ObjectStorage", name, {}, opts);
    const { plan } = args;
    this.buckets = pulumi.output({ ...plan.buckets });
    if (plan.mode === "external") {
      this.ready = [];
      this.secretValues = new Map();
      this.registerOutputs({ buckets: this.buckets });
      return;
    }
    if (!args.rootPassword) throw new pulumi.ResourceError("internal S3 needs the minio-root-password secret", this);

    const rootUser = new random.RandomPassword("minio-root-user", { length: 16, special: false, upper: false }, { parent: this });
    const service = new SwarmService("minio", { ...args.refs, spec: plan.minio, provider: args.provider }, { parent: this });
    const provider = new minio.Provider(
      "minio",
      {
        minioServer: plan.adminAddress,
        minioUser: pulumi.secret(rootUser.result),
        minioPassword: args.rootPassword,
        minioSsl: true,
        // The edge answers an IP address with its default certificate; the route only admits
        // the management networks and the cluster.
        minioInsecure: true,
      },
      { parent: this, dependsOn: [service, ...args.edgeReady] },
    );
    const inMinio = { parent: this, provider };

    const buckets = Object.fromEntries(
      BUCKET_KEYS.map((key) => [
        key,
        // Private ACL and no bucket policy: nothing is anonymous.
        new minio.S3Bucket(key, { bucket: plan.buckets[key], acl: "private", forceDestroy: false }, inMinio),
      ]),
    ) as Record<BucketKey, minio.S3Bucket>;
    const versioning = new minio.S3BucketVersioning(
      "backups-versioning",
      { bucket: buckets.backups.bucket, versioningConfiguration: { status: "Enabled" } },
      inMinio,
    );
    const lifecycle = new minio.IlmPolicy(
      "backups-retention",
      {
        bucket: buckets.backups.bucket,
        // No age-based expiry of current objects: a backup outage would age out every good
        // copy. The uploader prunes by retention_victims (newest backup.keepLast kept),
        // which in this versioned bucket hides a dump behind a delete marker; these rules
        // then expire the hidden version after backup.retentionDays and drop delete markers
        // left with no version behind them. terraform-provider-minio v1.20.1
        // (resource_minio_ilm_policy.go) has no NewerNoncurrentVersions, so a count cannot
        // be a lifecycle rule. No `status`: it is computed-only there (always "Enabled");
        // setting it is rejected by the bridge as an unconfigurable attribute.
        rules: [
          { id: "expire-pruned-backups", noncurrentVersionExpirationDays: plan.retentionDays },
          { id: "drop-expired-delete-markers", expiration: "DeleteMarker" },
        ],
      },
      { ...inMinio, dependsOn: [versioning] },
    );

    const secretValues = new Map<SecretName, pulumi.Output<string>>([["minio-root-user", rootUser.result]]);
    const attachments = plan.users.map((user) => {
      const secret = new random.RandomPassword(`${user.id}-secret`, { length: 40, special: false }, { parent: this });
      const iamUser = new minio.IamUser(user.id, { name: user.name, secret: secret.result, forceDestroy: true }, inMinio);
      const iamPolicy = new minio.IamPolicy(user.id, { name: `${user.name}-policy`, policy: JSON.stringify(user.policy) }, inMinio);
      secretValues.set(user.accessKeySecret, iamUser.name);
      secretValues.set(user.secretKeySecret, secret.result);
      return new minio.IamUserPolicyAttachment(
        user.id,
        { userName: iamUser.name, policyName: iamPolicy.name },
        { ...inMinio, dependsOn: user.buckets.map((key) => buckets[key]) },
      );
    });

    this.ready = [...attachments, lifecycle];
    this.secretValues = secretValues;
    this.registerOutputs({ buckets: this.buckets });
  }
}
