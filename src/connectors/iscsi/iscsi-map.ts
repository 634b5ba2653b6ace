import { ResultAsync, errAsync, ok, okAsync, safeTry } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { blockDeviceSize, blockHolders, deviceOpeners, dmDevice, dmSlaves, dmSuspended, multipathHolder, sameWwid, scsiDeviceState, scsiWwid, type DmDevice } from "../../host/block-sysfs.js";
import type { HostFs } from "../../host/host-fs.js";
import type { FindMultipaths } from "./iscsi-parsers.js";
import type { RemovalReport } from "./iscsi-report.js";
import { poll, waitSysfs, type IscsiTools } from "./iscsi-tools.js";

/**
 * Stage 4, assemble the map: the dm-multipath map over every path's disk, verified to hold all of
 * them active, and its undo, flush the map.
 */

/** The WWID shared by every connected path; paths that disagree mean two different LUNs. */
export function commonWwid(tools: IscsiTools, disks: readonly string[]): ResultAsync<string | undefined, VolkitError> {
  return ResultAsync.combine(disks.map((d) => scsiWwid(tools.fs, d))).andThen((wwids) => {
    const known = wwids.filter((w): w is string => w !== undefined);
    const first = known[0];
    if (first !== undefined && known.some((w) => !sameWwid(w, first))) {
      return errAsync(new VolkitError("INVALID_STATE", `the paths show different LUNs (WWIDs ${[...new Set(known)].join(", ")}): check the connection info`, { source: "iscsi", details: { disks: [...disks], wwids: known } }));
    }
    return okAsync(first);
  });
}

/**
 * The map over `disks` when it is complete, from sysfs alone: every disk held by the same
 * multipath map (dm uuid `mpath-…`), the map live (not suspended in a table load, a size), every
 * disk's SCSI device running. A path that joins later keeps it incomplete until it is in.
 */
export function completeMap(fs: HostFs, disks: readonly string[]): ResultAsync<DmDevice | undefined, VolkitError> {
  return ResultAsync.combine(disks.map((d) => multipathHolder(fs, d))).andThen((holders) => {
    const map = holders[0];
    if (!map || holders.some((h) => h?.dm !== map.dm)) return okAsync(undefined);
    return ResultAsync.combine([dmSuspended(fs, map.dm), blockDeviceSize(fs, map.dm), ResultAsync.combine(disks.map((d) => scsiDeviceState(fs, d)))] as const).map(([suspended, size, states]) =>
      !suspended && size > 0 && states.every((st) => st === "running") ? map : undefined,
    );
  });
}

/** Hands paths to multipathd: `multipath -a <wwid>` (for find_multipaths strict) and `multipathd add path` for each disk not yet in a map. */
function handToMultipathd(tools: IscsiTools, wwid: string | undefined, disks: readonly string[], ctx: OperationContext): ResultAsync<void, never> {
  const warn = (what: string) => (e: VolkitError): ResultAsync<undefined, never> => {
    ctx.logger.warn({ err: e.toJSON() }, what);
    return okAsync(undefined);
  };
  const whitelist = wwid === undefined ? okAsync(undefined) : tools.multipath.addWwid(wwid, ctx).orElse(warn(`multipath -a ${wwid} failed`));
  return whitelist
    .andThen(() => ResultAsync.combine(disks.map((d) => multipathHolder(tools.fs, d).orElse(() => okAsync(undefined)))))
    .andThen((holders) =>
      ResultAsync.combine(disks.filter((_, i) => holders[i] === undefined).map((d) => tools.multipath.addPath(`/dev/${d}`, ctx).orElse(warn(`multipathd add path /dev/${d} failed`)))),
    )
    .map(() => undefined);
}

/**
 * Waits for the multipath map over `disks` to be complete (see {@link completeMap}), in the
 * connector's sysfs rounds — never polling `multipathd show maps json`. multipathd builds the map
 * itself from the disks' uevents unless its `find_multipaths` is `strict`: then the paths are
 * handed to it at once (`multipath -a`, `multipathd add path`); otherwise only if no complete map
 * shows within `timeouts.mapFallbackMs`, as a fallback. `asked` is the policy when the caller
 * asked for it ahead (while logging in), so that the first connect of a process does not wait for it.
 */
export function assembleMap(
  tools: IscsiTools,
  wwid: string | undefined,
  disks: readonly string[],
  ctx: OperationContext,
  asked: ResultAsync<FindMultipaths, VolkitError> = tools.multipath.policy(ctx),
): ResultAsync<DmDevice, VolkitError> {
  const started = Date.now();
  return asked.andThen((policy) => {
    let handed = policy === "strict";
    const now = handed ? handToMultipathd(tools, wwid, disks, ctx) : okAsync(undefined);
    return now.andThen(() =>
      waitSysfs(
        tools,
        ctx,
        tools.config.timeouts.mapMs,
        (fs) =>
          completeMap(fs, disks).andThen((map) => {
            if (map || handed || Date.now() - started < tools.config.timeouts.mapFallbackMs) return okAsync(map);
            handed = true;
            ctx.logger.warn({ disks, ...(wwid ? { wwid } : {}), waitedMs: Date.now() - started }, "multipathd built no map on its own: handing the paths to it");
            return handToMultipathd(tools, wwid, disks, ctx).map(() => undefined);
          }),
        () =>
          new VolkitError("DEVICE_NOT_FOUND", `no multipath map with all ${disks.length} path(s) (${disks.join(", ")}) active within ${tools.config.timeouts.mapMs} ms${wwid ? ` for ${wwid}` : ""}`, {
            source: "iscsi",
            details: { disks: [...disks], ...(wwid ? { wwid } : {}) },
          }),
      ),
    );
  });
}

