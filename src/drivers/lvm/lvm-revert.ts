import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withRetry } from "../../core/retry.js";
import type { LvmClient } from "./lvm-client.js";
import { originTag, revertOldLvName, revertTempLvName } from "./lvm-names.js";
import type { LvInfo } from "./lvm-parsers.js";

/**
 * Reverting a volume to a snapshot, keeping the snapshot and the volume's size.
 */

/** Thick: merge the snapshot, reactivate, wait for the merge, re-create the snapshot. */
export function revertThick(lvm: LvmClient, volumeId: string, lv: LvInfo, snap: LvInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const name = lv.name;
  return ctx
    .phase("merge", () => lvm.merge(snap.name, ctx))
    .andThen(() => ctx.phase("reactivate", () => lvm.deactivate(name, ctx).andThen(() => lvm.activate(name, ctx))))
    .andThen(() => ctx.phase("wait-merge", () => waitGone(lvm, snap.name, ctx)))
    .andThen(() => ctx.phase("recreate-snapshot", () => lvm.createSnapshot(snap.name, name, ctx, { cowBytes: lv.sizeBytes, tags: [originTag(volumeId)] })));
}

/**
 * Thin (unsupported upstream): a thin snapshot of the snapshot, grown to the volume's size, swapped
 * in by renames; the old LV is dropped last. Any failure before that swaps back.
 */
export function revertThin(lvm: LvmClient, volumeId: string, lv: LvInfo, snapName: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const temp = revertTempLvName(volumeId);
  const old = revertOldLvName(volumeId);
  const name = lv.name;
  const undo = (e: VolkitError): ResultAsync<void, VolkitError> => {
    const rctx = rollbackContext(ctx);
    return lvm
      .listLvs(rctx)
      .andThen((lvs) => {
        const has = (n: string): boolean => lvs.some((l) => l.name === n);
        const restore = !has(name) && has(old) ? lvm.rename(old, name, rctx) : okAsync<void, VolkitError>(undefined);
        return restore.andThen(() => (has(temp) ? lvm.remove(temp, rctx) : okAsync(undefined)));
      })
      .orElse(() => okAsync(undefined))
      .andThen(() => errAsync(e));
  };
  return lvm
    .remove(temp, ctx)
    .andThen(() => ctx.phase("thin-snapshot", () => lvm.createSnapshot(temp, snapName, ctx, { activate: true })))
    .andThen(() => lvm.findLv(temp, ctx))
    .andThen((t) => (t && t.sizeBytes < lv.sizeBytes ? lvm.extendBytes(temp, lv.sizeBytes, ctx) : okAsync(undefined)))
    .andThen(() => ctx.phase("swap", () => lvm.rename(name, old, ctx).andThen(() => lvm.rename(temp, name, ctx))))
    .andThen(() => lvm.activate(name, ctx))
    .orElse(undo)
    .andThen(() => ctx.phase("drop-old", () => lvm.remove(old, ctx)));
}

/** Waits (back-off, under the deadline) until an LV is gone, e.g. a merging snapshot. */
function waitGone(lvm: LvmClient, name: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return withRetry(
    () => lvm.findLv(name, ctx).andThen((lv) => (lv ? errAsync(new VolkitError("TIMEOUT", `${name} still present (merge in progress)`, { source: "lvm", transient: true })) : okAsync(undefined))),
    { retries: 40, minTimeoutMs: 100, maxTimeoutMs: 2000, factor: 1.5, signal: ctx.signal },
  );
}
