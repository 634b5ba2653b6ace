import { errAsync, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { CommandOutput, CommandRunner } from "../../exec/runner.js";
import { CephKeyfile, connectionArgs, qemuRbdFilename, type RbdConnection } from "./rbd-connection.js";
import { classifyRbdError, type RbdErrorSubject } from "./rbd-errors.js";
import { imageSpec, poolSpec, RBD_QOS_KEYS, type ImageFeature, type ImageRef, type RbdQos, type SnapshotRef } from "./rbd-names.js";
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

/** Options of {@link RbdClient.rbd} and {@link RbdClient.ceph}. */
export interface RbdRunOptions {
  /** Data-sized command (flatten, rollback, export-diff…): no command timeout, only the operation's deadline. */
  readonly long?: boolean;
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
export class RbdClient {
  readonly #keyfile: CephKeyfile | undefined;

  /** @param runner - where the CLIs run; @param connection - validated connection. */
  constructor(
    private readonly runner: CommandRunner,
    readonly connection: RbdConnection,
  ) {
    this.#keyfile = connection.key === undefined ? undefined : new CephKeyfile(runner, connection.key, connection.keyfileDir);
  }

  /** The key file's path when the connection carries a key, else undefined. */
  keyfilePath(ctx: OperationContext): ResultAsync<string | undefined, VolkitError> {
    return this.#keyfile === undefined ? okAsync(undefined) : this.#keyfile.path(ctx);
  }

  /** The `rbd:` filename qemu-img/qemu-io open through librbd (see `qemuRbdFilename`); writes the key file when needed. */
  qemuFilename(ref: ImageRef & { readonly snapshot?: string }, ctx: OperationContext): ResultAsync<string, VolkitError> {
    return this.keyfilePath(ctx).map((keyfile) => qemuRbdFilename(this.connection, ref, keyfile));
  }

  /** Removes the key file, if one was written. */
  close(ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#keyfile === undefined ? okAsync(undefined) : this.#keyfile.remove(ctx);
  }

  /** Runs `rbd <connection options> <args>`, failures classified for `subject`. */
  rbd(args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject, options: RbdRunOptions = {}): ResultAsync<CommandOutput, VolkitError> {
    return this.#run("rbd", args, ctx, subject, options);
  }

  /** Runs `ceph <connection options> <args>`, failures classified for `subject`. */
  ceph(args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject): ResultAsync<CommandOutput, VolkitError> {
    return this.#run("ceph", args, ctx, subject, {});
  }

  #run(program: "rbd" | "ceph", args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject, options: RbdRunOptions): ResultAsync<CommandOutput, VolkitError> {
    const secrets = this.connection.key === undefined ? [] : [this.connection.key];
    return this.keyfilePath(ctx).andThen((keyfile) =>
      this.runner
        .run({
          argv: [program, ...connectionArgs(this.connection, keyfile), ...args],
          env: { LC_ALL: "C" },
          signal: ctx.signal,
          secrets,
          ...(options.long ? {} : { timeoutMs: this.connection.commandTimeoutMs }),
        })
        .mapErr((e) => classifyRbdError(e, subject)),
    );
  }

  #json<T>(args: readonly string[], ctx: OperationContext, subject: RbdErrorSubject, parse: (stdout: string) => Result<T, VolkitError>): ResultAsync<T, VolkitError> {
    return this.rbd([...args, "--format", "json"], ctx, subject).andThen((out) => parse(out.stdout));
  }

  // Queries -----------------------------------------------------------------------------------

  /** `rbd info` of an image or snapshot. */
  info(ref: ImageRef | SnapshotRef, ctx: OperationContext): ResultAsync<RbdImageInfo, VolkitError> {
    const spec = imageSpec(ref);
    return this.#json(["info", spec], ctx, { target: spec, snapshot: "snapshot" in ref }, parseRbdInfo);
  }

  /** `rbd info`, or undefined when the image does not exist (a missing pool is still an error). */
  findImage(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdImageInfo | undefined, VolkitError> {
    return this.info(ref, ctx).orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
  }

  /** Image names of a pool. */
  listImages(pool: string, ctx: OperationContext, namespace?: string): ResultAsync<string[], VolkitError> {
    const spec = poolSpec(pool, namespace);
    return this.#json(["ls", spec], ctx, { target: spec }, parseRbdNames);
  }

  /** Images and snapshots of a pool with sizes and parents (`rbd ls -l`). */
  listImagesLong(pool: string, ctx: OperationContext, namespace?: string): ResultAsync<RbdListEntry[], VolkitError> {
    const spec = poolSpec(pool, namespace);
    return this.#json(["ls", "-l", spec], ctx, { target: spec }, parseRbdLongList);
  }

  /** Provisioned and used bytes of one image (and its snapshots), or of every image of a pool. */
  diskUsage(target: ImageRef | { readonly pool: string; readonly namespace?: string }, ctx: OperationContext): ResultAsync<RbdDiskUsage, VolkitError> {
    if ("image" in target) {
      const spec = imageSpec(target);
      return this.#json(["du", spec], ctx, { target: spec }, parseRbdDu);
    }
    const ns = target.namespace === undefined ? [] : ["--namespace", target.namespace];
    return this.#json(["du", "--pool", target.pool, ...ns], ctx, { target: poolSpec(target.pool, target.namespace) }, parseRbdDu);
  }

  /** Snapshots of an image. */
  snapshots(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdSnapshot[], VolkitError> {
    const spec = imageSpec(ref);
    return this.#json(["snap", "ls", spec], ctx, { target: spec }, parseRbdSnapshots);
  }

  /** Clones of a snapshot (`all`: also those in the trash). */
  children(ref: SnapshotRef, ctx: OperationContext, options: { readonly all?: boolean } = {}): ResultAsync<RbdChild[], VolkitError> {
    const spec = imageSpec(ref);
    return this.#json(["children", ...(options.all ? ["--all"] : []), spec], ctx, { target: spec, snapshot: true }, parseRbdChildren);
  }

  /** Images in a pool's trash, with source, deletion time and status. */
  trashList(pool: string, ctx: OperationContext, namespace?: string): ResultAsync<RbdTrashEntry[], VolkitError> {
    const spec = poolSpec(pool, namespace);
    return this.#json(["trash", "ls", "-l", spec], ctx, { target: spec }, parseRbdTrash);
  }

  /** Watchers of an image: the clients that have it open. */
  status(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdStatus, VolkitError> {
    const spec = imageSpec(ref);
    return this.#json(["status", spec], ctx, { target: spec }, parseRbdStatus);
  }

  /** Every configuration value of an image with its source (`image` = set on the image). */
  imageConfig(ref: ImageRef, ctx: OperationContext): ResultAsync<RbdConfigEntry[], VolkitError> {
    const spec = imageSpec(ref);
    return this.#json(["config", "image", "list", spec], ctx, { target: spec }, parseRbdConfig);
  }

  /** Extents that changed since `fromSnapshot` (or since creation), up to the image or `ref.snapshot`. */
  diff(ref: ImageRef & { readonly snapshot?: string }, ctx: OperationContext, options: { readonly fromSnapshot?: string; readonly wholeObject?: boolean } = {}): ResultAsync<RbdExtent[], VolkitError> {
    const spec = imageSpec(ref);
    const from = options.fromSnapshot === undefined ? [] : ["--from-snap", options.fromSnapshot];
    return this.#json(["diff", ...from, ...(options.wholeObject ? ["--whole-object"] : []), spec], ctx, { target: spec, snapshot: options.fromSnapshot !== undefined }, parseRbdDiff);
  }

  /** Images mapped on the runner's host by the kernel client. */
  mappedDevices(ctx: OperationContext): ResultAsync<RbdMappedDevice[], VolkitError> {
    return this.#json(["device", "list"], ctx, { target: "mapped devices" }, parseRbdDeviceList);
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
    return this.#json(["namespace", "ls", pool], ctx, { target: pool }, parseRbdNamespaces);
  }

  // Images by id (in the trash) ---------------------------------------------------------------

  /** `rbd info` of an image by id (works for images in the trash). */
  infoById(ref: ImageIdRef, ctx: OperationContext): ResultAsync<RbdImageInfo, VolkitError> {
    return this.#json(["info", ...idArgs(ref)], ctx, { target: idTarget(ref) }, parseRbdInfo);
  }

  /** Snapshots of an image by id. */
  snapshotsById(ref: ImageIdRef, ctx: OperationContext): ResultAsync<RbdSnapshot[], VolkitError> {
    return this.#json(["snap", "ls", ...idArgs(ref)], ctx, { target: idTarget(ref) }, parseRbdSnapshots);
  }

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

function idArgs(ref: ImageIdRef): string[] {
  return ["--pool", ref.pool, ...(ref.namespace === undefined ? [] : ["--namespace", ref.namespace]), "--image-id", ref.imageId];
}

function idTarget(ref: ImageIdRef): string {
  return `${poolSpec(ref.pool, ref.namespace)}/id:${ref.imageId}`;
}

function stderrOf(error: VolkitError): string {
  return typeof error.details.stderr === "string" ? error.details.stderr : "";
}

/** Success for a removal whose target is already gone. */
function ignoreMissing(result: ResultAsync<CommandOutput, VolkitError>): ResultAsync<void, VolkitError> {
  return result.map(() => undefined).orElse((e) => (e.code === "VOLUME_NOT_FOUND" || e.code === "SNAPSHOT_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
}

/** Runs steps one after the other, stopping at the first failure. */
function sequence(steps: readonly (() => ResultAsync<void, VolkitError>)[]): ResultAsync<void, VolkitError> {
  return steps.reduce<ResultAsync<void, VolkitError>>((chain, step) => chain.andThen(step), okAsync(undefined));
}
