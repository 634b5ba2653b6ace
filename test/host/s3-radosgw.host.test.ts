/**
 * The S3 endpoint of radosgw on the shared single-node Ceph cluster (test/host/ceph.global-setup.ts)
 * with the AWS SDK v3 settings a backup repository needs against this Pacific gateway:
 *
 *   sudo npx vitest run --project host test/host/s3-radosgw.host.test.ts
 *
 * - `forcePathStyle: true` (virtual-host style would resolve `<bucket>.127.0.0.1`);
 * - `requestChecksumCalculation`/`responseChecksumValidation: "WHEN_REQUIRED"` (by default a
 *   streamed PutObject is sent aws-chunked with a trailing checksum, which radosgw 16.2 refuses).
 *
 * Needs root and ceph-mon, ceph-mgr, ceph-osd, ceph-common, radosgw.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CephCluster, S3User } from "../../src/testing/ceph-cluster.js";
import { sharedCephCluster } from "./ceph-shared.js";
import { radosgwS3Config, startRadosgwS3 } from "./s3-fixture.js";

const MiB = 1024 ** 2;
const BUCKET = `volkit-${process.pid}`;
const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");
const md5 = (data: Uint8Array): string => createHash("md5").update(data).digest("hex");

const shared = sharedCephCluster();

describe("radosgw S3 endpoint with the AWS SDK v3", () => {
  it("has its prerequisites (root, Ceph packages, radosgw; the shared cluster started)", () => {
    expect(shared instanceof Error ? shared.message : undefined).toBeUndefined();
  });
  if (shared instanceof Error) return;
  const cluster: CephCluster = shared;

  let endpoint = "";
  let user: S3User;
  let s3: S3Client;
  const body = async (key: string): Promise<Uint8Array> => {
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return (await out.Body?.transformToByteArray()) ?? new Uint8Array();
  };

  beforeAll(async () => {
    const started = performance.now();
    ({ endpoint, user, s3 } = await startRadosgwS3(cluster, `volkit-${process.pid}`));
    console.log(`[s3] radosgw answering on ${endpoint} with a user ${Math.round(performance.now() - started)} ms after start`);
  }, 120_000);

  afterAll(() => {
    s3?.destroy();
  });

  it("serves S3 on a loopback address and a port picked at run time", () => {
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(user.accessKeyId).toMatch(/^[A-Z0-9]{20}$/);
  });

  it("creates a bucket, puts, gets, lists and deletes an object (sha256 equal)", async () => {
    const started = performance.now();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const data = randomBytes(16 * MiB);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "chunks/0001", Body: data }));
    console.log(`[s3] first bucket + 16 MiB put in ${Math.round(performance.now() - started)} ms`);
    expect(put.ETag).toBe(`"${md5(data)}"`);
    expect(sha256(await body("chunks/0001"))).toBe(sha256(data));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "chunks/" }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([["chunks/0001", 16 * MiB]]);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "chunks/0001" }));
    expect((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "chunks/" }))).KeyCount).toBe(0);
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "chunks/0001" }))).rejects.toMatchObject({ name: "NoSuchKey" });
    // Deleting what is gone succeeds (S3 semantics a repository's idempotent delete relies on).
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "chunks/0001" }));
  });

  it("accepts a streamed body with a known length", async () => {
    const data = randomBytes(3 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "streamed", Body: Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), ContentLength: data.length }));
    expect(sha256(await body("streamed"))).toBe(sha256(data));
  });

  it("refuses a streamed body under the SDK's default checksum settings (the reason for WHEN_REQUIRED)", async () => {
    const defaults = new S3Client({ ...radosgwS3Config(endpoint, user), requestChecksumCalculation: "WHEN_SUPPORTED", responseChecksumValidation: "WHEN_SUPPORTED" });
    try {
      const data = randomBytes(MiB);
      await expect(
        defaults.send(new PutObjectCommand({ Bucket: BUCKET, Key: "streamed-default", Body: Readable.from([data]), ContentLength: data.length })),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 411 } });
    } finally {
      defaults.destroy();
    }
  });

  it("uploads 12 MiB in three parts; HeadObject gives the multipart ETag and size", async () => {
    const data = randomBytes(12 * MiB);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    const started = performance.now();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "multi" }));
    expect(UploadId).toBeTruthy();
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: "multi", UploadId, PartNumber: i + 1, Body: part }));
      expect(r.ETag).toBe(`"${md5(part)}"`);
      etags.push(r.ETag ?? "");
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: "multi", UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );
    console.log(`[s3] multipart 12 MiB (3 parts) in ${Math.round(performance.now() - started)} ms; CompleteMultipartUpload ETag: ${JSON.stringify(done.ETag)}`);
    // The S3 multipart ETag: md5 of the parts' binary md5s, "-<parts>". Read it from HeadObject:
    // this gateway's CompleteMultipartUpload answer may carry none.
    const expected = `"${md5(Buffer.concat(parts.map((p) => createHash("md5").update(p).digest())))}-3"`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "multi" }));
    expect([head.ContentLength, head.ETag]).toEqual([12 * MiB, expected]);
    expect(sha256(await body("multi"))).toBe(sha256(data));
  });

  it("refuses a wrong secret with SignatureDoesNotMatch (403)", async () => {
    const wrong = new S3Client(radosgwS3Config(endpoint, { ...user, secretAccessKey: randomBytes(30).toString("base64url") }));
    try {
      await expect(wrong.send(new ListObjectsV2Command({ Bucket: BUCKET }))).rejects.toMatchObject({ name: "SignatureDoesNotMatch", $metadata: { httpStatusCode: 403 } });
    } finally {
      wrong.destroy();
    }
  });

  it("deletes the objects and the bucket", async () => {
    for (const Key of ["streamed", "multi"]) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key }));
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
    await expect(s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).rejects.toMatchObject({ name: "NoSuchBucket" });
  });
});
