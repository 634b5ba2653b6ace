import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { validate } from "../core/validation.js";
import { backupContext, type BackupRunOptions } from "./backup-options.js";
import { BackupIdSchema, childMarkerKey, manifestKey, volumeIndexKey } from "./backup-keys.js";
import { loadChain, loadManifest } from "./catalog.js";
import { parseManifest, sha256Hex, type BackupManifest, type LoadedManifest } from "./manifest.js";
import type { BackupRepository } from "./repository.js";

/**
 * A backup record: everything needed to use a backup on a host that has never seen it — the
 * exact manifest bytes of the backup and of each ancestor, oldest first — as one JSON document
 * (Cinder's `backup-export-record`, but self-checking: each manifest carries its sha256 and the
 * chain links are re-checked on import). The data stays in the repository.
 */
export const BackupRecordSchema = z.strictObject({
  /** Always `volkit-backup-record`. */
  format: z.literal("volkit-backup-record"),
  /** Record layout version. */
  version: z.literal(1),
  /** The backup the record is for (the last manifest). */
  backupId: BackupIdSchema,
  /** Manifests, oldest ancestor first, the backup last. */
  manifests: z
    .array(
      z.strictObject({
        /** Backup id. */
        backupId: BackupIdSchema,
        /** sha256 of the manifest bytes. */
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        /** The manifest bytes, base64. */
        manifest: z.base64(),
      }),
    )
    .min(1),
});
/** A backup record (see {@link BackupRecordSchema}). */
export type BackupRecord = z.output<typeof BackupRecordSchema>;

/**
 * Exports the record of a backup (see {@link BackupRecordSchema}) as a JSON string; the chain is
 * checked first, so a record of a broken backup is never produced.
 *
 * @example
 * ```ts
 * const record = (await exportBackupRecord(repo, "b2"))._unsafeUnwrap();
 * // on another host, with the same repository mounted:
 * await importBackupRecord(repo, record);
 * ```
 */
export function exportBackupRecord(repo: BackupRepository, backupId: string, options: BackupRunOptions = {}): ResultAsync<string, VolkitError> {
  const ctx = backupContext("exportBackupRecord", options);
  return validate(BackupIdSchema, backupId, "backup id").asyncAndThen(() =>
    loadManifest(repo, backupId, ctx).andThen((top) =>
      loadChain(repo, top, ctx).andThen(() => {
        const ids = [...top.manifest.chain, backupId];
        return ResultAsync.combine(ids.map((id) => repo.get(manifestKey(id), ctx).map((bytes) => ({ backupId: id, sha256: sha256Hex(bytes), manifest: Buffer.from(bytes).toString("base64") }))));
      }),
    ).map((manifests) => JSON.stringify({ format: "volkit-backup-record", version: 1, backupId, manifests } satisfies BackupRecord)),
  );
}

/**
 * Imports a record into a repository that holds the backup's objects (a copy of the repository,
 * or one whose manifests were lost): validates every manifest and chain link, checks that every
 * object the backup needs exists, then publishes the missing manifests, oldest first. A manifest
 * already present with the same bytes is kept; a different one is `BACKUP_EXISTS`. A record with
 * a bad shape or checksum, or whose objects are missing, is `BACKUP_CORRUPT` and nothing is
 * written. Returns the backup's manifest.
 */
