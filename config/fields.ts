// Validators of single config fields (addresses, paths, labels, images), shared by the
// schema's shape. Each message says what the value must look like.
import { isIP } from "node:net";
import { z } from "zod";
import { IMAGE_REFERENCE, unpinnedReason } from "../domain/images";

export const ipAddress = z.string().refine((value) => isIP(value) !== 0, { error: (issue) => `"${String(issue.input)}" is not a valid IP address` });
export const hostnameOrIp = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:]+$/, "must be a hostname or an IP address");
export const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, "must be an absolute path of letters, digits, '.', '_', '-' and '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");
export const labelKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "label keys are letters, digits, '.', '_' and '-'");
export const labelValue = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "label values are letters, digits, '.', '_' and '-'");

/** A pinned image: a tag other than "latest", or a digest (domain/images unpinnedReason). */
export const pinnedImage = z
  .string()
  .regex(IMAGE_REFERENCE, "is not an image reference")
  .superRefine((ref, ctx) => {
    const reason = unpinnedReason(ref);
    if (reason === "no-tag") ctx.addIssue({ code: "custom", message: "must be pinned: add a tag or @sha256 digest" });
    if (reason === "latest") ctx.addIssue({ code: "custom", message: 'must not use the moving "latest" tag; pin a version or a digest' });
  });

export const replicas = (fallback: number, min = 1) => z.number().int().min(min).max(50).default(fallback);

export const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not a valid bucket name");
