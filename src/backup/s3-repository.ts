import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { ObjectKeySchema, ObjectPrefixSchema } from "./backup-keys.js";
import type { BackupRepository, ListOptions, ListPage, ObjectBody, ObjectInfo, RepositoryDescriptor } from "./repository.js";
import { s3Error } from "./s3-errors.js";
import { S3RepositoryOptionsSchema, type ParsedS3RepositoryOptions, type S3RepositoryOptions } from "./s3-options.js";
import { uploadObject } from "./s3-upload.js";

const PAGE_MAX = 1000;

/**
 * Opens a {@link BackupRepository} in an S3 bucket (AWS, or any S3-compatible store: Ceph's
 * radosgw, MinIO) through the AWS SDK v3, and checks the bucket answers with these credentials
 * (creating it when `createBucket`). A refused key is `AUTH_FAILED`, a missing bucket
 * `INVALID_CONFIG`, an unreachable endpoint `BACKEND_UNAVAILABLE` (transient).
 *
 * The client is set up for S3-compatible stores as well as AWS: checksums only where an
 * operation requires one (`requestChecksumCalculation`/`responseChecksumValidation`
 * `WHEN_REQUIRED`: radosgw 16 refuses the SDK's default aws-chunked uploads with 411), every body
 * sent with `Content-MD5`, path-style URLs when an endpoint is given. Objects above the part
 * size go up in parts (see `s3-upload.ts`); every request carries the operation's signal, so an
 * abort or a deadline ends it at once. The secret key is registered as a secret when the options
 * are validated and appears in no error, log line or event.
 *
 * @example
 * ```ts
 * const repo = await createS3BackupRepository({
 *   endpoint: "http://127.0.0.1:7480", bucket: "backups", accessKeyId, secretAccessKey,
 * });
 * ```
 */
export function createS3BackupRepository(options: S3RepositoryOptions, run: BackupRunOptions = {}): ResultAsync<BackupRepository, VolkitError> {
  const checked = validate(S3RepositoryOptionsSchema, options, "S3 backup repository options", "INVALID_CONFIG");
  if (checked.isErr()) return errAsync(checked.error);
  const repo = new S3Repository(checked.value);
  const ctx = backupContext("openRepository", run);
  return repo.open(ctx).orElse((e) => repo.close(ctx).andThen(() => errAsync(e)));
}

/** The S3 repository; open it with {@link createS3BackupRepository}. */
export class S3Repository implements BackupRepository {
  /** {@inheritDoc BackupRepository.description} */
  readonly description: string;
  /** {@inheritDoc BackupRepository.descriptor} */
  readonly descriptor: RepositoryDescriptor;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #createBucket: boolean;
  #closed = false;

