import { ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { AttachmentRecord } from "../service/records/attachment-record.js";
import type { BackupRecord } from "../service/records/backup-record.js";
import type { ImageCacheEntry } from "../service/records/image-cache-record.js";
import type { SnapshotRecord } from "../service/records/snapshot-record.js";
import type { VolumeRecord } from "../service/records/volume-record.js";
import type { VolumeTypeRecord } from "../service/records/volume-type-record.js";
import type { HostFs } from "../host/host-fs.js";
import { specIsTrue } from "../service/type-catalog.js";
import type { VolumeService } from "../service/volume-service.js";
import { createType, deleteType, getType, purgeImageCache, reconcileThrough } from "./service-adapter-admin.js";
import type {
  AttachRequest,
  AttachResult,
  BackupFilter,
  CreateBackupRequest,
  CreateTypeRequest,
  CreateVolumeRequest,
  DeleteBackupRequest,
  DeleteVolumeRequest,
  DetachRequest,
  DetachResult,
  HostCleanupReport,
  HostResidue,
  ImportBackupRecordRequest,
  ManageRequest,
  MigrateRequest,
  PurgeImageCacheRequest,
  ReconcileReport,
  ReconcileRequest,
  ResetStatusRequest,
  RestoreRequest,
  RestoreResult,
  RetypeRequest,
  ServiceCallOptions,
  ServiceLike,
  SnapshotFilter,
  SnapshotVolumeRequest,
  VerifyResult,
  VolumeDetail,
  VolumeFilter,
} from "./service-like.js";

/**
 * {@link ServiceLike} on a {@link VolumeService}: each CLI call becomes one service call, its
 * request reshaped (`backend#pool` split, `mode: "ro"` → `readOnly`), the service's `progress`
 * events forwarded to the command's bar, and the CLI's conventions kept: deleting what does not
 * exist succeeds, and what the service cannot do yet answers `NOT_SUPPORTED` naming the missing piece.
 */

/** What the adapter knows about the config besides the service. */
export interface AdapterOptions {
  /** Names of the types the config file declares (re-written at every open: not deletable from the CLI). */
  readonly configTypes: readonly string[];
  /** Where `host cleanup` reads /sys (default: this machine's). */
  readonly hostFs?: HostFs;
}

/** The operation options of a call, without the CLI's event bus. */
function operationOptions(options: ServiceCallOptions | undefined): OperationOptions {
  return { ...(options?.signal === undefined ? {} : { signal: options.signal }), ...(options?.deadline === undefined ? {} : { deadline: options.deadline }) };
}

/** `backend` or `backend#pool` → its parts. */
function splitPoolRef(ref: string): { readonly backend: string; readonly pool?: string } {
  const [backend = "", pool] = ref.split("#");
  return pool === undefined ? { backend } : { backend, pool };
}


/** Succeeds when `code` says the record is already gone (a repeated delete). */
function goneIsDone(codes: readonly string[]) {
  return (e: VolkitError): ResultAsync<void, VolkitError> => (codes.includes(e.code) ? okAsync(undefined) : errAsync(e));
}

/** The volume service, as the CLI's commands call it. */
export class VolumeServiceAdapter implements ServiceLike {
  readonly #service: VolumeService;
  readonly #options: AdapterOptions;

  /** @param service - the open service. @param options - what the config declares. */
  constructor(service: VolumeService, options: AdapterOptions) {
    this.#service = service;
    this.#options = options;
  }

  /** Runs `call` with the service's progress events copied onto the command's bus. */
  #withProgress<T>(options: ServiceCallOptions | undefined, call: (opts: OperationOptions) => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
    const bus = options?.events;
    if (bus === undefined) return call(operationOptions(options));
    const off = this.#service.operations.on((event) => {
      if (event.type === "progress") bus.emit(event);
    });
    return new ResultAsync(
      (async () => {
        try {
          return await call(operationOptions(options));
        } finally {
          off();
        }
      })(),
    );
  }

  // ------------------------------------------------------------------ volume types

  /** {@inheritDoc ServiceLike.createType} */
  createType(request: CreateTypeRequest): ResultAsync<VolumeTypeRecord, VolkitError> {
    return createType(this.#service.store, request);
  }

  /** {@inheritDoc ServiceLike.listTypes} */
  listTypes(): ResultAsync<readonly VolumeTypeRecord[], VolkitError> {
    return this.#service.listVolumeTypes().map((types) => [...types].sort((a, b) => a.name.localeCompare(b.name)));
  }

  /** {@inheritDoc ServiceLike.getType} */
  getType(nameOrId: string): ResultAsync<VolumeTypeRecord, VolkitError> {
    return getType(this.#service.store, nameOrId);
  }

  /** {@inheritDoc ServiceLike.deleteType} */
  deleteType(nameOrId: string): ResultAsync<void, VolkitError> {
    return deleteType(this.#service.store, nameOrId, this.#options.configTypes);
  }

  // ------------------------------------------------------------------ volumes

  /** {@inheritDoc ServiceLike.createVolume} */
  createVolume(request: CreateVolumeRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError> {
    const { source } = request;
    // Multiattach comes from the type (the service's rule, Cinder's too): --multiattach checks the type gives it.
    const multiattach: ResultAsync<void, VolkitError> =
      request.multiattach !== true
        ? okAsync(undefined)
        : request.type === undefined
          ? errAsync(new VolkitError("INVALID_ARGUMENT", "--multiattach comes from the volume type: give --type of a type with extra spec multiattach='<is> True'", { source: "cli" }))
          : getType(this.#service.store, request.type).andThen((t) =>
              specIsTrue(t.extraSpecs.multiattach)
                ? okAsync(undefined)
                : errAsync(new VolkitError("INVALID_ARGUMENT", `--multiattach: volume type ${t.name} has no extra spec multiattach='<is> True'`, { source: "cli", details: { type: t.name } })),
            );
    return multiattach.andThen(() => this.#withProgress(options, (opts) =>
      this.#service.createVolume(
        {
          sizeGiB: request.sizeGiB,
          ...(request.id === undefined ? {} : { id: request.id }),
          ...(request.name === undefined ? {} : { name: request.name }),
          ...(request.type === undefined ? {} : { volumeType: request.type }),
          ...(request.availabilityZone === undefined ? {} : { availabilityZone: request.availabilityZone }),
          ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
          ...(source === undefined ? {} : { source }),
        },
        opts,
      ),
    ));
  }

  /** {@inheritDoc ServiceLike.listVolumes} */
  listVolumes(filter: VolumeFilter = {}): ResultAsync<readonly VolumeRecord[], VolkitError> {
    return this.#service
      .listVolumes({
        ...(filter.status === undefined ? {} : { status: filter.status }),
        ...(filter.backend === undefined ? {} : { backend: filter.backend }),
      })
      .map((volumes) => (filter.limit === undefined ? volumes : volumes.slice(0, filter.limit)));
  }

  /** {@inheritDoc ServiceLike.getVolume} */
  getVolume(id: string): ResultAsync<VolumeDetail, VolkitError> {
    return this.#service.getVolume(id).andThen((volume) =>
      ResultAsync.combine([this.#service.listAttachments(id), this.#service.listSnapshots(id)] as const).map(([attachments, snapshots]): VolumeDetail => ({
        volume,
        attachments: attachments.filter((a) => a.attachStatus !== "deleted"),
        snapshots,
      })),
    );
  }

  /** {@inheritDoc ServiceLike.deleteVolume} */
  deleteVolume(id: string, request: DeleteVolumeRequest = {}, options?: ServiceCallOptions): ResultAsync<void, VolkitError> {
    return this.#service.store.volumes.find(id).andThen((found) =>
      found === undefined ? okAsync(undefined) : this.#withProgress(options, (opts) => this.#service.deleteVolume(id, { ...opts, cascade: request.cascade === true })),
    );
  }

  /** {@inheritDoc ServiceLike.extendVolume} */
  extendVolume(id: string, newSizeGiB: number, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.extendVolume(id, newSizeGiB, opts)).map((r) => r.volume);
  }

  /** {@inheritDoc ServiceLike.snapshotVolume} */
  snapshotVolume(id: string, request: SnapshotVolumeRequest = {}, options?: ServiceCallOptions): ResultAsync<SnapshotRecord, VolkitError> {
    return this.#withProgress(options, (opts) =>
      this.#service.createSnapshot(id, { ...(request.id === undefined ? {} : { id: request.id }), ...(request.name === undefined ? {} : { name: request.name }), force: request.force === true }, opts),
    );
  }

  /** {@inheritDoc ServiceLike.revertVolume} */
  revertVolume(id: string, snapshotId: string, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.revertToSnapshot(id, snapshotId, opts));
  }

  /** {@inheritDoc ServiceLike.attachVolume} */
  attachVolume(id: string, request: AttachRequest = {}, options?: ServiceCallOptions): ResultAsync<AttachResult, VolkitError> {
    return this.#withProgress(options, (opts) =>
      this.#service.attachVolume(
        {
          volumeId: id,
          ...(request.instanceId === undefined ? {} : { instanceId: request.instanceId }),
          ...(request.mountpoint === undefined ? {} : { mountpoint: request.mountpoint }),
          readOnly: request.mode === "ro",
          ...(request.disk === undefined ? {} : { disk: { target: { dev: request.disk.dev, bus: request.disk.bus } } }),
        },
        opts,
      ),
    ).map((r): AttachResult => ({ attachment: r.attachment, volume: r.volume, devicePath: r.device.path, ...(r.xml === undefined ? {} : { xml: r.xml }) }));
  }

  /** {@inheritDoc ServiceLike.detachVolume} */
  detachVolume(id: string, request: DetachRequest = {}, options?: ServiceCallOptions): ResultAsync<DetachResult, VolkitError> {
    const target = request.attachmentId === undefined ? { volumeId: id } : { attachmentId: request.attachmentId };
    // An attachment of another volume must not be detached through this one's name.
    const check: ResultAsync<AttachmentRecord | undefined, VolkitError> =
      request.attachmentId === undefined ? okAsync(undefined) : this.#service.store.attachments.get(request.attachmentId);
    return check.andThen((att) =>
      att !== undefined && att.volumeId !== id
        ? errAsync(new VolkitError("INVALID_ARGUMENT", `attachment ${att.id} belongs to volume ${att.volumeId}, not ${id}`, { source: "cli" }))
        : this.#withProgress(options, (opts) => this.#service.detachVolume({ ...target, force: request.force === true }, opts)).map((r): DetachResult => ({ volume: r.volume, report: r.report.disconnect })),
    );
  }

  /** {@inheritDoc ServiceLike.migrateVolume} */
  migrateVolume(id: string, request: MigrateRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.migrateVolume(id, { ...splitPoolRef(request.destination), ...(request.forceHostCopy === true ? { forceHostCopy: true } : {}) }, opts));
  }

  /** {@inheritDoc ServiceLike.retypeVolume} */
  retypeVolume(id: string, request: RetypeRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.retypeVolume(id, request.type, { migrationPolicy: request.migrationPolicy ?? "never" }, opts));
  }

  /** {@inheritDoc ServiceLike.manageVolume} */
  manageVolume(request: ManageRequest, options?: ServiceCallOptions): ResultAsync<VolumeRecord, VolkitError> {
    return this.#withProgress(options, (opts) =>
      this.#service.manageVolume(
        {
          ...splitPoolRef(request.backend),
          ref: request.ref,
          ...(request.id === undefined ? {} : { id: request.id }),
          ...(request.name === undefined ? {} : { name: request.name }),
          ...(request.type === undefined ? {} : { volumeType: request.type }),
        },
        opts,
      ),
    );
  }

  /** {@inheritDoc ServiceLike.unmanageVolume} */
  unmanageVolume(id: string, options?: ServiceCallOptions): ResultAsync<void, VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.unmanageVolume(id, opts));
  }

  /** {@inheritDoc ServiceLike.resetVolumeStatus} */
  resetVolumeStatus(id: string, request: ResetStatusRequest): ResultAsync<VolumeRecord, VolkitError> {
    const statuses =
      request.status === undefined && request.attachStatus === undefined
        ? this.#service.getVolume(id).map(() => undefined)
        : this.#service
            .getVolume(id)
            .andThen((current) => this.#service.resetStatus(id, request.status ?? current.status, request.attachStatus === undefined ? {} : { attachStatus: request.attachStatus }))
            .map(() => undefined);
    // Cinder's `reset-state --reset-migration-status`: the field alone, written as given (`none` clears it).
    const migration = request.migrationStatus;
    return statuses
      .andThen(() => (migration === undefined ? okAsync(undefined) : this.#service.store.volumes.update(id, { migrationStatus: migration === "none" ? undefined : migration }).map(() => undefined)))
      .andThen(() => this.#service.getVolume(id));
  }

  /** {@inheritDoc ServiceLike.forceDeleteVolume} */
  forceDeleteVolume(id: string): ResultAsync<void, VolkitError> {
    return this.#service.store.volumes.find(id).andThen((found) => (found === undefined ? okAsync(undefined) : this.#service.forceDelete(id).map(() => undefined)));
  }

  // ------------------------------------------------------------------ snapshots

  /** {@inheritDoc ServiceLike.listSnapshots} */
  listSnapshots(filter: SnapshotFilter = {}): ResultAsync<readonly SnapshotRecord[], VolkitError> {
    return this.#service.listSnapshots(filter.volumeId);
  }

  /** {@inheritDoc ServiceLike.deleteSnapshot} */
  deleteSnapshot(id: string, options?: ServiceCallOptions): ResultAsync<void, VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.deleteSnapshot(id, opts)).orElse(goneIsDone(["SNAPSHOT_NOT_FOUND"]));
  }

  // ------------------------------------------------------------------ backups

  /** {@inheritDoc ServiceLike.createBackup} */
  createBackup(request: CreateBackupRequest, options?: ServiceCallOptions): ResultAsync<BackupRecord, VolkitError> {
    const { volumeId, ...rest } = request;
    return this.#withProgress(options, (opts) => this.#service.createBackup(volumeId, rest, opts));
  }

  /** {@inheritDoc ServiceLike.listBackups} */
  listBackups(filter: BackupFilter = {}): ResultAsync<readonly BackupRecord[], VolkitError> {
    return this.#service.listBackups(filter.volumeId);
  }

  /** {@inheritDoc ServiceLike.getBackup} */
  getBackup(id: string): ResultAsync<BackupRecord, VolkitError> {
    return this.#service.store.backups.find(id).andThen((b) => (b === undefined ? errAsync(new VolkitError("BACKUP_NOT_FOUND", `backup ${id} not found`, { source: "cli", details: { backupId: id } })) : okAsync(b)));
  }

  /** {@inheritDoc ServiceLike.restoreBackup} */
  restoreBackup(id: string, request: RestoreRequest = {}, options?: ServiceCallOptions): ResultAsync<RestoreResult, VolkitError> {
    const target =
      request.volumeId !== undefined
        ? { volumeId: request.volumeId }
        : { newVolume: { ...(request.name === undefined ? {} : { name: request.name }), ...(request.type === undefined ? {} : { volumeType: request.type }) } };
    return this.getBackup(id).andThen(() =>
      this.#withProgress(options, (opts) => this.#service.restoreBackup(id, target, opts)).andThen((r) => this.getBackup(id).map((backup) => ({ backup, volume: r.volume }))),
    );
  }

  /** {@inheritDoc ServiceLike.verifyBackup} */
  verifyBackup(id: string, options?: ServiceCallOptions): ResultAsync<VerifyResult, VolkitError> {
    return this.getBackup(id).andThen(() =>
      this.#withProgress(options, (opts) => this.#service.verifyBackup(id, opts)).map((r) => ({ backupId: r.backupId, level: r.level, chunksChecked: r.chunksChecked, bytesFetched: r.bytesFetched, durationMs: r.durationMs })),
    );
  }

  /** {@inheritDoc ServiceLike.deleteBackup} */
  deleteBackup(id: string, request: DeleteBackupRequest = {}, options?: ServiceCallOptions): ResultAsync<readonly string[], VolkitError> {
    return this.#withProgress(options, (opts) => this.#service.deleteBackup(id, request.cascade === true ? { cascade: true } : {}, opts));
  }

  /** {@inheritDoc ServiceLike.exportBackupRecord} */
  exportBackupRecord(id: string, options?: ServiceCallOptions): ResultAsync<string, VolkitError> {
    return this.getBackup(id).andThen(() => this.#service.exportBackupRecord(id, operationOptions(options)));
  }

  /** {@inheritDoc ServiceLike.importBackupRecord} */
  importBackupRecord(record: string, request: ImportBackupRecordRequest = {}, options?: ServiceCallOptions): ResultAsync<BackupRecord, VolkitError> {
    return this.#service.importBackupRecord(record, request.repository === undefined ? {} : { repository: request.repository }, operationOptions(options));
  }

  // ------------------------------------------------------------------ image cache

  /** {@inheritDoc ServiceLike.listImageCache} */
  listImageCache(): ResultAsync<readonly ImageCacheEntry[], VolkitError> {
    return this.#service.listImageCache();
  }

  /** {@inheritDoc ServiceLike.purgeImageCache} */
  purgeImageCache(request: PurgeImageCacheRequest, options?: ServiceCallOptions): ResultAsync<readonly ImageCacheEntry[], VolkitError> {
    return this.#withProgress(options, (opts) => purgeImageCache(this.#service, request, opts));
  }

  // ------------------------------------------------------------------ repair

  /** {@inheritDoc ServiceLike.reconcile} */
  reconcile(request: ReconcileRequest = {}): ResultAsync<ReconcileReport, VolkitError> {
    return reconcileThrough(this.#service, request);
  }

  /** {@inheritDoc ServiceLike.planHostCleanup} */
  planHostCleanup(options?: ServiceCallOptions): ResultAsync<readonly HostResidue[], VolkitError> {
    return this.#service.planHostCleanup({ ...operationOptions(options), ...this.#hostFs() });
  }

  /** {@inheritDoc ServiceLike.hostCleanup} */
  hostCleanup(items: readonly HostResidue[], options?: ServiceCallOptions): ResultAsync<HostCleanupReport, VolkitError> {
    return this.#service.hostCleanup(items, { ...operationOptions(options), ...this.#hostFs() });
  }

  #hostFs(): { hostFs?: HostFs } {
    return this.#options.hostFs === undefined ? {} : { hostFs: this.#options.hostFs };
  }
}
