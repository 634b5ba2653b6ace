import { createHash, randomBytes } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { backgroundContext, createOperationContext } from "../../../src/core/context.js";
import { validate } from "../../../src/core/validation.js";
import { S3RepositoryOptionsSchema } from "../../../src/backup/index.js";
import { s3Error } from "../../../src/backup/s3-errors.js";
import { uploadObject } from "../../../src/backup/s3-upload.js";

const MiB = 1024 * 1024;
const place = { op: "get", key: "backups/b1/manifest.json", bucket: "bk" };
const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${name}: something the server said`), { name, $metadata: status === undefined ? {} : { httpStatusCode: status, requestId: "tx1" }, ...extra });

describe("S3 errors map to volkit codes", () => {
  it.each([
    [sdkError("InvalidAccessKeyId", 403), "AUTH_FAILED", false],
    [sdkError("SignatureDoesNotMatch", 403), "AUTH_FAILED", false],
    [sdkError("Unknown", 403), "AUTH_FAILED", false],
    [sdkError("RequestTimeTooSkewed", 403), "AUTH_FAILED", false],
    [sdkError("NoSuchKey", 404), "BACKUP_NOT_FOUND", false],
    [sdkError("NotFound", 404), "BACKUP_NOT_FOUND", false],
    [sdkError("NoSuchBucket", 404), "INVALID_CONFIG", false],
    [sdkError("QuotaExceeded", 403), "INSUFFICIENT_CAPACITY", false],
    [sdkError("InsufficientStorage", 507), "INSUFFICIENT_CAPACITY", false],
    [sdkError("SlowDown", 503), "BACKEND_UNAVAILABLE", true],
    [sdkError("InternalError", 500), "BACKEND_UNAVAILABLE", true],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "BACKEND_UNAVAILABLE", true],
    [Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }), "BACKEND_UNAVAILABLE", true],
    [sdkError("TimeoutError"), "BACKEND_UNAVAILABLE", true],
    [sdkError("InvalidArgument", 400), "INTERNAL", false],
  ] as const)("%s → %s", (e, code, transient) => {
    const mapped = s3Error(e, place, backgroundContext());
    expect([mapped.code, mapped.transient]).toEqual([code, transient]);
    // Only the error's name travels, never the store's text.
    expect(mapped.message).not.toContain("something the server said");
    expect(mapped.details).toMatchObject({ op: "get", bucket: "bk" });
  });

  it("a 404 without a key is the bucket missing", () => {
    expect(s3Error(sdkError("NotFound", 404), { op: "open", bucket: "bk" }, backgroundContext()).code).toBe("INVALID_CONFIG");
  });

  it("the caller's abort or deadline wins over what the SDK threw", () => {
    const ac = new AbortController();
    ac.abort();
    const ctx = createOperationContext({ operation: "t", source: "t", signal: ac.signal });
    expect(s3Error(sdkError("AbortError"), place, ctx).code).toBe("ABORTED");
    const late = createOperationContext({ operation: "t", source: "t", deadline: Date.now() - 1 });
    expect(s3Error(sdkError("AbortError"), place, late).code).toBe("TIMEOUT");
  });
});

describe("S3 repository options", () => {
  const base = { endpoint: "http://127.0.0.1:7480", bucket: "backups", accessKeyId: "AKIAEXAMPLE123", secretAccessKey: "s3cr3t-Very-Secret-Key-0001" };

  it("accepts a radosgw-style config and applies defaults", () => {
    const o = validate(S3RepositoryOptionsSchema, base, "o")._unsafeUnwrap();
    expect(o).toMatchObject({ prefix: "", region: "us-east-1", partSizeBytes: 16 * MiB, maxAttempts: 3, createBucket: false });
  });

  it.each([
    [{ bucket: "Upper" }, "bucket"],
    [{ bucket: "a..b" }, "bucket"],
    [{ bucket: "ab" }, "bucket"],
    [{ endpoint: "ftp://127.0.0.1" }, "endpoint"],
    [{ endpoint: "http://user:pw@127.0.0.1:7480" }, "endpoint"],
    [{ prefix: "no-slash" }, "prefix"],
    [{ prefix: "../x/" }, "prefix"],
    [{ partSizeBytes: MiB }, "partSizeBytes"],
  ])("refuses %j", (patch, field) => {
    const r = validate(S3RepositoryOptionsSchema, { ...base, ...patch }, "S3 options", "INVALID_CONFIG");
    expect(r.isErr() && r.error.code).toBe("INVALID_CONFIG");
    expect(r.isErr() && r.error.message).toContain(field);
    expect(r.isErr() && JSON.stringify(r.error.toJSON())).not.toContain(base.secretAccessKey);
  });

  it("registers the secret key: no error mentioning it shows it", () => {
    validate(S3RepositoryOptionsSchema, base, "o")._unsafeUnwrap();
    const e = s3Error(Object.assign(new Error("x"), { name: `Weird${base.secretAccessKey}` }), place, backgroundContext());
    expect(JSON.stringify(e.toJSON())).not.toContain(base.secretAccessKey);
    expect(e.message).toContain("***");
  });
});

/** A stand-in for S3Client.send recording every command (name and input). */
function fakeClient(failOn?: (name: string, input: Record<string, unknown>) => boolean): { client: S3Client; calls: { name: string; input: Record<string, unknown> }[] } {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  let size = 0;
  const client = {
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, "");
      calls.push({ name, input: command.input });
      if (failOn?.(name, command.input)) return Promise.reject(Object.assign(new Error("boom"), { name: "InternalError", $metadata: { httpStatusCode: 500 } }));
      if (name === "CreateMultipartUpload") return Promise.resolve({ UploadId: "u1" });
      if (name === "UploadPart") {
        size += (command.input.Body as Uint8Array).length;
        return Promise.resolve({ ETag: `"e${String(command.input.PartNumber)}"` });
      }
      if (name === "CompleteMultipartUpload") return Promise.resolve({ ETag: "" });
      if (name === "HeadObject") return Promise.resolve({ ContentLength: size, ETag: '"abc-3"' });
      return Promise.resolve({ ETag: '"x"' });
    },
  } as unknown as S3Client;
  return { client, calls };
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield await Promise.resolve(data.subarray(at, at + size));
}

describe("uploads", () => {
  const target = (client: S3Client) => ({ client, bucket: "bk", key: "p/k", partSize: 5 * MiB });

  it("puts a body up to the part size in one request with its Content-MD5", async () => {
    const { client, calls } = fakeClient();
    const data = randomBytes(5 * MiB);
    expect(await uploadObject(target(client), data, backgroundContext())).toEqual({ size: 5 * MiB, etag: '"x"' });
    expect(calls.map((c) => c.name)).toEqual(["PutObject"]);
    expect(calls[0]?.input.ContentMD5).toBe(createHash("md5").update(data).digest("base64"));
  });

  it("a stream of exactly one part is one PutObject; one byte more is a multipart upload", async () => {
    const one = fakeClient();
    await uploadObject(target(one.client), pieces(randomBytes(5 * MiB), 700_000), backgroundContext());
    expect(one.calls.map((c) => c.name)).toEqual(["PutObject"]);
    const two = fakeClient();
    expect((await uploadObject(target(two.client), pieces(randomBytes(5 * MiB + 1), 700_000), backgroundContext())).size).toBe(5 * MiB + 1);
    expect(two.calls.map((c) => c.name)).toEqual(["CreateMultipartUpload", "UploadPart", "UploadPart", "CompleteMultipartUpload", "HeadObject"]);
  });

  it("cuts a 13 MiB stream in 5+5+3 MiB parts and takes the ETag from HeadObject (empty on Complete)", async () => {
    const { client, calls } = fakeClient();
    const data = randomBytes(13 * MiB);
    const out = await uploadObject(target(client), pieces(data, MiB), backgroundContext());
    expect(out).toEqual({ size: 13 * MiB, etag: '"abc-3"' });
    const parts = calls.filter((c) => c.name === "UploadPart").map((c) => c.input.Body as Uint8Array);
    expect(parts.map((p) => p.length)).toEqual([5 * MiB, 5 * MiB, 3 * MiB]);
    expect(createHash("sha256").update(Buffer.concat(parts)).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    expect(calls.find((c) => c.name === "CompleteMultipartUpload")?.input.MultipartUpload).toEqual({ Parts: [1, 2, 3].map((n) => ({ ETag: `"e${n}"`, PartNumber: n })) });
  });

  it("aborts the multipart upload on the store when a part fails", async () => {
    const { client, calls } = fakeClient((name, input) => name === "UploadPart" && input.PartNumber === 2);
    await expect(uploadObject(target(client), randomBytes(12 * MiB), backgroundContext())).rejects.toMatchObject({ name: "InternalError" });
    expect(calls.map((c) => c.name)).toEqual(["CreateMultipartUpload", "UploadPart", "UploadPart", "AbortMultipartUpload"]);
    expect(calls.at(-1)?.input).toMatchObject({ UploadId: "u1", Key: "p/k" });
  });
});
