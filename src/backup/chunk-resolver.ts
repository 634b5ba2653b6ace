import { type Result, err, ok } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { jobError, missingAsCorrupt } from "./backup-errors.js";
import { sha256Hex } from "./codec.js";
import type { BackupManifest, ChunkEntry, ObjectRef } from "./manifest.js";
import type { BackupRepository } from "./repository.js";
import type { JobRunner } from "./worker-pool.js";

/**
 * Rebuilds chunk `i` of a backup from its chain: a hole is zeros, a whole chunk is its object, a
 * delta is the same chunk of its base backup (rebuilt the same way) with the stored blocks laid
 * over it. Every object's stored sha256 is checked before it is decrypted or decompressed, and the
 * rebuilt chunk's digest before it is handed back: nothing unverified reaches a target.
 */
export class ChunkResolver {
  readonly #repo: BackupRepository;
  readonly #chain: ReadonlyMap<string, BackupManifest>;
  readonly #jobs: JobRunner;
  readonly #ctx: OperationContext;
  /** Objects fetched and checked. */
  objectsChecked = 0;
  /** Stored bytes fetched. */
  bytesFetched = 0;

  /** @param chain - the backup and its ancestors (see `loadChain`). */
  constructor(repo: BackupRepository, chain: ReadonlyMap<string, BackupManifest>, jobs: JobRunner, ctx: OperationContext) {
    this.#repo = repo;
    this.#chain = chain;
    this.#jobs = jobs;
    this.#ctx = ctx;
  }

  /** The bytes of chunk `index` of `backupId`, or `undefined` for a hole (zeros). */
  async resolve(backupId: string, index: number): Promise<Result<Uint8Array | undefined, VolkitError>> {
    const entry = this.#entry(backupId, index);
    if (entry.isErr()) return err(entry.error);
    const e = entry.value;
    if (e.kind === "hole") return ok(undefined);
    let delta: { base: Uint8Array; blocks: readonly (readonly [number, number])[] } | undefined;
    if (e.kind === "delta") {
      const base = await this.resolve(e.base, index);
      if (base.isErr()) return err(base.error);
      delta = { base: base.value ?? new Uint8Array(e.length), blocks: e.blocks };
    }
    return this.#decode(backupId, index, e.object, { length: e.length, digest: e.digest, ...(delta ? { delta } : {}) });
  }

  /**
   * Fetches and checks one object without rebuilding a chunk: for verification without the key
   * (only the stored sha256 can be checked) and for digest segments.
   */
  async checkStored(backupId: string, object: ObjectRef, chunk: number | undefined, decode: boolean): Promise<Result<Uint8Array | undefined, VolkitError>> {
    const place = { backupId, ...(chunk === undefined ? {} : { chunk }), key: object.key };
    const bytes = await this.#repo.get(object.key, this.#ctx);
    if (bytes.isErr()) return err(missingAsCorrupt(bytes.error, place));
    this.objectsChecked++;
    this.bytesFetched += bytes.value.length;
    if (!decode) {
      const actual = sha256Hex(bytes.value);
      return actual === object.sha256 ? ok(undefined) : err(jobError({ ok: false, reason: "stored-digest", message: `stored bytes have sha256 ${actual}, the manifest records ${object.sha256}` }, place));
    }
    const { key, sha256, compression, rawSize } = object;
    const decoded = await this.#jobs.run({ type: "decode", key, stored: bytes.value, sha256, compression, rawSize });
    return decoded.ok ? ok(decoded.value) : err(jobError(decoded, place));
  }

  async #decode(backupId: string, index: number, object: ObjectRef, chunk: { length: number; digest: string; delta?: { base: Uint8Array; blocks: readonly (readonly [number, number])[] } }): Promise<Result<Uint8Array, VolkitError>> {
    const place = { backupId, chunk: index, key: object.key };
    const bytes = await this.#repo.get(object.key, this.#ctx);
    if (bytes.isErr()) return err(missingAsCorrupt(bytes.error, place));
    this.objectsChecked++;
    this.bytesFetched += bytes.value.length;
    const { key, sha256, compression, rawSize } = object;
    const decoded = await this.#jobs.run({ type: "decode", key, stored: bytes.value, sha256, compression, rawSize, chunk });
    return decoded.ok ? ok(decoded.value) : err(jobError(decoded, place));
  }

  #entry(backupId: string, index: number): Result<ChunkEntry, VolkitError> {
    const entry = this.#chain.get(backupId)?.chunks[index];
    return entry === undefined
      ? err(new VolkitError("BACKUP_CORRUPT", `chunk ${index} of backup ${backupId} is not in the loaded chain`, { source: "backup", details: { backupId, chunk: index } }))
      : ok(entry);
  }
}
