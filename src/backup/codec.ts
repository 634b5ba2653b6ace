import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Compression } from "./manifest.js";

/**
 * The byte-level transforms of a chunk: digests, zero detection, compression and encryption.
 * Pure functions on buffers, run inside the worker threads (and on the main thread when a caller
 * asks for no workers). Nothing here logs, and keys only ever come in as arguments.
 */

/** Bytes of a digest (sha256 and hmac-sha256). */
export const DIGEST_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Computes the digest of a buffer: sha256, or hmac-sha256 under `key`. */
export type Digester = (data: Uint8Array) => Buffer;

/** sha256 when `key` is undefined, hmac-sha256 under `key` otherwise. */
export function createDigester(key: Uint8Array | undefined): Digester {
  return key === undefined ? (data) => createHash("sha256").update(data).digest() : (data) => createHmac("sha256", key).update(data).digest();
}

/** sha256 of bytes as lower-case hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

const ZEROS = Buffer.alloc(1024 * 1024);

/** True when every byte is zero (memcmp against a zero page, 1 MiB at a time). */
export function isAllZero(data: Uint8Array): boolean {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let off = 0; off < view.length; off += ZEROS.length) {
    const end = Math.min(view.length, off + ZEROS.length);
    if (!view.subarray(off, end).equals(ZEROS.subarray(0, end - off))) return false;
  }
  return true;
}

/** The two calls volkit uses of `@mongodb-js/zstd` (1.x: napi-rs, prebuilt binaries in per-platform packages). */
export interface ZstdBinding {
  /** Compresses at `level`. */
  compress(data: Buffer, level?: number): Promise<Buffer>;
  /** Decompresses a whole frame. */
  decompress(data: Buffer): Promise<Buffer>;
}

let zstdCache: { readonly binding: ZstdBinding | undefined } | undefined;

/**
 * Loads the zstd binding once, or `undefined` when it cannot load (package or platform binary
 * missing): callers then fall back to gzip, which node:zlib always has (Node 20 has no zstd).
 */
export function loadZstd(): ZstdBinding | undefined {
  if (zstdCache === undefined) {
    let binding: ZstdBinding | undefined;
    try {
      const loaded = createRequire(import.meta.url)("@mongodb-js/zstd") as Partial<ZstdBinding>;
      binding = typeof loaded.compress === "function" && typeof loaded.decompress === "function" ? (loaded as ZstdBinding) : undefined;
    } catch {
      binding = undefined;
    }
    zstdCache = { binding };
  }
  return zstdCache.binding;
}

/** Compression asked of the engine: an algorithm (zstd needs its package) and a level. */
export interface CompressionSetting {
  /** Algorithm for new objects. */
  readonly algorithm: Compression;
  /** Level (zstd 1-19, gzip 1-9). */
  readonly level: number;
}

/**
 * Compresses `data`; keeps it as is (`none`) when compression does not save at least 1/64 of it
 * (random or already compressed data), so restores skip a useless decompression.
 */
export async function compress(data: Uint8Array, setting: CompressionSetting): Promise<{ bytes: Uint8Array; compression: Compression }> {
  if (setting.algorithm === "none" || data.length === 0) return { bytes: data, compression: "none" };
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let packed: Buffer;
  if (setting.algorithm === "zstd") {
    const zstd = loadZstd();
    if (zstd === undefined) throw new CodecError("unsupported", "zstd was requested but @mongodb-js/zstd cannot load on this host");
    packed = await zstd.compress(buffer, setting.level);
  } else {
    packed = gzipSync(buffer, { level: setting.level });
  }
  return packed.length < data.length - (data.length >> 6) ? { bytes: packed, compression: setting.algorithm } : { bytes: data, compression: "none" };
}

/** Decompresses a payload and checks it has the recorded size (a corrupt or hostile stream cannot grow past it). */
export async function decompress(bytes: Uint8Array, compression: Compression, rawSize: number): Promise<Buffer> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out: Buffer;
  try {
    switch (compression) {
      case "none":
        out = buffer;
        break;
      case "gzip":
        out = gunzipSync(buffer, { maxOutputLength: Math.max(rawSize, 1) });
        break;
      case "zstd": {
        const zstd = loadZstd();
        if (zstd === undefined) throw new CodecError("unsupported", "the object is zstd-compressed but @mongodb-js/zstd cannot load on this host");
        out = await zstd.decompress(buffer);
        break;
      }
    }
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError("decompress", `${compression} decompression failed`);
  }
  if (out.length !== rawSize) throw new CodecError("decompress", `decompressed to ${out.length} bytes, expected ${rawSize}`);
  return out;
}

/** AES-256-GCM with a random IV; the object key is the additional data, so an object cannot be moved to another key. Layout: IV ‖ ciphertext ‖ tag. */
export function encrypt(payload: Uint8Array, key: Uint8Array, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(payload), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Reverses {@link encrypt}; a wrong key, a wrong AAD or a modified byte fails authentication. */
export function decrypt(stored: Uint8Array, key: Uint8Array, aad: string): Buffer {
  if (stored.length < IV_BYTES + TAG_BYTES) throw new CodecError("decrypt", "encrypted object is too short");
  const data = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // Never the cipher's message: only "authentication failed" is meaningful here.
    throw new CodecError("decrypt", "decryption failed (wrong key or modified object)");
  }
}

/** Why a codec step failed; the engine turns it into a typed error naming the chunk. */
export type CodecFailure = "unsupported" | "decompress" | "decrypt" | "stored-digest" | "content-digest" | "size";

/** A codec failure with its reason (never carries data or keys). */
export class CodecError extends Error {
  /** What failed. */
  readonly reason: CodecFailure;
  /** @param reason - what failed; @param message - human-readable, no data. */
  constructor(reason: CodecFailure, message: string) {
    super(message);
    this.name = "CodecError";
    this.reason = reason;
  }
}
