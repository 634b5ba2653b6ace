import { createHash, randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultAsync } from "neverthrow";
import { afterEach } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import type { VolkitError } from "../../../src/core/errors.js";
import { createLocalDirectoryRepository, type BackupRepository } from "../../../src/backup/index.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temporary directory removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "volkit-backup-unit-"));
  dirs.push(d);
  return d;
}

/** A repository in a fresh temporary directory (no fsync: throw-away data). */
export function tempRepo(): { repo: BackupRepository; dir: string } {
  const dir = join(tempDir(), "repo");
  return { repo: createLocalDirectoryRepository({ directory: dir, fsync: false })._unsafeUnwrap(), dir };
}

/** Creates a sparse file of `size` bytes with `writes` applied. */
export function makeFile(path: string, size: number, writes: readonly { offset: number; data: Uint8Array }[] = []): string {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, size);
    for (const w of writes) writeSync(fd, w.data, 0, w.data.length, w.offset);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Overwrites bytes of an existing file. */
export function patchFile(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a whole file. */
export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Random bytes. */
export function random(n: number): Buffer {
  return randomBytes(n);
}

/** Compressible bytes (repeated text). */
export function text(n: number, seed = "volkit backup test line "): Buffer {
  return Buffer.from(seed.repeat(Math.ceil(n / seed.length)).slice(0, n));
}

/** Awaits a ResultAsync and returns its value, failing the test with the error otherwise. */
export async function must<T>(pending: ResultAsync<T, VolkitError>): Promise<T> {
  const r = await pending;
  if (r.isErr()) throw new Error(`volkit error ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** Awaits a ResultAsync that must fail, and returns the error. */
export async function mustFail<T>(pending: ResultAsync<T, VolkitError>): Promise<VolkitError> {
  const r = await pending;
  if (r.isOk()) throw new Error(`expected a failure, got ${JSON.stringify(r.value).slice(0, 200)}`);
  return r.error;
}

/** Every key in a repository. */
export async function allKeys(repo: BackupRepository): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await must(repo.list("", cursor === undefined ? {} : { cursor }, backgroundContext()));
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.next;
  } while (cursor !== undefined);
  return keys;
}
