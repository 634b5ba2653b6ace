import { err, ok } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { Snapshot, SnapshotSpec, Volume, VolumeSpec } from "../../core/records.js";
import { planRevert, planSnapshotDelete, walkChain } from "./nfs-chain.js";
import { qemuError } from "./nfs-files.js";
import type { Flow, NfsImages } from "./nfs-images.js";
import { frozenError } from "./nfs-linked.js";
import { snapshotFileName, tempFileName, volumeFileName } from "./nfs-names.js";

/**
 * The NFS driver's snapshot flows on qcow2 overlay chains described by Cinder's `.info` file:
 * create an overlay, delete one by committing it down, a volume from a snapshot's data, and revert
 * to the newest snapshot.
 */

/** New qcow2 overlay on top of the active image; it becomes active; `.info` records it. */
export async function* createSnapshotFlow(images: NfsImages, snapshot: SnapshotSpec, volume: Volume, ctx: OperationContext): Flow<Snapshot> {
  const loc = yield* images.locateVolume(volume, ctx);
  const info = yield* images.readInfo(loc, volume.id, ctx);
  const record: Snapshot = { ...snapshot, providerLocation: loc.share };
  if (info.snapshots[snapshot.id] !== undefined) return ok(record);
  if (info.frozen === true) return err(frozenError(volume.id, "snapshot"));
  const active = yield* images.activeImage(loc, volume.id, info, ctx);
  const file = snapshotFileName(volume.id, snapshot.id);
  const path = `${loc.dir}/${file}`;
  const created = ctx
    .phase("overlay", () =>
      images.files
        .remove([path], ctx)
        .andThen(() => images.files.qemu.create({ path, format: "qcow2", sizeBytes: active.virtualSize, backingFile: active.name, backingFormat: active.format }, ctx).mapErr(qemuError))
        .andThen(() => images.files.chmod(path, ctx)),
    )
    .andThen(() => ctx.phase("info", () => images.writeInfo(loc, volume.id, { ...info, active: file, snapshots: { ...info.snapshots, [snapshot.id]: file } }, ctx)));
  yield* created.orElse((e) => images.cleanup([path], ctx, e));
  return ok(record);
}


/** Merges a snapshot's overlay down (see `planSnapshotDelete`); success when it is gone. */
export async function* deleteSnapshotFlow(images: NfsImages, snapshot: Snapshot, ctx: OperationContext): Flow<void> {
  const loc = yield* images.shares.locate(snapshot.volumeId, snapshot.providerLocation, ctx);
  if (!loc) return ok(undefined);
  const vid = snapshot.volumeId;
  const info = yield* images.readInfo(loc, vid, ctx);
  if (info.snapshots[snapshot.id] === undefined) return ok(undefined);
  const chain = yield* ctx.phase("chain", () => walkChain(images.files, loc.dir, vid, info.active, ctx, info.backing));
  const plan = yield* planSnapshotDelete(chain, info, snapshot.id);
  const snapshots = Object.fromEntries(Object.entries(info.snapshots).filter(([id]) => id !== snapshot.id));
  const at = (name: string): string => `${loc.dir}/${name}`;
  switch (plan.kind) {
    case "absent":
      return ok(undefined);
    case "forget":
      yield* images.writeInfo(loc, vid, { ...info, snapshots }, ctx);
      break;
    case "commit-active":
      yield* ctx.phase("commit", () => images.files.qemu.commit(at(plan.file), "qcow2", ctx).mapErr(qemuError));
      yield* ctx.phase("info", () => images.writeInfo(loc, vid, { ...info, active: plan.into.name, snapshots }, ctx));
      break;
    case "commit-middle":
      yield* ctx.phase("commit", () => images.files.qemu.commit(at(plan.file), "qcow2", ctx).mapErr(qemuError));
      yield* ctx.phase("rebase", () => images.files.qemu.rebase(at(plan.higher.name), plan.into.name, plan.into.format, true, ctx).mapErr(qemuError));
      yield* ctx.phase("info", () => images.writeInfo(loc, vid, { ...info, snapshots }, ctx));
      break;
  }
  yield* images.files.remove([at(plan.file)], ctx);
  return ok(undefined);
}


/** `qemu-img convert` of the snapshot's data (its overlay's backing) into a new volume, grown as asked. */
export async function* fromSnapshotFlow(images: NfsImages, spec: VolumeSpec, snapshot: Snapshot, ctx: OperationContext): Flow<Volume> {
  const missing = new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "nfs", details: { snapshotId: snapshot.id } });
  const loc = yield* images.shares.locate(snapshot.volumeId, snapshot.providerLocation, ctx);
  if (!loc) return err(missing);
  const info = yield* images.readInfo(loc, snapshot.volumeId, ctx);
  const file = info.snapshots[snapshot.id];
  if (file === undefined) return err(missing);
  const overlay = yield* images.files.imageInfo(`${loc.dir}/${file}`, "qcow2", { name: file, volumeId: snapshot.volumeId, backing: true }, ctx);
  const backing = overlay.backing as string;
  const isBase = backing === volumeFileName(snapshot.volumeId);
  const linkedTo = isBase ? info.backing : undefined;
  const data = yield* images.files.imageInfo(`${loc.dir}/${backing}`, overlay.backingFormat, { name: backing, volumeId: snapshot.volumeId, backing: !isBase || linkedTo !== undefined, ...(linkedTo === undefined ? {} : { linkedTo }) }, ctx);
  return ok(yield* images.copyInto(spec, { path: `${loc.dir}/${backing}`, format: data.format, virtualSize: data.virtualSize }, ctx));
}


/** A new empty overlay on the newest snapshot's data, renamed over the active overlay (see `planRevert`). */
export async function* revertFlow(images: NfsImages, volume: Volume, snapshot: Snapshot, ctx: OperationContext): Flow<void> {
  const loc = yield* images.locateVolume(volume, ctx);
  const info = yield* images.readInfo(loc, volume.id, ctx);
  if (info.snapshots[snapshot.id] === undefined) return err(new VolkitError("SNAPSHOT_NOT_FOUND", `snapshot ${snapshot.id} not found`, { source: "nfs" }));
  const chain = yield* ctx.phase("chain", () => walkChain(images.files, loc.dir, volume.id, info.active, ctx, info.backing));
  const plan = yield* planRevert(chain, info, snapshot.id);
  const target = `${loc.dir}/${plan.file}`;
  const tmp = `${loc.dir}/${tempFileName(plan.file, "revert")}`;
  const swap = images.files
    .remove([tmp], ctx)
    .andThen(() => images.files.qemu.create({ path: tmp, format: "qcow2", sizeBytes: plan.sizeBytes, backingFile: plan.backing.name, backingFormat: plan.backing.format }, ctx).mapErr(qemuError))
    .andThen(() => images.files.chmod(tmp, ctx))
    .andThen(() => images.files.rename(tmp, target, ctx));
  yield* ctx.phase("new-overlay", () => swap.orElse((e) => images.cleanup([tmp], ctx, e)));
  return ok(undefined);
}
