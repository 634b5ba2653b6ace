import { ResultAsync, okAsync } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { orMissing } from "../../host/block-sysfs.js";
import type { HostFs } from "../../host/host-fs.js";

/**
 * The health of open-iscsi's node database, checked when iscsiadm fails with exit 6 (node
 * database error). Two states make every later iscsiadm call fail until a person acts, and both
 * are what a process killed in the middle of a database operation leaves:
 *
 * - a stale lock: iscsiadm locks the database by linking `/run/lock/iscsi/lock.write` and removes
 *   the link when done; a killed iscsiadm leaves it, and every later call waits 30 s for it and
 *   fails;
 * - a corrupt record: a node record file cut short while it was written (no portal address; it
 *   lists as `[]:3260,4294967295`), which `iscsiadm --op delete` cannot match and so cannot remove.
 *
 * The connector never kills iscsiadm itself (its node commands are shielded from cancellation, see
 * `Iscsiadm`), so these come from elsewhere; they are reported with the fix instead of retried.
 */

/** open-iscsi's write lock of the node database. */
export const NODE_DB_LOCK = "/run/lock/iscsi/lock.write";

/** Where open-iscsi keeps node records (Debian/Ubuntu, then Red Hat/SUSE builds). */
export const NODE_DB_DIRS = ["/etc/iscsi/nodes", "/var/lib/iscsi/nodes"] as const;

const ADDRESS_LINE = /^node\.conn\[0\]\.address\s*=\s*\S+/m;

/** Whether a process named `comm` runs (from `/proc/<pid>/comm`). */
function processRuns(fs: HostFs, comm: string): ResultAsync<boolean, never> {
  return orMissing(fs.readdir("/proc"))
    .andThen((entries) =>
      ResultAsync.combine(
        (entries ?? []).filter((e) => /^\d+$/.test(e)).map((pid) => orMissing(fs.readFile(`/proc/${pid}/comm`)).map((c) => c?.trim() === comm).orElse(() => okAsync(false))),
      ),
    )
    .map((found) => found.some(Boolean))
    // Unreadable /proc: do not call a lock stale on a guess.
    .orElse(() => okAsync(true));
}

/** A stale database lock: `lock.write` exists while no iscsiadm runs. */
export function staleLock(fs: HostFs): ResultAsync<VolkitError | undefined, never> {
  return fs.exists(NODE_DB_LOCK).andThen((locked) =>
    !locked
      ? okAsync(undefined)
      : processRuns(fs, "iscsiadm").map((running) =>
          running
            ? undefined
            : new VolkitError(
                "INVALID_STATE",
                `the iSCSI node database is locked by a process that no longer runs (stale ${NODE_DB_LOCK}): every iscsiadm call waits for it and fails; fix: make sure no iscsiadm runs, then rm ${NODE_DB_LOCK}`,
                { source: "iscsi", details: { lockFile: NODE_DB_LOCK, fix: `rm ${NODE_DB_LOCK}` } },
              ),
        ),
  );
}

/** Node record files of one target (`<dir>/<iqn>/<address>,<port>,<tpgt>[/<iface>]`). */
function recordFiles(fs: HostFs, dir: string, iqn: string): ResultAsync<string[], never> {
  const base = `${dir}/${iqn}`;
  return orMissing(fs.readdir(base))
    .andThen((portals) =>
      ResultAsync.combine(
        (portals ?? []).map((p) =>
          // A portal entry is a directory of iface files, or (older layout) the record itself.
          orMissing(fs.readdir(`${base}/${p}`)).map((ifaces) => (ifaces === undefined ? [`${base}/${p}`] : ifaces.map((i) => `${base}/${p}/${i}`))).orElse(() => okAsync([`${base}/${p}`])),
        ),
      ),
    )
    .map((files) => files.flat())
    .orElse(() => okAsync([]));
}

/** The path to remove for a record file: its portal directory, or the file in the older flat layout. */
function recordPath(file: string): string {
  const parts = file.split("/");
  return /,\d+,-?\d+$/.test(parts.at(-2) ?? "") ? parts.slice(0, -1).join("/") : file;
}

/** Node records of `iqn` without a portal address (a write cut short). */
export function corruptRecords(fs: HostFs, iqn: string): ResultAsync<string[], never> {
  return ResultAsync.combine(NODE_DB_DIRS.map((d) => recordFiles(fs, d, iqn)))
    .map((lists) => lists.flat())
    .andThen((files) =>
      ResultAsync.combine(files.map((f) => orMissing(fs.readFile(f)).map((text) => (text !== undefined && !ADDRESS_LINE.test(text) ? f : undefined)).orElse(() => okAsync(undefined)))),
    )
    .map((found) => found.filter((f): f is string => f !== undefined));
}

/** What iscsiadm prints when it gave up waiting for the database lock (then removes the lock). */
const LOCK_TIMEOUT = /Timeout on acquiring lock on DB/;

/**
 * Explains an iscsiadm node-database failure (exit 6, or a record that vanished: exit 21) of a call
 * aimed at `iqn`:
 * - the lock is stale now (still there, no iscsiadm runs): permanent `INVALID_STATE` with the fix;
 * - the call timed out on a stale lock, which iscsiadm removes when it gives up (open-iscsi 2.1.8):
 *   a transient error saying so (the next try goes through);
 * - a corrupt record of `iqn`: permanent `INVALID_STATE` with the fix;
 * - else undefined (a busy database: the caller retries as before).
 */
export function diagnoseNodeDb(fs: HostFs, iqn: string | undefined, failure: VolkitError): ResultAsync<VolkitError | undefined, never> {
  return staleLock(fs).andThen((lock) => {
    if (lock) return okAsync(lock);
    const stderr = typeof failure.details.stderr === "string" ? failure.details.stderr : "";
    if (LOCK_TIMEOUT.test(stderr)) {
      return okAsync(
        new VolkitError("COMMAND_FAILED", `${failure.message} (a stale ${NODE_DB_LOCK}, left by an iscsiadm that was killed, made it wait 30 s; iscsiadm removed the lock: trying again)`, {
          source: "iscsi",
          cause: failure,
          details: { ...failure.details, staleLock: NODE_DB_LOCK },
          transient: true,
        }),
      );
    }
    if (iqn === undefined) return okAsync(undefined);
    return corruptRecords(fs, iqn).map((files) => {
      if (files.length === 0) return undefined;
      const paths = [...new Set(files.map(recordPath))];
      return new VolkitError(
        "INVALID_STATE",
        `the iSCSI node database has a corrupt record of ${iqn} (${files.join(", ")}: no portal address, a write cut short; iscsiadm lists it as []:<port>,4294967295 and cannot delete it); fix: rm -r ${paths.join(" ")}`,
        { source: "iscsi", cause: failure, details: { target: iqn, records: files, fix: `rm -r ${paths.join(" ")}` } },
      );
    });
  });
}
