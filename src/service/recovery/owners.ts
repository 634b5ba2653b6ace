import { hostname } from "node:os";
import type { OperationTask } from "../records/record-fields.js";
import type { ServiceContext } from "../service-context.js";

/**
 * Who runs an operation, and whether it is still running. A task's owner is
 * `<host>:<pid>:<instance>`: an operation of this very instance is running while its record is in
 * the instance's running set; one of another process on this host runs while that process lives;
 * one of another host is trusted until `staleAfterMs` has passed since it started (that host's
 * processes cannot be checked from here), or when the caller says that host is gone.
 */

/** A host name as it can appear in an owner (characters outside `[A-Za-z0-9._-]` become `-`). */
export function ownerHost(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return (clean === "" ? "host" : clean).slice(0, 200);
}

/** A new owner id for a service instance on this host. */
export function newOwner(hostName: string = hostname()): string {
  return `${ownerHost(hostName)}:${process.pid}:${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
}

/** Service instances open in this process (a closed one runs nothing, even if its process lives on). */
const openOwners = new Set<string>();

/** Records that an instance is open (until {@link ownerClosed}). */
export function ownerOpened(owner: string): void {
  openOwners.add(owner);
}

/** Records that an instance was closed: its unfinished operations are abandoned. */
export function ownerClosed(owner: string): void {
  openOwners.delete(owner);
}

/** Whether a process of this host is alive (`kill -0`; a process we may not signal is alive). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Where a transient record's operation stands. */
export type TaskState = "abandoned" | "running-here" | "running-elsewhere";

/**
 * Whether the operation recorded in `task` (on the record `key`, e.g. `volume:<id>`) was abandoned
 * (its process died or, on another host, it is older than `staleAfterMs`). A record with no task
 * (set by an older version, or by hand) counts as abandoned.
 */
export function taskState(sc: ServiceContext, task: OperationTask | undefined, key: string, options: { readonly includeOtherHosts?: boolean }): TaskState {
  if (task === undefined) return "abandoned";
  if (task.owner === sc.owner) return sc.running.has(key) ? "running-here" : "abandoned";
  const [host, pid] = task.owner.split(":");
  if (Number(pid) === process.pid && host === sc.owner.split(":")[0]) return openOwners.has(task.owner) ? "running-elsewhere" : "abandoned";
  if (host === sc.owner.split(":")[0]) return processAlive(Number(pid)) ? "running-elsewhere" : "abandoned";
  if (options.includeOtherHosts === true || Date.now() - task.startedAt.getTime() > sc.config.staleAfterMs) return "abandoned";
  return "running-elsewhere";
}
