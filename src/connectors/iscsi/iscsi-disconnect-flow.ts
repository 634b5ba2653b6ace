import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { dmSlaves, type DmDevice } from "../../host/block-sysfs.js";
import type { DisconnectReport } from "../../core/records.js";
import type { VolumeInventory } from "./iscsi-inventory.js";
import { findSession, logOut } from "./iscsi-login.js";
import { flushMapUntilGone, removeMap } from "./iscsi-map.js";
import { sessionLockKey, sessionName, type PlannedPath } from "./iscsi-plan.js";
import { RemovalReport } from "./iscsi-report.js";
import { removeDisk } from "./iscsi-scan.js";
import type { IscsiTools } from "./iscsi-tools.js";

/**
 * The disconnect flow: flush the device that was handed out, then the stages' undo steps in
 * reverse order of the connect — flush the map (iscsi-map), delete the disks (iscsi-scan), log out
 * and delete the node records (iscsi-login).
 */

/** Disconnect switches (see `DisconnectOptions`). */
export interface DisconnectFlags {
  /** Go on past a failed flush and a map that will not go. */
  readonly force: boolean;
  /** Return the report instead of failing. */
  readonly ignoreErrors: boolean;
}

/**
 * Flushes the device that was handed out — the only one the caller did I/O through: the map for a
 * multipath attach (its paths have no page cache of their own), the disk for a single path. With
 * `force`, queueing is disabled on the maps first so a flush to a dead target fails instead of
 * hanging.
 */
function flush(tools: IscsiTools, inv: VolumeInventory, flags: DisconnectFlags, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const handed = inv.handedOut;
  if (handed === undefined) return okAsync(undefined);
  const unqueue = flags.force
    ? ResultAsync.combine(inv.maps.map((m) => tools.multipath.disableQueueing(m.name, ctx).orElse(() => okAsync(undefined)))).map(() => undefined)
    : okAsync(undefined);
  return unqueue.andThen(() =>
    ctx.phase("flush", () => tools.runner.run({ argv: ["blockdev", "--flushbufs", `/dev/${handed}`], signal: ctx.signal, timeoutMs: tools.config.timeouts.flushMs })).map(() => undefined),
  );
}

/**
 * Detaches a volume: flush, `multipath -f` each map, delete each disk and wait until it is gone,
 * then log out each path's session if no other LUN (or connect in flight) uses it. Everything not
 * removed is in the report; unless `ignoreErrors`, anything left because of an error fails the
 * call with `DETACH_INCOMPLETE` carrying the report in `details.report`.
 */
export function disconnect(tools: IscsiTools, paths: readonly PlannedPath[], inv: VolumeInventory, flags: DisconnectFlags, ctx: OperationContext): ResultAsync<DisconnectReport, VolkitError> {
  const report = new RemovalReport();
  const viaMultipathd = inv.maps.length > 0 || tools.config.multipath;
  const steps = flush(tools, inv, flags, ctx)
    .map(() => true)
    .orElse((e) => {
      if (e.code === "ABORTED") return errAsync(e);
      if (flags.force) {
        ctx.logger.warn({ err: e.toJSON() }, "flush failed; going on because force is set (unflushed data may be lost)");
        report.errors.push(e);
        return okAsync(true);
      }
      const reason = `not removed: flushing /dev/${inv.handedOut ?? "?"} failed (${e.message}); retry, or use force for a dead target`;
      for (const m of inv.maps) report.fail("map", m.name, reason);
      for (const d of inv.disks) report.fail("device", `/dev/${d}`, reason, e);
      return presentSessions(tools, paths).map((names) => {
        for (const n of names) {
          report.fail("session", n, reason);
          report.fail("node", n, reason);
        }
        return false;
      });
    })
    .andThen((flushed) =>
      !flushed
        ? okAsync(undefined)
        : safeTry(async function* () {
            // Stage 4 undone: the maps. With force, a map that will not go does not stop the
            // disks from going; it is tried again once it has no paths left (below).
            const blocked = new Map<string, string>();
            const stubborn: DmDevice[] = [];
            for (const map of inv.maps) {
              const flushed = yield* ctx.phase("remove-map", () => flushMapUntilGone(tools, map, ctx).map(() => undefined).orElse((e) => okAsync(e)));
              if (flushed === undefined) report.remove(`map ${map.name}`);
              else if (flags.force) stubborn.push(map);
              else {
                report.fail("map", map.name, `could not remove the map: ${flushed.message}`, flushed);
                for (const d of yield* dmSlaves(tools.fs, map.dm)) blocked.set(d, map.name);
              }
            }
            // Stage 3 undone: the disks, all at once.
            for (const disk of inv.disks) {
              const map = blocked.get(disk);
              if (map !== undefined) report.fail("device", `/dev/${disk}`, `not removed: its multipath map ${map} could not be removed`);
            }
            const free = inv.disks.filter((d) => !blocked.has(d));
            // Once its map is gone multipathd drops a path on the disk's remove uevent by itself:
            // `multipathd del path` only for paths whose map stayed or that had none (a map may be forming).
            const tellMultipathd = viaMultipathd && (stubborn.length > 0 || inv.maps.length === 0);
            yield* ResultAsync.combine(free.map((disk) => ctx.phase("remove-device", () => removeDisk(tools, disk, ctx, report, tellMultipathd))));
            // Force: never leave a map without paths behind.
            for (const map of stubborn) yield* ctx.phase("remove-map", () => removeMap(tools, map, ctx, report));
            // Stage 2 undone: the sessions and node records, every session at once.
            const ourDisks = new Set(inv.disks);
            const sessions = [...new Map(paths.map((p) => [sessionLockKey(p), p])).values()];
            yield* ResultAsync.combine(sessions.map((path) => ctx.phase("logout", () => logOut(tools, path, ctx, report, { deleteNode: true, dropPending: false, keepSession: false, ourDisks }))));
            return ok(undefined);
          }),
    );
  return steps.andThen(() => {
    const result = report.toReport();
    if (!report.failed || flags.ignoreErrors) {
      if (report.failed) ctx.logger.warn({ report: result }, "disconnect left objects behind (ignoreErrors)");
      return ok(result);
    }
    const what = report.left.filter((l) => !l.expected).map((l) => `${l.kind} ${l.name}: ${l.reason}`);
    return err(
      new VolkitError("DETACH_INCOMPLETE", `disconnect left ${what.length} object(s) behind: ${what.join("; ")}`, {
        source: "iscsi",
        ...(report.errors[0] ? { cause: report.errors[0] } : {}),
        details: { report: result },
      }),
    );
  });
}

/** Display names of the paths' sessions that exist now. */
function presentSessions(tools: IscsiTools, paths: readonly PlannedPath[]): ResultAsync<string[], VolkitError> {
  const unique = [...new Map(paths.map((p) => [sessionLockKey(p), p])).values()];
  return ResultAsync.combine(unique.map((p) => findSession(tools.fs, p).map((s) => (s ? sessionName(p) : undefined)))).map((n) => n.filter((x): x is string => x !== undefined));
}
