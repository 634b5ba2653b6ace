/**
 * An S3 endpoint for host tests: radosgw on the shared single-node Ceph cluster
 * (test/host/ceph.global-setup.ts), a user of its own, and an AWS SDK v3 client with the settings
 * this Pacific gateway needs:
 *
 * - `forcePathStyle: true` (virtual-host style would resolve `<bucket>.127.0.0.1`);
 * - `requestChecksumCalculation`/`responseChecksumValidation: "WHEN_REQUIRED"` (by default a
 *   streamed PutObject is sent aws-chunked with a trailing checksum, which radosgw 16.2 refuses).
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { CephCluster, S3User } from "../../src/testing/ceph-cluster.js";

/** The SDK settings radosgw 16.2 needs (see the file comment). */
export function radosgwS3Config(endpoint: string, user: S3User): S3ClientConfig {
  return {
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}

/** A running S3 endpoint with a user and a client (destroy the client when done). */
export interface RadosgwS3 {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** The S3 user `uid` (created, or the existing one's keys). */
  readonly user: S3User;
  /** An SDK client for that user with {@link radosgwS3Config}. */
  readonly s3: S3Client;
}

/** Starts radosgw on `cluster` (idempotent), creates S3 user `uid` and a client for it. */
export async function startRadosgwS3(cluster: CephCluster, uid: string): Promise<RadosgwS3> {
  const endpoint = await cluster.startRadosgw();
  const user = await cluster.createS3User(uid);
  return { endpoint, user, s3: new S3Client(radosgwS3Config(endpoint, user)) };
}
