import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import { RbdCli } from "./rbd-cli.js";
import { imageSpec, poolSpec, type ImageRef, type SnapshotRef } from "./rbd-names.js";
import {
  parseCephDf,
  parseCephMonDump,
  parseRbdChildren,
  parseRbdConfig,
  parseRbdDeviceList,
  parseRbdDiff,
  parseRbdDu,
  parseRbdInfo,
  parseRbdLongList,
  parseRbdNames,
  parseRbdNamespaces,
  parseRbdSnapshots,
  parseRbdStatus,
  parseRbdTrash,
  type CephDf,
  type CephMonMap,
  type RbdChild,
  type RbdConfigEntry,
  type RbdDiskUsage,
  type RbdExtent,
  type RbdImageInfo,
  type RbdListEntry,
  type RbdMappedDevice,
  type RbdSnapshot,
  type RbdStatus,
  type RbdTrashEntry,
} from "./rbd-parsers.js";

/**
 * An image by its id, for images in the trash, which have no name to open them by
 * (`--pool <pool> [--namespace <ns>] --image-id <id>`).
 */
export interface ImageIdRef {
  /** Pool holding the image. */
  readonly pool: string;
  /** Namespace inside the pool. */
  readonly namespace?: string | undefined;
  /** The image's id (`rbd info`'s `id`, a clone's `parent.id`). */
  readonly imageId: string;
}

/**
 * The read-only side of {@link RbdClient}: `rbd` and `ceph` queries, each parsed by its pure parser
 * (`rbd-parsers.ts`) from `--format json` output.
 */
export class RbdQueries extends RbdCli {
  info(ref: ImageRef | SnapshotRef, ctx: OperationContext): ResultAsync<RbdImageInfo, VolkitError> {
    const spec = imageSpec(ref);
    return this.json(["info", spec], ctx, { target: spec, snapshot: "snapshot" in ref }, parseRbdInfo);
  }

