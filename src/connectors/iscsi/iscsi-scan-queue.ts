import { ResultAsync, type Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import type { HostFs } from "../../host/host-fs.js";
import { scanSessionLun, type IscsiSession } from "./iscsi-sysfs.js";

/**
 * The scans of one SCSI host (one iSCSI session), batched. The kernel runs the scans of a host one
 * at a time (its scan mutex), and each write to `scan` blocks a thread of Node's small I/O pool
 * until the kernel has probed the LUN — sixteen concurrent connects of one target writing at once
 * filled that pool, and every sysfs read of every wait queued behind the writes. Here every LUN
 * waiting on a session joins one queue: its LUN scans are written back to back by one writer, a
 * LUN already queued is not queued twice, and each connect waits only for its own LUN's write.
 */
export class ScanQueue {
  readonly #hosts = new Map<number, HostQueue>();
  /** `scan` writes made so far (all hosts). */
  writes = 0;

  /**
   * Scans one LUN of `session` (see {@link scanSessionLun}) after the scans already queued for its
   * SCSI host; joins a queued, not yet written scan of the same LUN. Resolves with the written line
   * once the kernel has taken it.
   */
  scan(fs: HostFs, session: IscsiSession, lun: number): ResultAsync<string, VolkitError> {
    let q = this.#hosts.get(session.host);
    if (q === undefined) {
      q = { waiting: new Map(), tail: Promise.resolve() };
      this.#hosts.set(session.host, q);
    }
    const queue = q;
    const joined = queue.waiting.get(lun);
    if (joined !== undefined) return new ResultAsync(joined);
    const written: Promise<Result<string, VolkitError>> = queue.tail.then(async () => {
      // Taken off the waiting list as its write starts: a scan asked for after this one began is a new write.
      queue.waiting.delete(lun);
      this.writes++;
      return await scanSessionLun(fs, session, lun);
    });
    queue.waiting.set(lun, written);
    queue.tail = written.then(() => {
      if (queue.tail === done && queue.waiting.size === 0) this.#hosts.delete(session.host);
    });
    const done = queue.tail;
    return new ResultAsync(written);
  }
}

/** The queue of one SCSI host. */
interface HostQueue {
  /** LUNs queued and not yet written, with their write. */
  readonly waiting: Map<number, Promise<Result<string, VolkitError>>>;
  /** The last queued write (settles after it). */
  tail: Promise<unknown>;
}
