import { ResultAsync, err, errAsync, ok, safeTry, type Result } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../core/context.js";
import { VolkitError, toVolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { BackupIdSchema } from "./backup-keys.js";
import { loadChain, loadManifest } from "./catalog.js";
import { ChunkResolver } from "./chunk-resolver.js";
import { checkKeyFits, deriveKeys, type DerivedKeys, type EncryptionKey } from "./encryption.js";
import type { BackupManifest, ChunkEntry } from "./manifest.js";
import type { BackupRepository } from "./repository.js";
import { defaultThreads, startJobRunner } from "./worker-pool.js";

/** The plain (validated) options of {@link verifyBackup}. */
export const VerifyOptionsSchema = z.object({
  /** Worker threads (default one per core, at most 8; 0 = this thread). */
  threads: z.number().int().min(0).max(64).optional(),
  /** Chunks checked at once (default 2 per thread + 2). */
  inFlight: z.number().int().min(1).max(256).optional(),
  /** Stop listing problems after this many (default 100). */
  maxProblems: z.number().int().min(1).max(100_000).default(100),
});

/** Options of {@link verifyBackup}. */
export interface VerifyOptions extends BackupRunOptions, z.input<typeof VerifyOptionsSchema> {
  /** The key of an encrypted backup; without it only the stored bytes can be checked. */
  readonly encryptionKey?: EncryptionKey;
}

/** One problem found by {@link verifyBackup}. */
export interface VerifyProblem {
  /** Backup owning the bad object. */
  readonly backupId: string;
  /** Chunk concerned, when a chunk. */
  readonly chunk?: number;
  /** Object key. */
  readonly object?: string;
  /** What is wrong (`missing`, `stored-digest`, `content-digest`, `decrypt`, `decompress`, `size`). */
  readonly reason: string;
  /** Human-readable description. */
  readonly message: string;
}

/** What {@link verifyBackup} checked. */
export interface VerifyReport {
  /** The backup. */
  readonly backupId: string;
  /**
   * `content`: every chunk was rebuilt through its chain and its digest checked (and every digest
   * segment decoded); `stored`: encrypted backup without the key, every object's stored sha256 checked.
   */
  readonly level: "content" | "stored";
  /** Chunks checked. */
  readonly chunksChecked: number;
  /** Objects fetched and checked (an object shared along a chain counts each time it is used). */
  readonly objectsChecked: number;
  /** Stored bytes fetched. */
  readonly bytesFetched: number;
  /** Wall-clock duration. */
  readonly durationMs: number;
}

/**
 * Re-reads a backup and checks it without restoring: the manifest chain, every object the backup
 * needs (its own and its ancestors'), every chunk's digest after decoding. Problems are collected
 * (up to `maxProblems`) and reported together as `BACKUP_CORRUPT` with `details.problems`; any
 * other failure (repository unavailable, abort, timeout) ends the check with that error.
 *
 * @example
 * ```ts
 * const report = await verifyBackup(repo, "b2", { encryptionKey });
 * ```
 */
export function verifyBackup(repo: BackupRepository, backupId: string, options: VerifyOptions = {}): ResultAsync<VerifyReport, VolkitError> {
  const { encryptionKey, events: _e, logger: _l, signal: _s, deadline: _d, ...plain } = options;
  const checked = validate(BackupIdSchema, backupId, "backup id").andThen(() =>
    validate(VerifyOptionsSchema, plain, "verify options").andThen((o) => (encryptionKey === undefined ? ok(undefined) : deriveKeys(encryptionKey)).map((keys) => ({ o, keys }))),
  );
  if (checked.isErr()) return errAsync(checked.error);
  const { o, keys } = checked.value;
  const ctx = backupContext("verify", options);
  const started = Date.now();
  return safeTry(async function* () {
    const loaded = yield* loadManifest(repo, backupId, ctx);
    const chain = yield* loadChain(repo, loaded, ctx);
    const encrypted = loaded.manifest.encryption !== undefined;
    if (keys !== undefined || !encrypted) yield* checkKeyFits(backupId, loaded.manifest.encryption, keys);
    const level = encrypted && keys === undefined ? "stored" : "content";
    const outcome = yield* new ResultAsync(check(repo, loaded.manifest, chain, keys, level, o, ctx).catch((e: unknown) => err(toVolkitError(e, "INTERNAL", "backup"))));
    const report: VerifyReport = { backupId, level, ...outcome.counts, durationMs: Date.now() - started };
    if (outcome.problems.length === 0) return ok(report);
    const first = outcome.problems[0] as VerifyProblem;
    return err(
      new VolkitError("BACKUP_CORRUPT", `backup ${backupId} has ${outcome.problems.length}${outcome.problems.length >= o.maxProblems ? "+" : ""} problem(s), first: ${first.message}`, {
        source: "backup",
        details: { backupId, problems: outcome.problems, report },
      }),
    );
  });
}

interface CheckOutcome {
  readonly problems: VerifyProblem[];
  readonly counts: { chunksChecked: number; objectsChecked: number; bytesFetched: number };
}

async function check(
  repo: BackupRepository,
  manifest: BackupManifest,
  chain: ReadonlyMap<string, BackupManifest>,
  keys: DerivedKeys | undefined,
  level: "content" | "stored",
  o: z.output<typeof VerifyOptionsSchema>,
  ctx: OperationContext,
): Promise<Result<CheckOutcome, VolkitError>> {
  const threads = o.threads ?? defaultThreads();
  const jobs = startJobRunner({ chunkSize: manifest.chunkSize, blockSize: manifest.blockSize, compression: { algorithm: "none", level: 1 }, deltaMaxFraction: 0, ...(keys ? { cipherKey: keys.cipherKey, digestKey: keys.digestKey } : {}) }, threads);
  if (jobs.isErr()) return err(jobs.error);
  const resolver = new ChunkResolver(repo, chain, jobs.value, ctx);
  const problems: VerifyProblem[] = [];
  let fatal: VolkitError | undefined;
  let chunksChecked = 0;
  let bytesChecked = 0;
  const record = (r: Result<unknown, VolkitError>): void => {
    if (r.isOk()) return;
    if (r.error.code !== "BACKUP_CORRUPT") {
      fatal ??= r.error;
      return;
    }
    const d = r.error.details;
    problems.push({
      backupId: typeof d.backupId === "string" ? d.backupId : manifest.backupId,
      ...(typeof d.chunk === "number" ? { chunk: d.chunk } : {}),
      ...(typeof d.object === "string" ? { object: d.object } : {}),
      reason: typeof d.reason === "string" ? d.reason : "corrupt",
      message: r.error.message,
    });
  };
  // Digest segments first, then chunks, a bounded number at a time.
  const tasks: (() => Promise<void>)[] = [
    ...manifest.hashSegments.map((s) => async () => record(await resolver.checkStored(manifest.backupId, s.object, undefined, level === "content"))),
    ...manifest.chunks.map((c) => async () => {
      record(level === "content" ? await resolver.resolve(manifest.backupId, c.index) : await storedOnly(resolver, chain, manifest.backupId, c.index));
      chunksChecked++;
      bytesChecked += c.length;
      ctx.progress("verify", bytesChecked, manifest.sizeBytes);
    }),
  ];
  const running = new Set<Promise<void>>();
  try {
    for (const task of tasks) {
      while (running.size >= (o.inFlight ?? Math.max(2, threads * 2 + 2))) await Promise.race(running);
      fatal ??= ctx.abortError();
      if (fatal !== undefined || problems.length >= o.maxProblems) break;
      const p: Promise<void> = task().then(() => void running.delete(p));
      running.add(p);
    }
    await Promise.all(running);
  } finally {
    await jobs.value.close();
  }
  fatal ??= ctx.abortError();
  if (fatal !== undefined) return err(fatal);
  return ok({ problems: problems.slice(0, o.maxProblems), counts: { chunksChecked, objectsChecked: resolver.objectsChecked, bytesFetched: resolver.bytesFetched } });
}

/** Without the key: the stored sha256 of every object chunk `index` needs, down its delta chain. */
async function storedOnly(resolver: ChunkResolver, chain: ReadonlyMap<string, BackupManifest>, backupId: string, index: number): Promise<Result<void, VolkitError>> {
  for (let id: string | undefined = backupId; id !== undefined; ) {
    const entry: ChunkEntry | undefined = chain.get(id)?.chunks[index];
    if (entry === undefined || entry.kind === "hole") return ok(undefined);
    const r = await resolver.checkStored(id, entry.object, index, false);
    if (r.isErr()) return err(r.error);
    id = entry.kind === "delta" ? entry.base : undefined;
  }
  return ok(undefined);
}