  /** `rbd info`, or undefined when the image does not exist (a missing pool is still an error). */
  findImage(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdImageInfo | undefined, VolkitError> {
    return this.info(ref, ctx).orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
  }

  /** Image names of a pool. */
  listImages(pool: string, ctx: OperationContext, namespace?: string): ResultAsync<string[], VolkitError> {
    const spec = poolSpec(pool, namespace);
    return this.json(["ls", spec], ctx, { target: spec }, parseRbdNames);
  }

  /** Images and snapshots of a pool with sizes and parents (`rbd ls -l`). */
  listImagesLong(pool: string, ctx: OperationContext, namespace?: string): ResultAsync<RbdListEntry[], VolkitError> {
    const spec = poolSpec(pool, namespace);
    return this.json(["ls", "-l", spec], ctx, { target: spec }, parseRbdLongList);
  }

  /** Provisioned and used bytes of one image (and its snapshots), or of every image of a pool. */
  diskUsage(target: ImageRef | { readonly pool: string; readonly namespace?: string }, ctx: OperationContext): ResultAsync<RbdDiskUsage, VolkitError> {
    if ("image" in target) {
      const spec = imageSpec(target);
      return this.json(["du", spec], ctx, { target: spec }, parseRbdDu);
    }
    const ns = target.namespace === undefined ? [] : ["--namespace", target.namespace];
    return this.json(["du", "--pool", target.pool, ...ns], ctx, { target: poolSpec(target.pool, target.namespace) }, parseRbdDu);
  }

  /** Snapshots of an image. */
  snapshots(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdSnapshot[], VolkitError> {
    const spec = imageSpec(ref);
    return this.json(["snap", "ls", spec], ctx, { target: spec }, parseRbdSnapshots);
  }

  /** Clones of a snapshot (`all`: also those in the trash). */
  children(ref: SnapshotRef, ctx: OperationContext, options: { readonly all?: boolean } = {}): ResultAsync<RbdChild[], VolkitError> {
    const spec = imageSpec(ref);
    return this.json(["children", ...(options.all ? ["--all"] : []), spec], ctx, { target: spec, snapshot: true }, parseRbdChildren);
  }

  /** Images in a pool's trash, with source, deletion time and status. */
  trashList(pool: string, ctx: OperationContext, namespace?: string): ResultAsync<RbdTrashEntry[], VolkitError> {
    const spec = poolSpec(pool, namespace);
    return this.json(["trash", "ls", "-l", spec], ctx, { target: spec }, parseRbdTrash);
  }

  /** Watchers of an image: the clients that have it open. */
  status(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdStatus, VolkitError> {
    const spec = imageSpec(ref);
    return this.json(["status", spec], ctx, { target: spec }, parseRbdStatus);
  }

  /** Every configuration value of an image with its source (`image` = set on the image). */
  imageConfig(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdConfigEntry[], VolkitError> {
    const spec = imageSpec(ref);
    return this.json(["config", "image", "list", spec], ctx, { target: spec }, parseRbdConfig);
  }

  /** Extents that changed since `fromSnapshot` (or since creation), up to the image or `ref.snapshot`. */
  diff(ref: ImageRef & { readonly snapshot?: string }, ctx: OperationContext, options: { readonly fromSnapshot?: string; readonly wholeObject?: boolean } = {}): ResultAsync<RbdExtent[], VolkitError> {
    const spec = imageSpec(ref);
    const from = options.fromSnapshot === undefined ? [] : ["--from-snap", options.fromSnapshot];
    return this.json(["diff", ...from, ...(options.wholeObject ? ["--whole-object"] : []), spec], ctx, { target: spec, snapshot: options.fromSnapshot !== undefined }, parseRbdDiff);
  }

  /** Images mapped on the runner's host by the kernel client. */
  mappedDevices(ctx: OperationContext): ResultAsync<RbdMappedDevice[], VolkitError> {
    return this.json(["device", "list"], ctx, { target: "mapped devices" }, parseRbdDeviceList);
  }

  /** Cluster and pool capacity (`ceph df`; with `detail`, pool quotas too; `profile rbd` caps suffice). */
  cephDf(ctx: OperationContext, options: { readonly detail?: boolean } = {}): ResultAsync<CephDf, VolkitError> {
    return this.ceph(["df", ...(options.detail ? ["detail"] : []), "--format", "json"], ctx, { target: "cluster" }).andThen((out) => parseCephDf(out.stdout));
  }

  /** The monitor map: fsid and every monitor's addresses (`profile rbd` caps suffice). */
  monDump(ctx: OperationContext): ResultAsync<CephMonMap, VolkitError> {
    return this.ceph(["mon", "dump", "--format", "json"], ctx, { target: "cluster" }).andThen((out) => parseCephMonDump(out.stdout));
  }

  /** Namespaces of a pool (fails when the pool does not exist). */
  namespaces(pool: string, ctx: OperationContext): ResultAsync<string[], VolkitError> {
    return this.json(["namespace", "ls", pool], ctx, { target: pool }, parseRbdNamespaces);
  }

  // Images by id (in the trash) ---------------------------------------------------------------

  /** `rbd info` of an image by id (works for images in the trash). */
  infoById(ref: ImageIdRef, ctx: OperationContext): ResultAsync<RbdImageInfo, VolkitError> {
    return this.json(["info", ...idArgs(ref)], ctx, { target: idTarget(ref) }, parseRbdInfo);
  }

  /** Snapshots of an image by id. */
  snapshotsById(ref: ImageIdRef, ctx: OperationContext): ResultAsync<RbdSnapshot[], VolkitError> {
    return this.json(["snap", "ls", ...idArgs(ref)], ctx, { target: idTarget(ref) }, parseRbdSnapshots);
  }
}

/** `--pool <pool> [--namespace <ns>] --image-id <id>`: the arguments naming an image by id. */
export function idArgs(ref: ImageIdRef): string[] {
  return ["--pool", ref.pool, ...(ref.namespace === undefined ? [] : ["--namespace", ref.namespace]), "--image-id", ref.imageId];
}

/** How an image given by id is named in errors: `<pool>[/<ns>]/id:<id>`. */
export function idTarget(ref: ImageIdRef): string {
  return `${poolSpec(ref.pool, ref.namespace)}/id:${ref.imageId}`;
}
