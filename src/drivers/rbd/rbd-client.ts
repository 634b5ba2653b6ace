import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { ignoreMissing, sequence, stderrOf } from "./rbd-cli.js";
import { imageSpec, poolSpec, RBD_QOS_KEYS, type ImageFeature, type ImageRef, type RbdQos, type SnapshotRef } from "./rbd-names.js";
import { idArgs, idTarget, RbdQueries, type ImageIdRef } from "./rbd-queries.js";

export type { RbdRunOptions } from "./rbd-cli.js";
export type { ImageIdRef } from "./rbd-queries.js";

/** Layout options of a new image or clone. */
export interface RbdCreateOptions {
  /** Image features (`--image-feature`); the cluster's defaults when absent. */
  readonly features?: readonly ImageFeature[];
  /** Pool for the data objects (erasure-coded pools), metadata staying in the image's pool. */
  readonly dataPool?: string;
  /** Object size in bytes (power of two, 4 KiB–32 MiB; default 4 MiB). */
  readonly objectSizeBytes?: number;
}

/**
 * Typed access to the `rbd` and `ceph` CLIs for one cephx client. Every command runs through the
 * runner (local, root helper or SSH) with `--format json` where it prints data, the connection's
 * options (config, monitors, `--id`, keyring or key file, `--client-mount-timeout`), the
 * operation's signal, and its failure classified (see `classifyRbdError`). Removals are idempotent:
 * removing what is already gone succeeds.
 *
 * @example
 * ```ts
 * const client = new RbdClient(createLocalRunner(), validate(RbdConnectionSchema, { confPath: "/etc/ceph/ceph.conf", clientId: "cinder" }, "connection")._unsafeUnwrap());
 * await client.create({ pool: "volumes", image: "volume-1" }, 1024 ** 3, ctx);
 * ```
 */
export class RbdClient extends RbdQueries {
  // Snapshots of images by id (in the trash) ---------------------------------------------------

  /** Unprotects a snapshot of an image given by id; succeeds when it is not protected. `VOLUME_BUSY` while it has clones. */
  snapUnprotectById(ref: ImageIdRef, snapshot: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.rbd(["snap", "unprotect", ...idArgs(ref), "--snap", snapshot], ctx, { target: `${idTarget(ref)}@${snapshot}`, snapshot: true })
      .map(() => undefined)
      .orElse((e) => (/already unprotected/.test(stderrOf(e)) ? okAsync(undefined) : errAsync(e)));
  }

  /** Removes a snapshot of an image given by id; succeeds when it is gone. */
  snapRemoveById(ref: ImageIdRef, snapshot: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return ignoreMissing(this.rbd(["snap", "rm", "--no-progress", ...idArgs(ref), "--snap", snapshot], ctx, { target: `${idTarget(ref)}@${snapshot}`, snapshot: true }, { long: true }));
  }

  // Images ------------------------------------------------------------------------------------