  /** Prefer {@link createS3BackupRepository}, which validates the options and checks the bucket. */
  constructor(o: ParsedS3RepositoryOptions) {
    this.#bucket = o.bucket;
    this.#prefix = o.prefix;
    this.#partSize = o.partSizeBytes;
    this.#createBucket = o.createBucket;
    this.description = `s3 ${o.endpoint ?? `aws ${o.region}`}/${o.bucket}${o.prefix === "" ? "" : `/${o.prefix.slice(0, -1)}`}`;
    this.descriptor = { type: "s3", ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }), region: o.region, bucket: o.bucket, prefix: o.prefix };
    this.#client = new S3Client({
      ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
      region: o.region,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, ...(o.sessionToken === undefined ? {} : { sessionToken: o.sessionToken }) },
      forcePathStyle: o.forcePathStyle ?? o.endpoint !== undefined,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: o.maxAttempts,
      requestHandler: { connectionTimeout: o.connectTimeoutMs, requestTimeout: o.requestTimeoutMs, throwOnRequestTimeout: true },
    });
  }

  /** Checks the bucket answers (creates it when asked to and missing). */
  open(ctx: OperationContext): ResultAsync<BackupRepository, VolkitError> {
    const head = this.#call("open", undefined, ctx, () => this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), { abortSignal: ctx.signal }));
    return head
      .map(() => undefined)
      .orElse((e) => {
        if (e.code !== "INVALID_CONFIG" || !this.#createBucket) return errAsync(e);
        return this.#call("createBucket", undefined, ctx, () => this.#client.send(new CreateBucketCommand({ Bucket: this.#bucket }), { abortSignal: ctx.signal })).map(() => undefined);
      })
      .map(() => this as BackupRepository);
  }

  /** {@inheritDoc BackupRepository.put} */
  put(key: string, body: ObjectBody, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError> {
    return this.#keyed("put", key, ctx, (full) =>
      uploadObject({ client: this.#client, bucket: this.#bucket, key: full, partSize: this.#partSize }, body, ctx).then((u) => ({ key, size: u.size, modifiedAt: Date.now() })),
    );
  }

  /** {@inheritDoc BackupRepository.get} */
  get(key: string, ctx: OperationContext): ResultAsync<Uint8Array, VolkitError> {
    return this.#keyed("get", key, ctx, async (full) => {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: full }), { abortSignal: ctx.signal });
      return (await out.Body?.transformToByteArray()) ?? new Uint8Array(0);
    });
  }

  /** {@inheritDoc BackupRepository.read} */
  read(key: string, onData: (piece: Uint8Array) => void | Promise<void>, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError> {
    return this.#keyed("read", key, ctx, async (full) => {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: full }), { abortSignal: ctx.signal });
      const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
      let size = 0;
      try {
        if (body !== undefined) {
          for await (const piece of body) {
            ctx.signal.throwIfAborted();
            size += piece.length;
            await onData(piece);
          }
        }
      } finally {
        body?.destroy?.();
      }
      return { key, size, modifiedAt: out.LastModified?.getTime() ?? Date.now() };
    });
  }

  /** {@inheritDoc BackupRepository.head} */
  head(key: string, ctx: OperationContext): ResultAsync<ObjectInfo | undefined, VolkitError> {
    return this.#keyed("head", key, ctx, (full) => this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: full }), { abortSignal: ctx.signal }))
      .map((out): ObjectInfo | undefined => ({ key, size: out.ContentLength ?? 0, modifiedAt: out.LastModified?.getTime() ?? 0 }))
      .orElse((e) => (e.code === "BACKUP_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
  }

  /**
   * One page of the objects under `prefix` (S3's ListObjectsV2). Keys under the prefix that are
   * not repository keys (hidden or foreign names) are skipped; the cursor is the store's
   * continuation token.
   */
  list(prefix: string, options: ListOptions, ctx: OperationContext): ResultAsync<ListPage, VolkitError> {
    const checked = validate(ObjectPrefixSchema, prefix, "object prefix");
    if (checked.isErr()) return errAsync(checked.error);
    const limit = Math.max(1, Math.min(options.limit ?? PAGE_MAX, PAGE_MAX));
    return this.#call("list", prefix, ctx, async () => {
      const out = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix + prefix,
          MaxKeys: limit,
          ...(options.delimiter === undefined ? {} : { Delimiter: options.delimiter }),
          ...(options.cursor === undefined ? {} : { ContinuationToken: options.cursor }),
        }),
        { abortSignal: ctx.signal },
      );
      const objects: ObjectInfo[] = [];
      for (const o of out.Contents ?? []) {
        const key = o.Key?.slice(this.#prefix.length);
        if (key === undefined || !o.Key?.startsWith(this.#prefix) || !ObjectKeySchema.safeParse(key).success) continue;
        objects.push({ key, size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 });
      }
      const prefixes = (out.CommonPrefixes ?? []).flatMap((p) => (p.Prefix?.startsWith(this.#prefix) === true ? [p.Prefix.slice(this.#prefix.length)] : [])).filter((p) => ObjectPrefixSchema.safeParse(p).success);
      const next = out.IsTruncated === true ? out.NextContinuationToken : undefined;
      return { objects, prefixes, ...(next === undefined || next === "" ? {} : { next }) };
    });
  }

  /** Nothing to do: a PUT (or a completed multipart upload) is durable when it returns. */
  flush(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    return okAsync(undefined);
  }

  /** {@inheritDoc BackupRepository.delete} */
  delete(keys: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    for (const key of keys) {
      const checked = validate(ObjectKeySchema, key, "object key");
      if (checked.isErr()) return errAsync(checked.error);
    }
    return this.#call("delete", keys[0], ctx, async () => {
      for (let at = 0; at < keys.length; at += PAGE_MAX) {
        const batch = keys.slice(at, at + PAGE_MAX);
        const out = await this.#client.send(
          new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch.map((k) => ({ Key: this.#prefix + k })), Quiet: true } }),
          { abortSignal: ctx.signal },
        );
        // A missing key is not an error (deletes are retried); anything else is.
        const failed = (out.Errors ?? []).find((e) => e.Code !== "NoSuchKey");
        if (failed !== undefined) throw Object.assign(new Error("delete refused"), { name: failed.Code ?? "DeleteFailed", $metadata: { httpStatusCode: failed.Code === "AccessDenied" ? 403 : undefined } });
      }
    });
  }

  /** {@inheritDoc BackupRepository.close} */
  close(_ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.destroy();
    }
    return okAsync(undefined);
  }

  #keyed<T>(op: string, key: string, ctx: OperationContext, fn: (fullKey: string) => Promise<T>): ResultAsync<T, VolkitError> {
    const checked = validate(ObjectKeySchema, key, "object key");
    if (checked.isErr()) return errAsync(checked.error);
    return this.#call(op, key, ctx, () => fn(this.#prefix + key));
  }

  #call<T>(op: string, key: string | undefined, ctx: OperationContext, fn: () => Promise<T>): ResultAsync<T, VolkitError> {
    const aborted = ctx.abortError();
    if (aborted) return errAsync(aborted);
    const place = { op, bucket: this.#bucket, ...(key === undefined ? {} : { key }) };
    return ResultAsync.fromPromise((async () => fn())(), (e) => s3Error(e, place, ctx));
  }
}