/** Runs `udevadm settle` (bounded; its failure is ignored), so udev's probe of a just-closed device ends first. */
function settleUdev(tools: IscsiTools, ctx: OperationContext): ResultAsync<void, never> {
  const bound = Math.min(UDEV_SETTLE_MS, ctx.remainingMs() ?? UDEV_SETTLE_MS);
  const seconds = Math.max(1, Math.ceil(bound / 1000));
  return tools.runner
    .run({ argv: ["udevadm", "settle", `--timeout=${seconds}`], signal: ctx.signal, timeoutMs: seconds * 1000 + 2000 })
    .map(() => undefined)
    .orElse(() => okAsync(undefined));
}

/** Longest single `udevadm settle` between two attempts to remove a map (ms). */
const UDEV_SETTLE_MS = 5000;

/** Devices stacked on a map other than its own partitions (which `multipath -f` removes itself). */
function foreignHolders(tools: IscsiTools, map: DmDevice): ResultAsync<string[], VolkitError> {
  return blockHolders(tools.fs, map.dm).andThen((holders) =>
    ResultAsync.combine(holders.map((h) => (h.startsWith("dm-") ? dmDevice(tools.fs, h) : okAsync(undefined)).map((d) => ({ h, d })))).map((all) =>
      all.filter(({ d }) => !(d !== undefined && /^part\d+-/.test(d.uuid) && d.uuid.endsWith(map.uuid))).map(({ h }) => h),
    ),
  );
}

/**
 * Flushes a map and waits until it left sysfs. `multipath -f` fails while anything holds the map
 * open — most often only for a moment: udev's probe (blkid) or kpartx, started when the last
 * writer closed the device, and stuck on a cut path until the path fails. So while the map is
 * in use this settles udev, waits for devices stacked on the map to go, and tries again, until
 * `timeouts.removeMs` or the operation's deadline; the error then names what holds it.
 */
export function flushMapUntilGone(tools: IscsiTools, map: DmDevice, ctx: OperationContext): ResultAsync<void, VolkitError> {
  let last: string | undefined;
  const gone = (): ResultAsync<boolean, VolkitError> => dmDevice(tools.fs, map.dm).map((d) => d?.uuid !== map.uuid);
  const attempt = (n: number): ResultAsync<true | undefined, VolkitError> =>
    gone().andThen((isGone) => {
      if (isGone) return okAsync(true as const);
      const settled = n === 1 ? okAsync(undefined) : settleUdev(tools, ctx);
      return settled.andThen(() => foreignHolders(tools, map)).andThen((holders): ResultAsync<true | undefined, VolkitError> => {
        if (holders.length > 0) {
          last = `held by ${holders.map((h) => `/dev/${h}`).join(", ")}`;
          return okAsync(undefined);
        }
        return tools.multipath
          .flushMap(map.name, ctx)
          .andThen(() => gone().map((g) => (g ? (true as const) : undefined)))
          .orElse((e) => {
            if (!e.transient) return errAsync(e);
            last = e.message;
            return okAsync(undefined);
          });
      });
    });
  const timeoutMs = tools.config.timeouts.removeMs;
  return poll(tools, ctx, timeoutMs, attempt, () => new VolkitError("DETACH_INCOMPLETE", `multipath map ${map.name} (${map.dm}) is still present after ${timeoutMs} ms of multipath -f`, { source: "iscsi", details: { map: map.name } }))
    .map(() => undefined)
    .orElse((e) =>
      e.code !== "DETACH_INCOMPLETE"
        ? errAsync(e)
        : deviceOpeners(tools.fs, [`/dev/${map.dm}`, `/dev/mapper/${map.name}`]).andThen((openers) =>
            errAsync(
              new VolkitError("DETACH_INCOMPLETE", `${e.message}${last ? ` (last: ${last})` : ""}${openers.length > 0 ? `; open by ${openers.join(", ")}` : ""}`, {
                source: "iscsi",
                details: { map: map.name, ...(openers.length > 0 ? { openers } : {}) },
              }),
            ),
          ),
    );
}

/** Undo of {@link assembleMap}: {@link flushMapUntilGone}, recorded in the report. */
export function removeMap(tools: IscsiTools, map: DmDevice, ctx: OperationContext, report: RemovalReport): ResultAsync<boolean, never> {
  return flushMapUntilGone(tools, map, ctx)
    .map(() => {
      report.remove(`map ${map.name}`);
      return true;
    })
    .orElse((e) => {
      report.fail("map", map.name, `could not remove the map: ${e.message}`, e);
      return okAsync(false);
    });
}

/**
 * Rollback's undo of this stage: removes each map over `created` (disks the connect made) whose
 * every path is one of them — a map that also holds a disk that was there before is left alone.
 */
export function removeMapsOnlyOver(tools: IscsiTools, created: readonly string[], ctx: OperationContext, report: RemovalReport): ResultAsync<void, VolkitError> {
  return safeTry(async function* () {
    const holders = yield* ResultAsync.combine(created.map((d) => multipathHolder(tools.fs, d)));
    const maps = [...new Map(holders.filter((h): h is DmDevice => h !== undefined).map((h) => [h.dm, h])).values()];
    for (const map of maps) {
      const slaves = yield* dmSlaves(tools.fs, map.dm);
      if (slaves.every((d) => created.includes(d))) yield* removeMap(tools, map, ctx, report);
    }
    return ok(undefined);
  });
}