  /** Creates an image of `sizeBytes` (`VOLUME_EXISTS` when the name is taken). */
  create(ref: ImageRef, sizeBytes: number, ctx: OperationContext, options: RbdCreateOptions = {}): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["create", "--no-progress", "--size", `${sizeBytes}B`, ...layoutArgs(options), spec], ctx, { target: spec }).map(() => undefined);
  }

  /** Removes an image; succeeds when it is already gone. `VOLUME_BUSY` with snapshots or watchers. */
  remove(ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return ignoreMissing(this.rbd(["rm", "--no-progress", spec], ctx, { target: spec }, { long: true }));
  }

  /**
   * Moves an image to the trash (allowed even with snapshots, clones or watchers) and returns its
   * id, which names it there. `expiresAt` protects it from `trash purge` until then.
   */
  trashMove(ref: ImageRef, ctx: OperationContext, options: { readonly expiresAt?: Date } = {}): ResultAsync<string, VolkitError> {
    const spec = imageSpec(ref);
    const expires = options.expiresAt === undefined ? [] : ["--expires-at", options.expiresAt.toISOString().replace("T", " ").replace(/\.\d+Z$/, "")];
    return this.info(ref, ctx).andThen((info) => this.rbd(["trash", "mv", ...expires, spec], ctx, { target: spec }).map(() => info.id));
  }

  /** Deletes an image from the trash by id; succeeds when it is not there. */
  trashRemove(pool: string, id: string, ctx: OperationContext, options: { readonly namespace?: string; readonly force?: boolean } = {}): ResultAsync<void, VolkitError> {
    const spec = `${poolSpec(pool, options.namespace)}/${id}`;
    return ignoreMissing(this.rbd(["trash", "rm", "--no-progress", ...(options.force ? ["--force"] : []), spec], ctx, { target: `trash ${spec}` }, { long: true }));
  }

  /** Restores an image from the trash (under `name` when given). */
  trashRestore(pool: string, id: string, ctx: OperationContext, options: { readonly namespace?: string; readonly name?: string } = {}): ResultAsync<void, VolkitError> {
    const spec = `${poolSpec(pool, options.namespace)}/${id}`;
    return this.rbd(["trash", "restore", ...(options.name === undefined ? [] : ["--image", options.name]), spec], ctx, { target: `trash ${spec}` }).map(() => undefined);
  }

  /** Resizes an image; shrinking needs `allowShrink` (else `INVALID_ARGUMENT`). */
  resize(ref: ImageRef, sizeBytes: number, ctx: OperationContext, options: { readonly allowShrink?: boolean } = {}): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["resize", "--no-progress", "--size", `${sizeBytes}B`, ...(options.allowShrink ? ["--allow-shrink"] : []), spec], ctx, { target: spec }, { long: true }).map(() => undefined);
  }

  /** Renames an image within its pool. */
  rename(ref: ImageRef, newName: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["rename", spec, imageSpec({ ...ref, image: newName })], ctx, { target: spec }).map(() => undefined);
  }

  /** Clones a protected snapshot into `child` (copy-on-write). */
  clone(parent: SnapshotRef, child: ImageRef, ctx: OperationContext, options: RbdCreateOptions = {}): ResultAsync<void, VolkitError> {
    const spec = imageSpec(child);
    return this.rbd(["clone", ...layoutArgs(options), imageSpec(parent), spec], ctx, { target: spec }).map(() => undefined);
  }

  /** Copies the parent's data into a clone, detaching it from its parent. */
  flatten(ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["flatten", "--no-progress", spec], ctx, { target: spec }, { long: true }).map(() => undefined);
  }

  // Snapshots ---------------------------------------------------------------------------------

  /** Takes a snapshot (`SNAPSHOT_EXISTS` when the name is taken). */
  snapCreate(ref: SnapshotRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["snap", "create", "--no-progress", spec], ctx, { target: spec, snapshot: true }).map(() => undefined);
  }

  /** Removes a snapshot; succeeds when it (or its image) is gone. `VOLUME_BUSY` when protected. */
  snapRemove(ref: SnapshotRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return ignoreMissing(this.rbd(["snap", "rm", "--no-progress", spec], ctx, { target: spec, snapshot: true }, { long: true }));
  }

  /** Protects a snapshot so it can be cloned; succeeds when it already is. */
  snapProtect(ref: SnapshotRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["snap", "protect", spec], ctx, { target: spec, snapshot: true })
      .map(() => undefined)
      .orElse((e) => (/already protected/.test(stderrOf(e)) ? okAsync(undefined) : errAsync(e)));
  }

  /** Unprotects a snapshot; succeeds when it is not protected. `VOLUME_BUSY` while it has clones. */
  snapUnprotect(ref: SnapshotRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["snap", "unprotect", spec], ctx, { target: spec, snapshot: true })
      .map(() => undefined)
      .orElse((e) => (/already unprotected/.test(stderrOf(e)) ? okAsync(undefined) : errAsync(e)));
  }

  /**
   * Removes every unprotected snapshot, then checks: `rbd snap purge` prints an error for protected
   * snapshots yet exits 0, so any snapshot left makes this `VOLUME_BUSY` naming them.
   */
  snapPurge(ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["snap", "purge", "--no-progress", spec], ctx, { target: spec }, { long: true })
      .andThen(() => this.snapshots(ref, ctx))
      .andThen((left) =>
        left.length === 0
          ? okAsync(undefined)
          : errAsync(
              new VolkitError("VOLUME_BUSY", `${spec} still has snapshots after purge: ${left.map((s) => `${s.name}${s.protected ? " (protected)" : ""}`).join(", ")}`, {
                source: "rbd",
                details: { target: spec, snapshots: left.map((s) => s.name) },
              }),
            ),
      );
  }

  /** Renames a snapshot (allowed while it is protected and has clones: they follow it by id). */
  snapRename(ref: SnapshotRef, newName: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["snap", "rename", spec, imageSpec({ ...ref, snapshot: newName })], ctx, { target: spec, snapshot: true }).map(() => undefined);
  }

  /** Rolls an image back to a snapshot (rewrites the image's data: data-sized). */
  snapRollback(ref: SnapshotRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["snap", "rollback", "--no-progress", spec], ctx, { target: spec, snapshot: true }, { long: true }).map(() => undefined);
  }

  // Configuration and QoS ---------------------------------------------------------------------

  /** Sets an image-level configuration override (`rbd config image set`). */
  setImageConfig(ref: ImageRef, key: string, value: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["config", "image", "set", spec, key, value], ctx, { target: spec }).map(() => undefined);
  }

  /** Removes an image-level override; succeeds when it is not set. */
  removeImageConfig(ref: ImageRef, key: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["config", "image", "remove", spec, key], ctx, { target: spec })
      .map(() => undefined)
      .orElse((e) => (e.code === "VOLUME_NOT_FOUND" && /failed to remove/.test(stderrOf(e)) ? okAsync(undefined) : errAsync(e)));
  }

  /** Applies QoS limits to an image (librbd enforces them in every client); keys not given are left alone. */
  setQos(ref: ImageRef, qos: RbdQos, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const settings = Object.entries(qos).filter((e): e is [keyof typeof RBD_QOS_KEYS, number] => e[1] !== undefined);
    return sequence(settings.map(([name, value]) => () => this.setImageConfig(ref, RBD_QOS_KEYS[name], String(value), ctx)));
  }

  /** Removes every image-level QoS override (the pool's or cluster's values apply again). */
  clearQos(ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.imageConfig(ref, ctx).andThen((entries) => {
      const set = new Set(entries.filter((e) => e.source === "image").map((e) => e.name));
      const keys = Object.values(RBD_QOS_KEYS).filter((k) => set.has(k));
      return sequence(keys.map((key) => () => this.removeImageConfig(ref, key, ctx)));
    });
  }

  // Incremental copies ------------------------------------------------------------------------

  /** Writes the changes up to `ref.snapshot` (since `fromSnapshot`, or all data) to `path` on the runner's host. */
  exportDiff(ref: SnapshotRef, path: string, ctx: OperationContext, options: { readonly fromSnapshot?: string; readonly wholeObject?: boolean } = {}): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    const from = options.fromSnapshot === undefined ? [] : ["--from-snap", options.fromSnapshot];
    return this.rbd(["export-diff", "--no-progress", ...from, ...(options.wholeObject ? ["--whole-object"] : []), spec, path], ctx, { target: spec, snapshot: true }, { long: true }).map(() => undefined);
  }

  /** Applies a diff written by {@link RbdClient.exportDiff} to an image (creating the end snapshot on it). */
  importDiff(path: string, ref: ImageRef, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const spec = imageSpec(ref);
    return this.rbd(["import-diff", "--no-progress", path, spec], ctx, { target: spec }, { long: true }).map(() => undefined);
  }
}

function layoutArgs(options: RbdCreateOptions): string[] {
  return [
    ...(options.features === undefined ? [] : ["--image-feature", options.features.join(",")]),
    ...(options.dataPool === undefined ? [] : ["--data-pool", options.dataPool]),
    ...(options.objectSizeBytes === undefined ? [] : ["--object-size", `${options.objectSizeBytes}B`]),
  ];
}
