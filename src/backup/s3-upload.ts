import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { rollbackContext, type OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { ObjectBody } from "./repository.js";

/**
 * Uploads one object: a single `PutObject` up to the part size, a multipart upload above it. A
 * streamed body is cut into parts as it arrives, so at most one part (plus the piece being
 * copied in) is held in memory whatever the object's size. Every request carries `Content-MD5`
 * (the store rejects a body damaged on the way) and the operation's signal. A multipart upload
 * that fails or is aborted is aborted on the store too (on a context of its own), so no parts
 * are left billed and invisible.
 */

/** Where an upload goes. */
export interface UploadTarget {
  /** The client (configured with the radosgw-safe checksum settings). */
  readonly client: S3Client;
  /** Bucket. */
  readonly bucket: string;
  /** Full object key (repository prefix included). */
  readonly key: string;
  /** Part size, also the largest single PUT. */
  readonly partSize: number;
}

/** What an upload stored. */
export interface Uploaded {
  /** Bytes stored. */
  readonly size: number;
  /** The store's ETag (from `HeadObject` after a multipart upload: radosgw's `CompleteMultipartUpload` may answer an empty one). */
  readonly etag: string | undefined;
}

const md5 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("base64");

/** Uploads `body` to `target`; throws SDK errors (the repository maps them). */
export async function uploadObject(target: UploadTarget, body: ObjectBody, ctx: OperationContext): Promise<Uploaded> {
  if (body instanceof Uint8Array) {
    if (body.length <= target.partSize) return putWhole(target, body, ctx);
    return multipart(target, slices(body, target.partSize), ctx);
  }
  const parts = partsOf(body, target.partSize, ctx.signal);
  const first = await parts.next();
  if (first.done === true) return putWhole(target, new Uint8Array(0), ctx);
  if (first.value.last) return putWhole(target, first.value.bytes, ctx);
  return multipart(target, prepend(first.value.bytes, parts), ctx);
}

async function putWhole(target: UploadTarget, bytes: Uint8Array, ctx: OperationContext): Promise<Uploaded> {
  const out = await target.client.send(
    new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: bytes, ContentLength: bytes.length, ContentMD5: md5(bytes) }),
    { abortSignal: ctx.signal },
  );
  return { size: bytes.length, etag: out.ETag };
}

async function multipart(target: UploadTarget, parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, ctx: OperationContext): Promise<Uploaded> {
  const { client, bucket, key } = target;
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), { abortSignal: ctx.signal });
  const uploadId = created.UploadId;
  if (uploadId === undefined || uploadId === "") throw new VolkitError("INTERNAL", `the store answered CreateMultipartUpload for ${key} without an upload id`, { source: "s3" });
  let size = 0;
  try {
    const done: { ETag: string; PartNumber: number }[] = [];
    for await (const part of parts) {
      ctx.signal.throwIfAborted();
      const PartNumber = done.length + 1;
      const r = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: part, ContentLength: part.length, ContentMD5: md5(part) }),
        { abortSignal: ctx.signal },
      );
      if (r.ETag === undefined) throw new VolkitError("INTERNAL", `the store answered part ${PartNumber} of ${key} without an ETag`, { source: "s3" });
      done.push({ ETag: r.ETag, PartNumber });
      size += part.length;
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } }), { abortSignal: ctx.signal });
  } catch (e) {
    const rctx = rollbackContext(ctx, 60_000);
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal: rctx.signal }).catch((abortFailure: unknown) => {
      ctx.logger.warn({ bucket, key, error: abortFailure instanceof Error ? abortFailure.name : "unknown" }, "could not abort a failed multipart upload; the store's lifecycle rules must expire it");
    });
    throw e;
  }
  // The completed object as the store sees it (the Complete answer may carry an empty ETag).
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: ctx.signal });
  if (head.ContentLength !== size) {
    throw new VolkitError("BACKEND_UNAVAILABLE", `the store holds ${head.ContentLength ?? "no"} bytes for ${key} after a multipart upload of ${size}`, { source: "s3", transient: true, details: { key, size } });
  }
  return { size, etag: head.ETag };
}

/** A buffer cut in parts (views, no copies). */
function* slices(bytes: Uint8Array, partSize: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += partSize) yield bytes.subarray(at, Math.min(bytes.length, at + partSize));
}

async function* prepend(head: Uint8Array, rest: AsyncIterator<Part>): AsyncGenerator<Uint8Array> {
  yield head;
  for (let r = await rest.next(); r.done !== true; r = await rest.next()) yield r.value.bytes;
}

/** A part of a stream, and whether the stream ended with it. */
interface Part {
  readonly bytes: Uint8Array;
  readonly last: boolean;
}

/**
 * Re-cuts a stream of pieces of any size into parts of exactly `partSize` bytes (the last may be
 * shorter, never empty). A full part is handed on once the next piece shows whether more follows,
 * so the first part tells a single PUT from a multipart upload: one part and one piece in memory.
 */
async function* partsOf(body: AsyncIterable<Uint8Array>, partSize: number, signal: AbortSignal): AsyncGenerator<Part, void, undefined> {
  let part = Buffer.allocUnsafe(partSize);
  let filled = 0;
  for await (const piece of body) {
    signal.throwIfAborted();
    for (let at = 0; at < piece.length; ) {
      if (filled === partSize) {
        yield { bytes: part, last: false };
        part = Buffer.allocUnsafe(partSize);
        filled = 0;
      }
      const n = Math.min(piece.length - at, partSize - filled);
      part.set(piece.subarray(at, at + n), filled);
      filled += n;
      at += n;
    }
  }
  if (filled > 0) yield { bytes: part.subarray(0, filled), last: true };
}
