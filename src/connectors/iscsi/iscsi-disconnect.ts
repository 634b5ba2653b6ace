import { ResultAsync, err, errAsync, ok, okAsync, safeTry } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { blockDeviceSize, dmSlaves, rescanScsiDisk, scsiHctl } from "../../host/block-sysfs.js";
import type { AttachedDevice, DisconnectReport } from "../../core/records.js";
import { findSession, poll, type IscsiDeps } from "./iscsi-deps.js";
import type { VolumeInventory } from "./iscsi-inventory.js";
import { TeardownReport, releaseSession, removeDisk, removeMap } from "./iscsi-teardown.js";
import { sessionLockKey, sessionName, type IscsiPathTarget } from "./iscsi-targets.js";

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
function flush(deps: IscsiDeps, inv: VolumeInventory, flags: DisconnectFlags, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const handed = inv.handedOut;
  if (handed === undefined) return okAsync(undefined);
  const unqueue = flags.force
    ? ResultAsync.combine(inv.maps.map((m) => deps.multipath.disableQueueing(m.name, ctx).orElse(() => okAsync(undefined)))).map(() => undefined)
    : okAsync(undefined);
  return unqueue.andThen(() =>
    ctx.phase("flush", () => deps.runner.run({ argv: ["blockdev", "--flushbufs", `/dev/${handed}`], signal: ctx.signal, timeoutMs: deps.config.timeouts.flushMs })).map(() => undefined),
  );
}

/**
 * Detaches a volume: flush, `multipath -f` each map, delete each disk and wait until it is gone,
 * then log out each path's session if no other LUN (or connect in flight) uses it. Everything not
 * removed is in the report; unless `ignoreErrors`, anything left because of an error fails the
 * call with `DETACH_INCOMPLETE` carrying the report in `details.report`.
 */
export function disconnect(deps: IscsiDeps, targets: readonly IscsiPathTarget[], addresses: ReadonlyMap<string, readonly string[]>, inv: VolumeInventory, flags: DisconnectFlags, ctx: OperationContext): ResultAsync<DisconnectReport, VolkitError> {
  const report = new TeardownReport();
  const viaMultipathd = inv.maps.length > 0 || deps.config.multipath;
  const steps = flush(deps, inv, flags, ctx)
    .map(() => true)
    .orElse((e) => {
      if (e.code === "ABORTED") return errAsync(e);
      if (flags.force) {
        ctx.logger.warn({ err: e.toJSON() }, "flush failed; going on because force is set (unflushed data may be lost)");
        report.errors.push(e);
        return okAsync(true);
      }
      const reason = `not removed: flushing /dev/${inv.handedOut ?? "?"} failed (${e.message}); retry, or use force for a dead target`;
      for (const m of inv.maps) report.leave("map", m.name, reason, true);
      for (const d of inv.disks) report.leave("device", `/dev/${d}`, reason, true, e);
      return presentSessions(deps, targets, addresses).map((names) => {
        for (const n of names) report.leave("session", n, reason, true);
        return false;
      });
    })
    .andThen((flushed) =>
      !flushed
        ? okAsync(undefined)
        : safeTry(async function* () {
            const blocked = new Set<string>();
            for (const map of inv.maps) {
              const gone = yield* ctx.phase("remove-map", () => removeMap(deps, map, ctx, report));
              if (!gone && !flags.force) for (const d of yield* dmSlaves(deps.fs, map.dm)) blocked.add(d);
            }
            for (const disk of inv.disks) {
              if (blocked.has(disk)) report.leave("device", `/dev/${disk}`, "kept: its multipath map could not be removed", true);
              else yield* ctx.phase("remove-device", () => removeDisk(deps, disk, ctx, report, viaMultipathd));
            }
            const ourDisks = new Set(inv.disks);
            const seen = new Set<string>();
            for (const t of targets) {
              if (seen.has(sessionLockKey(t))) continue;
              seen.add(sessionLockKey(t));
              yield* ctx.phase("logout", () => releaseSession(deps, t, addresses.get(t.host) ?? [t.host], ctx, report, { deleteNode: true, dropPending: false, keepSession: false, ourDisks }));
            }
            return ok(undefined);
          }),
    );
  return steps.andThen(() => {
    const result = report.toReport();
    if (!report.failed || flags.ignoreErrors) {
      if (report.failed) ctx.logger.warn({ report: result }, "disconnect left objects behind (ignoreErrors)");
      return ok(result);
    }
    const what = report.left.filter((l) => l.failed).map((l) => `${l.kind} ${l.name}: ${l.reason}`);
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
function presentSessions(deps: IscsiDeps, targets: readonly IscsiPathTarget[], addresses: ReadonlyMap<string, readonly string[]>): ResultAsync<string[], VolkitError> {
  const unique = [...new Map(targets.map((t) => [sessionLockKey(t), t])).values()];
  return ResultAsync.combine(unique.map((t) => findSession(deps, t, addresses.get(t.host) ?? [t.host]).map((s) => (s ? sessionName(t) : undefined)))).map((n) => n.filter((x): x is string => x !== undefined));
}

/**
 * Makes the host see a grown LUN: `echo 1 > /sys/bus/scsi/drivers/sd/<H:C:T:L>/rescan` on every
 * path, waits until all paths agree on the size, then `multipathd resize map` and waits for the
 * map to match. Returns the new size in bytes.
 */
export function extend(deps: IscsiDeps, inv: VolumeInventory, device: AttachedDevice, ctx: OperationContext): ResultAsync<number, VolkitError> {
  if (inv.disks.length === 0) {
    return errAsync(new VolkitError("DEVICE_NOT_FOUND", `no path of ${device.path} is present on this host`, { source: "iscsi", details: { device: device.path } }));
  }
  const rescan = (): ResultAsync<void, VolkitError> =>
    ResultAsync.combine(inv.disks.map((d) => scsiHctl(deps.fs, d).andThen((hctl) => rescanScsiDisk(deps.fs, hctl)))).map(() => undefined);
  const agreed = (): ResultAsync<number | undefined, VolkitError> =>
    ResultAsync.combine(inv.disks.map((d) => blockDeviceSize(deps.fs, d))).map((sizes) => (sizes.every((s) => s === sizes[0]) ? sizes[0] : undefined));
  const differ = (): VolkitError => new VolkitError("INVALID_STATE", `the paths of ${device.path} report different sizes after rescans`, { source: "iscsi", details: { disks: inv.disks } });
  return ctx
    .phase("rescan", () => rescan().andThen(() => poll(deps, ctx, deps.config.timeouts.deviceMs, (n) => (n > 1 ? rescan() : okAsync(undefined)).andThen(agreed), differ)))
    .andThen((size) => {
      const map = inv.maps[0];
      if (!map) return okAsync(size);
      return ctx.phase("resize-map", () =>
        deps.multipath.resizeMap(map.name, ctx).andThen(() =>
          poll(deps, ctx, deps.config.timeouts.mapMs, () => blockDeviceSize(deps.fs, map.dm).map((s) => (s === size ? s : undefined)), () =>
            new VolkitError("INVALID_STATE", `multipath map ${map.name} did not grow to ${size} bytes`, { source: "iscsi", details: { map: map.name, expectedBytes: size } }),
          ),
        ),
      );
    });
}
