import { open, type FileHandle } from "node:fs/promises";
import { ResultAsync } from "neverthrow";
import type { OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { ExtentCursor, type ByteExtent } from "./block-source.js";

/**
 * Reads a volume chunk by chunk through node:fs, reading only what the allocation map says may
 * hold data. Each chunk gets a buffer of its own (so it can be moved to a worker thread), zero
 * filled where nothing was read.
 */
export class SourceReader {
  readonly #handle: FileHandle;
  readonly #cursor: ExtentCursor | undefined;
  /** Bytes actually read so far. */
  bytesRead = 0;

  private constructor(handle: FileHandle, extents: readonly ByteExtent[] | undefined) {
    this.#handle = handle;
    this.#cursor = extents === undefined ? undefined : new ExtentCursor(extents);
  }

  /** Opens `path` read-only; `extents` (normalised) limits what is read, `undefined` reads everything. */
  static open(path: string, extents: readonly ByteExtent[] | undefined): ResultAsync<SourceReader, VolkitError> {
    return ResultAsync.fromPromise(open(path, "r"), (e) => ioError(e, `open ${path}`, path)).map((h) => new SourceReader(h, extents));
  }

  /**
   * The bytes of `[offset, offset + length)`, or `undefined` when the map says nothing there is
   * allocated. Chunks must be asked for in increasing order when a map is used.
   */
  read(offset: number, length: number, ctx: OperationContext): ResultAsync<Uint8Array | undefined, VolkitError> {
    const parts = this.#cursor === undefined ? [{ offset: 0, length }] : this.#cursor.within(offset, offset + length);
    if (parts.length === 0) return ResultAsync.fromSafePromise(Promise.resolve(undefined));
    const whole = parts.length === 1 && parts[0]?.offset === 0 && parts[0].length === length;
    // A fresh ArrayBuffer per chunk (never Node's shared pool): it is moved to a worker.
    const buffer = whole ? Buffer.allocUnsafeSlow(length) : Buffer.from(new ArrayBuffer(length));
    return ResultAsync.fromPromise(
      (async () => {
        for (const part of parts) {
          ctx.signal.throwIfAborted();
          await this.#readFully(buffer, part.offset, part.length, offset + part.offset);
        }
        return buffer;
      })(),
      (e) => ctx.abortError() ?? ioError(e, `read at ${offset}`, undefined),
    );
  }

  async #readFully(buffer: Buffer, at: number, length: number, position: number): Promise<void> {
    for (let done = 0; done < length; ) {
      const { bytesRead } = await this.#handle.read(buffer, at + done, length - done, position + done);
      if (bytesRead === 0) throw new VolkitError("INVALID_STATE", `the source ended at ${position + done}, before the size being backed up`, { source: "backup" });
      done += bytesRead;
      this.bytesRead += bytesRead;
    }
  }

  /** Closes the file. */
  close(): ResultAsync<void, never> {
    return ResultAsync.fromSafePromise(this.#handle.close().catch(() => undefined));
  }
}

/** An I/O failure of the volume side as a typed error. */
export function ioError(e: unknown, what: string, path: string | undefined): VolkitError {
  if (e instanceof VolkitError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const errno = typeof code === "string" ? code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  return new VolkitError(errno === "ENOENT" ? "VOLUME_NOT_FOUND" : errno === "ENOSPC" ? "INSUFFICIENT_CAPACITY" : "INTERNAL", `${what} failed: ${message}`, {
    source: "backup",
    cause: e,
    details: { ...(path === undefined ? {} : { path }), ...(errno === undefined ? {} : { errno }) },
  });
}
