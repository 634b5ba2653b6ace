/**
 * Test and benchmark volumes for the backup engine: a sparse raw file with data at scattered
 * offsets (part random, part compressible log-like text, as a used filesystem image holds), and
 * scattered rewrites of a fraction of it. Offsets come from a seeded generator so runs compare.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, ftruncateSync, openSync, statSync, writeSync } from "node:fs";
import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../src/core/errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The value of a volkit result, or a thrown Error naming its code (tests only). */
export async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`volkit error ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** sha256 (hex) of a file, streamed in 4 MiB pieces (volumes are too big to read whole). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer);
  return hash.digest("hex");
}

/** Bytes the file system allocated for `path` (st_blocks × 512): how sparse a volume file is. */
export const allocatedBytes = (path: string): number => statSync(path).blocks * 512;

/** mulberry32: a small seeded generator (offsets only; data comes from the CSPRNG). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-like text: compresses about 4-6x, unlike random data. */
export function logText(bytes: number, rnd: () => number): Buffer {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = `2026-01-${String(1 + Math.floor(rnd() * 28)).padStart(2, "0")}T${String(Math.floor(rnd() * 24)).padStart(2, "0")}:${String(Math.floor(rnd() * 60)).padStart(2, "0")} host-${Math.floor(rnd() * 50)} kernel: sd 2:0:0:${Math.floor(rnd() * 8)}: [sdb] ${Math.floor(rnd() * 1e9)} 512-byte logical blocks: (${(rnd() * 100).toFixed(1)} GB)\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

/** What {@link writeSparseVolume} wrote. */
export interface VolumeLayout {
  /** Extents written, sorted. */
  readonly extents: readonly { offset: number; length: number }[];
  /** Bytes written. */
  readonly dataBytes: number;
}

/**
 * Creates `path` as a sparse file of `sizeBytes` with about `fraction` of it written in extents
 * of 64 KiB to 1 MiB at scattered 64 KiB-aligned offsets; half the extents random bytes, half text.
 */
export function writeSparseVolume(path: string, sizeBytes: number, fraction: number, seed = 11): VolumeLayout {
  const rnd = seededRandom(seed);
  const fd = openSync(path, "w");
  const extents: { offset: number; length: number }[] = [];
  let dataBytes = 0;
  try {
    ftruncateSync(fd, sizeBytes);
    const slots = sizeBytes / (64 * KiB);
    const taken = new Uint8Array(slots);
    while (dataBytes < sizeBytes * fraction) {
      const length = (1 + Math.floor(rnd() * 16)) * 64 * KiB;
      const slot = Math.floor(rnd() * (slots - length / (64 * KiB)));
      const span = length / (64 * KiB);
      if (taken.subarray(slot, slot + span).some((t) => t === 1)) continue;
      taken.fill(1, slot, slot + span);
      const data = extents.length % 2 === 0 ? randomBytes(length) : logText(length, rnd);
      writeSync(fd, data, 0, length, slot * 64 * KiB);
      extents.push({ offset: slot * 64 * KiB, length });
      dataBytes += length;
    }
  } finally {
    closeSync(fd);
  }
  return { extents: extents.sort((a, b) => a.offset - b.offset), dataBytes };
}

/**
 * Rewrites about `fraction` of the volume with random data, in 64 KiB writes at scattered 4 KiB
 * aligned offsets (so most touch three 32 KiB blocks). Returns the bytes written.
 */
export function rewriteFraction(path: string, sizeBytes: number, fraction: number, seed = 23): number {
  const rnd = seededRandom(seed);
  const fd = openSync(path, "r+");
  let written = 0;
  try {
    while (written < sizeBytes * fraction) {
      const offset = Math.floor(rnd() * ((sizeBytes - 64 * KiB) / (4 * KiB))) * 4 * KiB;
      writeSync(fd, randomBytes(64 * KiB), 0, 64 * KiB, offset);
      written += 64 * KiB;
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** Creates `path` fully written: 1 MiB pieces, alternately random and text (every byte is data). */
export function writeDenseVolume(path: string, sizeBytes: number, seed = 17): void {
  const rnd = seededRandom(seed);
  const fd = openSync(path, "w");
  try {
    for (let at = 0, i = 0; at < sizeBytes; at += 1024 * KiB, i++) {
      const length = Math.min(1024 * KiB, sizeBytes - at);
      writeSync(fd, i % 2 === 0 ? randomBytes(length) : logText(length, rnd), 0, length, at);
    }
  } finally {
    closeSync(fd);
  }
}
