import { ResultAsync } from "neverthrow";
import type { OperationContext } from "../../../src/core/context.js";
import type { VolkitError } from "../../../src/core/errors.js";
import type { BackupRepository, ListOptions, ListPage, ObjectBody, ObjectInfo } from "../../../src/backup/repository.js";

/**
 * Where a {@link FaultyRepository} "crashes" its process: after `after` calls of `on` have
 * completed (`put` counts objects written), or right after the put of a key matching `afterKey`
 * (the manifest). From then on every call hangs, as if the process had died mid-flight.
 */
export interface RepositoryFault {
  readonly on: "put" | "get" | "delete";
  readonly after?: number;
  readonly afterKey?: RegExp;
}

/** A never-settling result. */
function hang<T>(): ResultAsync<T, VolkitError> {
  return new ResultAsync(new Promise(() => undefined));
}

/** A repository that stops answering at a chosen point (see {@link RepositoryFault}). */
export class FaultyRepository implements BackupRepository {
  readonly description: string;
  readonly descriptor: BackupRepository["descriptor"];
  /** Calls of the faulted kind that completed. */
  count = 0;
  /** Keys written before the fault. */
  readonly written: string[] = [];
  #tripped = false;
  #trip: () => void = () => undefined;
  /** Settles once the fault has been reached. */
  readonly tripped: Promise<void>;

  constructor(
    readonly inner: BackupRepository,
    readonly fault: RepositoryFault,
  ) {
    this.description = inner.description;
    this.descriptor = inner.descriptor;
    this.tripped = new Promise((resolve) => (this.#trip = resolve));
  }

  #stop<T>(): ResultAsync<T, VolkitError> {
    this.#tripped = true;
    this.#trip();
    return hang();
  }

  /** Runs `call` unless the fault is reached (before it by count, or after it by key). */
  #gate<T>(kind: RepositoryFault["on"], key: string | undefined, call: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    if (this.#tripped) return hang();
    if (kind !== this.fault.on) return call();
    if (this.fault.after !== undefined && this.count >= this.fault.after) return this.#stop();
    return call().andThen((v) => {
      this.count++;
      if (key !== undefined) this.written.push(key);
      if (this.#tripped || (key !== undefined && this.fault.afterKey?.test(key) === true)) return this.#stop<T>();
      return ResultAsync.fromSafePromise(Promise.resolve(v));
    });
  }

  put(key: string, body: ObjectBody, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError> {
    return this.#gate("put", key, () => this.inner.put(key, body, ctx));
  }
  get(key: string, ctx: OperationContext): ResultAsync<Uint8Array, VolkitError> {
    return this.#gate("get", key, () => this.inner.get(key, ctx));
  }
  read(key: string, onData: (piece: Uint8Array) => void | Promise<void>, ctx: OperationContext): ResultAsync<ObjectInfo, VolkitError> {
    return this.#gate("get", key, () => this.inner.read(key, onData, ctx));
  }
  head(key: string, ctx: OperationContext): ResultAsync<ObjectInfo | undefined, VolkitError> {
    return this.#tripped ? hang() : this.inner.head(key, ctx);
  }
  list(prefix: string, options: ListOptions, ctx: OperationContext): ResultAsync<ListPage, VolkitError> {
    return this.#tripped ? hang() : this.inner.list(prefix, options, ctx);
  }
  flush(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#tripped ? hang() : this.inner.flush(ctx);
  }
  delete(keys: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#gate("delete", keys[0], () => this.inner.delete(keys, ctx));
  }
  close(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.inner.close(ctx);
  }
}
