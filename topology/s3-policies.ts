// Least-privilege S3 policies for the MinIO users, as data (tested, and reused
// by the policy pack). The app reads and writes media and thumbnails; the
// backup uploader may list, add and hide (delete-marker) objects in the backups bucket.
import type { StackConfig } from "../config/schema";

export interface PolicyStatement {
  readonly Effect: "Allow" | "Deny";
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
}

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}

export const APP_USER = "medianest-app";
export const BACKUP_USER = "medianest-backup";

export function appPolicy(config: StackConfig): PolicyDocument {
  const buckets = [config.s3.buckets.media, config.s3.buckets.thumbnails];
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: buckets.map((b) => `arn:aws:s3:::${b}`) },
      {
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: buckets.map((b) => `arn:aws:s3:::${b}/*`),
      },
    ],
  };
}

/**
 * No read. Listing lets `mc mirror` skip what is there and the uploader prune by the
 * retention rule (backup.keepLast, backup.retentionDays). The bucket is versioned, so its
 * DeleteObject only adds a delete marker; the data itself goes only by the bucket's
 * lifecycle. MinIO lets s3:DeleteObject remove a version too unless s3:DeleteObjectVersion
 * is explicitly denied (cmd/auth-handler.go, checkRequestAuthTypeWithVID: a DenyOnly check),
 * hence the Deny.
 */
export function backupPolicy(config: StackConfig): PolicyDocument {
  const bucket = config.s3.buckets.backups;
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [`arn:aws:s3:::${bucket}`] },
      { Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"], Resource: [`arn:aws:s3:::${bucket}/*`] },
      { Effect: "Deny", Action: ["s3:DeleteObjectVersion"], Resource: [`arn:aws:s3:::${bucket}/*`] },
    ],
  };
}
