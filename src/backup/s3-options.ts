import { z } from "zod";
import { hasControlChar, secretString } from "../core/validation.js";
import { ObjectPrefixSchema } from "./backup-keys.js";

const MiB = 1024 * 1024;

/** S3's smallest part (all but the last) of a multipart upload. */
export const S3_MIN_PART_BYTES = 5 * MiB;

/**
 * Options of `createS3BackupRepository`. The secret key (and session token) are registered as
 * secrets when validated: they never appear in an error, a log line or an event.
 */
export const S3RepositoryOptionsSchema = z.object({
  /**
   * Endpoint URL of an S3-compatible store (`http://127.0.0.1:7480` for radosgw, MinIO…). Omit it
   * for AWS itself (the SDK derives the endpoint from the region).
   */
  endpoint: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
    .refine((u) => !hasControlChar(u) && new URL(u).username === "" && new URL(u).password === "", "must not hold credentials or control characters")
    .optional()
    .meta({ title: "Endpoint", description: "URL of the S3-compatible store; omit for AWS." }),
  /** Bucket holding the repository (S3's naming rules: 3-63 of lower-case letters, digits, `.`, `-`). */
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name: 3-63 lower-case letters, digits, '.' or '-'")
    .refine((b) => !b.includes(".."), "must not contain '..'")
    .meta({ title: "Bucket" }),
  /** Key prefix of the repository inside the bucket (`""` or segments ending with `/`, default `""`). */
  prefix: ObjectPrefixSchema.default("").meta({ title: "Prefix", description: "Key prefix inside the bucket, ending with '/'." }),
  /** Region (default `us-east-1`; radosgw and MinIO accept any). */
  region: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, "must be a region name")
    .default("us-east-1")
    .meta({ title: "Region" }),
  /** Access key id. */
  accessKeyId: z.string().regex(/^[A-Za-z0-9+/=_-]{3,128}$/, "must be an access key id").meta({ title: "Access key id" }),
  /** Secret access key (a secret: redacted everywhere). */
  secretAccessKey: secretString(z.string().min(8).max(256).regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")).meta({ title: "Secret access key" }),
  /** Session token of temporary credentials (a secret). */
  sessionToken: secretString(z.string().min(8).max(4096).regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"))
    .optional()
    .meta({ title: "Session token" }),
  /**
   * Path-style URLs (`endpoint/bucket/key`). Default true when an `endpoint` is given (radosgw,
   * MinIO: virtual-host style would need `<bucket>.<host>` to resolve), false for AWS.
   */
  forcePathStyle: z.boolean().optional().meta({ title: "Path-style URLs" }),
  /**
   * Objects bigger than this are uploaded in parts of this size (default 16 MiB, at least 5 MiB):
   * the most a streamed upload holds in memory.
   */
  partSizeBytes: z
    .number()
    .int()
    .min(S3_MIN_PART_BYTES)
    .max(512 * MiB)
    .default(16 * MiB)
    .meta({ title: "Part size (bytes)" }),
  /** Attempts per request by the SDK's retry strategy for throttling, 5xx and network errors (default 3). */
  maxAttempts: z.number().int().min(1).max(10).default(3).meta({ title: "Attempts per request" }),
  /** Time to open a connection (ms, default 10 s). */
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).meta({ title: "Connect timeout (ms)" }),
  /** Time one request may take (ms, default 5 min); a caller's deadline still bounds the whole operation. */
  requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(300_000).meta({ title: "Request timeout (ms)" }),
  /** Create the bucket when it does not exist (default false: a missing bucket is `INVALID_CONFIG`). */
  createBucket: z.boolean().default(false).meta({ title: "Create the bucket" }),
});
/** Options of `createS3BackupRepository` (input form). */
export type S3RepositoryOptions = z.input<typeof S3RepositoryOptionsSchema>;
/** Options of `createS3BackupRepository` (parsed). */
export type ParsedS3RepositoryOptions = z.output<typeof S3RepositoryOptionsSchema>;
