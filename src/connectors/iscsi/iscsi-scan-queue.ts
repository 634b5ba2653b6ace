import { ResultAsync, errAsync, okAsync, type Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { checkDeviceName, deleteScsiDisk } from "../../host/block-sysfs.js";
import { isNotFound, type HostFs } from "../../host/host-fs.js";
import { scanSessionLun, type IscsiSession } from "./iscsi-sysfs.js";

/**
 * The sysfs writes that add or remove the LUNs of one SCSI host (one iSCSI session), batched. The
 * kernel runs them one at a time per host (its scan mutex), and each write blocks a thread of
 * Node's small I/O pool until the kernel is done with the LUN — sixteen concurrent connects of one
 * target writing at once filled that pool, and every sysfs read of every wait queued behind the
 * writes. Here every LUN waiting on a session joins one queue: the writes go back to back through
 * one writer, a LUN already queued is not queued twice, and each caller waits only for its own
 * write.
 */
export class ScanQueue {
  readonly #hosts = new Map<number, HostQueue>();
  /** Writes made so far (all hosts). */
  writes = 0;

  /**
   * Scans one LUN of `session` (see {@link scanSessionLun}) after the writes already queued for its
   * SCSI host; joins a queued, not yet written scan of the same LUN. Resolves with the written line
   * once the kernel has taken it.
   */
  scan(fs: HostFs, session: IscsiSession, lun: number): ResultAsync<string, VolkitError> {
    return this.#enqueue(session.host, `scan ${lun}`, () => scanSessionLun(fs, session, lun));
  }

  /**
   * Deletes a SCSI disk (`echo 1 > /sys/block/<name>/device/delete`) after the writes already queued
   * for its SCSI host (read from its `H:C:T:L`). A disk already gone is done.
   */
  deleteDisk(fs: HostFs, name: string): ResultAsync<void, VolkitError> {
    const gone = (e: VolkitError): ResultAsync<void, VolkitError> => (isNotFound(e) ? okAsync(undefined) : errAsync(e));
    return checkDeviceName(name)
      .andThen(() => fs.realpath(`/sys/block/${name}/device`))
      .map((p) => /\/(\d+):\d+:\d+:\d+$/.exec(p)?.[1])
      .orElse((e) => (isNotFound(e) ? okAsync(null) : errAsync(e)))
      .andThen((host) => {
        if (host === null) return okAsync(undefined); // gone already
        const write = (): ResultAsync<void, VolkitError> => deleteScsiDisk(fs, name).orElse(gone);
        return host === undefined ? write() : this.#enqueue(Number(host), `delete ${name}`, write);
      });
  }

  #enqueue<T>(host: number, key: string, write: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    let q = this.#hosts.get(host);
    if (q === undefined) {
      q = { waiting: new Map(), tail: Promise.resolve() };
      this.#hosts.set(host, q);
    }
    const queue = q;
    const joined = queue.waiting.get(key);
    if (joined !== undefined) return new ResultAsync(joined as Promise<Result<T, VolkitError>>);
    const written: Promise<Result<T, VolkitError>> = queue.tail.then(async () => {
      // Taken off the waiting list as its write starts: one asked for after this began is a new write.
      queue.waiting.delete(key);
      this.writes++;
      return await write();
    });
    queue.waiting.set(key, written);
    const done: Promise<void> = written.then(() => {
      if (queue.tail === done && queue.waiting.size === 0) this.#hosts.delete(host);
    });
    queue.tail = done;
    return new ResultAsync(written);
  }
}

/** The queue of one SCSI host. */
interface HostQueue {
  /** Writes queued and not yet started, by what they do (`scan 3`, `delete sdb`). */
  readonly waiting: Map<string, Promise<Result<unknown, VolkitError>>>;
  /** The last queued write (settles after it). */
  tail: Promise<unknown>;
}
