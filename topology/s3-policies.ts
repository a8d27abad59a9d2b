// Least-privilege S3 policies for the MinIO users, as data (tested, and reused
// by the policy pack). The app reads and writes media and thumbnails; the
// backup uploader may only list and add objects in the backups bucket.
import type { StackConfig } from "../config/schema";

export interface PolicyStatement {
  readonly Effect: "Allow";
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

/** Write-only: listing lets `mc mirror` skip what is already there; no read, no delete (retention is the bucket's lifecycle rule). */
export function backupPolicy(config: StackConfig): PolicyDocument {
  const bucket = config.s3.buckets.backups;
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [`arn:aws:s3:::${bucket}`] },
      { Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: [`arn:aws:s3:::${bucket}/*`] },
    ],
  };
}