export function importBackupRecord(repo: BackupRepository, record: string | BackupRecord, options: BackupRunOptions = {}): ResultAsync<BackupManifest, VolkitError> {
  const ctx = backupContext("importBackupRecord", options);
  const parsed = parseRecord(record);
  if (parsed.isErr()) return errAsync(parsed.error);
  const rec = parsed.value;
  return safeTry(async function* () {
    const loaded: LoadedManifest[] = [];
    const raw = new Map<string, Buffer>();
    for (const entry of rec.manifests) {
      const bytes = Buffer.from(entry.manifest, "base64");
      if (sha256Hex(bytes) !== entry.sha256) return err(corruptRecord(`the manifest of ${entry.backupId} does not match its sha256`));
      loaded.push(yield* parseManifest(bytes, entry.backupId));
      raw.set(manifestKey(entry.backupId), bytes);
    }
    const top = loaded[loaded.length - 1] as LoadedManifest;
    if (top.manifest.backupId !== rec.backupId) return err(corruptRecord(`the last manifest is ${top.manifest.backupId}, not ${rec.backupId}`));
    if ([...top.manifest.chain, rec.backupId].join("/") !== loaded.map((l) => l.manifest.backupId).join("/")) return err(corruptRecord("the manifests do not form the backup's chain"));
    // Check the chain links with an in-memory repository view of the record's manifests.
    yield* loadChain(recordView(repo, raw), top, ctx);
    yield* checkObjects(repo, loaded, ctx);
    for (const l of loaded) {
      const existing = yield* repo.head(manifestKey(l.manifest.backupId), ctx);
      if (existing !== undefined) {
        const current = yield* repo.get(manifestKey(l.manifest.backupId), ctx);
        if (sha256Hex(current) !== l.sha256) return err(new VolkitError("BACKUP_EXISTS", `backup ${l.manifest.backupId} exists in ${repo.description} with a different manifest`, { source: "backup", details: { backupId: l.manifest.backupId } }));
        continue;
      }
      const note = Buffer.from(JSON.stringify({ backupId: l.manifest.backupId, createdAt: l.manifest.createdAt, imported: true }));
      if (l.manifest.parent !== undefined) yield* repo.put(childMarkerKey(l.manifest.parent.backupId, l.manifest.backupId), note, ctx);
      if (l.manifest.volumeId !== undefined) yield* repo.put(volumeIndexKey(l.manifest.volumeId, Date.parse(l.manifest.createdAt), l.manifest.backupId), note, ctx);
      yield* repo.flush(ctx);
      yield* repo.put(manifestKey(l.manifest.backupId), raw.get(manifestKey(l.manifest.backupId)) ?? Buffer.alloc(0), ctx);
      yield* repo.flush(ctx);
    }
    return ok(top.manifest);
  });
}

function parseRecord(record: string | BackupRecord): ReturnType<typeof validate<typeof BackupRecordSchema>> {
  let value: unknown = record;
  if (typeof record === "string") {
    try {
      value = JSON.parse(record);
    } catch {
      return err(corruptRecord("is not valid JSON"));
    }
  }
  return validate(BackupRecordSchema, value, "backup record").mapErr((e) => new VolkitError("BACKUP_CORRUPT", e.message, { source: "backup", details: e.details }));
}

/** Every object referenced by the record's manifests must be in the repository with its recorded size. */
function checkObjects(repo: BackupRepository, manifests: readonly LoadedManifest[], ctx: Parameters<BackupRepository["head"]>[1]): ResultAsync<void, VolkitError> {
  const wanted = new Map<string, number>();
  for (const { manifest } of manifests) {
    for (const c of manifest.chunks) if (c.kind !== "hole") wanted.set(c.object.key, c.object.size);
    for (const s of manifest.hashSegments) wanted.set(s.object.key, s.object.size);
  }
  const keys = [...wanted.keys()];
  const step = (i: number): ResultAsync<void, VolkitError> => {
    if (i >= keys.length) return okAsync(undefined);
    const key = keys[i] as string;
    return repo.head(key, ctx).andThen((info) => {
      if (info === undefined) return errAsync(corruptRecord(`object ${key} is missing from ${repo.description}`, key));
      if (info.size !== wanted.get(key)) return errAsync(corruptRecord(`object ${key} has ${info.size} bytes, the manifest records ${wanted.get(key)}`, key));
      return step(i + 1);
    });
  };
  return step(0);
}

/** The repository, with manifest reads answered from the record (to check chain links before publishing). */
function recordView(repo: BackupRepository, manifests: ReadonlyMap<string, Buffer>): BackupRepository {
  return {
    description: `record for ${repo.description}`,
    descriptor: repo.descriptor,
    put: (key, body, ctx) => repo.put(key, body, ctx),
    get: (key, ctx) => {
      const bytes = manifests.get(key);
      return bytes === undefined ? repo.get(key, ctx) : okAsync(bytes);
    },
    read: (key, onData, ctx) => repo.read(key, onData, ctx),
    head: (key, ctx) => repo.head(key, ctx),
    list: (prefix, options, ctx) => repo.list(prefix, options, ctx),
    flush: (ctx) => repo.flush(ctx),
    delete: (keys, ctx) => repo.delete(keys, ctx),
    close: (ctx) => repo.close(ctx),
  };
}

function corruptRecord(what: string, object?: string): VolkitError {
  return new VolkitError("BACKUP_CORRUPT", `backup record ${what}`, { source: "backup", details: object === undefined ? {} : { object } });
}
