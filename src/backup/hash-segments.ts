import { type Result, err, ok } from "neverthrow";
import type { VolkitError } from "../core/errors.js";
import { DIGEST_BYTES } from "./codec.js";
import type { BackupManifest, HashSegment } from "./manifest.js";

/**
 * The 32 KiB block digests of a backup, kept out of the manifest in binary segment objects of
 * about 1 MiB (32 bytes per block, so 1 MiB covers 1 GiB of volume): the manifest stays small
 * and an incremental only holds the parent's segment it is working in.
 */

/** Target size of one segment's digests. */
const SEGMENT_BYTES = 1024 * 1024;

/** Chunks per segment for a chunk and block size. */
export function chunksPerSegment(chunkSize: number, blockSize: number): number {
  return Math.max(1, Math.floor(SEGMENT_BYTES / ((chunkSize / blockSize) * DIGEST_BYTES)));
}

/** Stores one completed segment (pack and put) and returns its manifest entry. */
export type StoreSegment = (segment: number, firstChunk: number, chunkCount: number, digests: Uint8Array) => Promise<Result<HashSegment, VolkitError>>;

/** Collects block digests of chunks finishing in any order and stores each segment once complete. */
export class SegmentWriter {
  readonly #perSegment: number;
  readonly #slot: number;
  readonly #chunkCount: number;
  readonly #store: StoreSegment;
  readonly #open = new Map<number, { data: Uint8Array; filled: number }>();
  readonly #done: HashSegment[] = [];

  /** @param chunkCount - chunks of the volume; @param store - how a complete segment is stored. */
  constructor(chunkCount: number, chunkSize: number, blockSize: number, store: StoreSegment) {
    this.#perSegment = chunksPerSegment(chunkSize, blockSize);
    this.#slot = (chunkSize / blockSize) * DIGEST_BYTES;
    this.#chunkCount = chunkCount;
    this.#store = store;
  }

  /** Records the digests of chunk `index`; stores its segment when this was the last chunk missing. */
  async add(index: number, digests: Uint8Array): Promise<Result<void, VolkitError>> {
    const segment = Math.floor(index / this.#perSegment);
    const first = segment * this.#perSegment;
    const count = Math.min(this.#perSegment, this.#chunkCount - first);
    let entry = this.#open.get(segment);
    if (entry === undefined) {
      entry = { data: new Uint8Array(count * this.#slot), filled: 0 };
      this.#open.set(segment, entry);
    }
    entry.data.set(digests.subarray(0, this.#slot), (index - first) * this.#slot);
    entry.filled++;
    if (entry.filled < count) return ok(undefined);
    this.#open.delete(segment);
    const stored = await this.#store(segment, first, count, entry.data);
    if (stored.isErr()) return err(stored.error);
    this.#done.push(stored.value);
    return ok(undefined);
  }

  /** The stored segments in chunk order (complete once every chunk was added). */
  segments(): HashSegment[] {
    return [...this.#done].sort((a, b) => a.firstChunk - b.firstChunk);
  }
}

/** Loads a segment's digests (get, check, decode). */
export type LoadSegment = (segment: HashSegment) => Promise<Result<Uint8Array, VolkitError>>;

/**
 * The parent's block digests, one segment in memory at a time (plus the one being loaded):
 * chunks are asked for in roughly increasing order.
 */
export class ParentDigests {
  readonly #segments: readonly HashSegment[];
  readonly #slot: number;
  readonly #load: LoadSegment;
  readonly #cache = new Map<number, Promise<Result<Uint8Array, VolkitError>>>();

  /** @param parent - the parent manifest; @param load - how a segment is read. */
  constructor(parent: BackupManifest, load: LoadSegment) {
    this.#segments = parent.hashSegments;
    this.#slot = (parent.chunkSize / parent.blockSize) * DIGEST_BYTES;
    this.#load = load;
  }

  /** The parent's block digests of chunk `index`. */
  async forChunk(index: number): Promise<Result<Uint8Array, VolkitError>> {
    const position = this.#find(index);
    const segment = this.#segments[position] as HashSegment;
    let pending = this.#cache.get(position);
    if (pending === undefined) {
      pending = this.#load(segment);
      this.#cache.set(position, pending);
      // Keep the two most recent segments: the window of chunks in flight spans at most two.
      for (const key of this.#cache.keys()) if (key < position - 1) this.#cache.delete(key);
    }
    const loaded = await pending;
    if (loaded.isErr()) return err(loaded.error);
    const at = (index - segment.firstChunk) * this.#slot;
    return ok(loaded.value.subarray(at, at + this.#slot));
  }

  #find(index: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#segments[mid] as HashSegment).firstChunk <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
