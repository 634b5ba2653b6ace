import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { VolkitError } from "../../../src/core/errors.js";
import type { ServiceCallOptions, ServiceFactory, ServiceLike } from "../../../src/cli/service-like.js";
import { AttachmentRecordSchema, type AttachmentRecord } from "../../../src/service/records/attachment-record.js";
import { BackupRecordSchema, type BackupRecord } from "../../../src/service/records/backup-record.js";
import { ImageCacheEntrySchema } from "../../../src/service/records/image-cache-record.js";
import { SnapshotRecordSchema, type SnapshotRecord } from "../../../src/service/records/snapshot-record.js";
import { VolumeRecordSchema, type VolumeRecord } from "../../../src/service/records/volume-record.js";
import { VolumeTypeRecordSchema, type VolumeTypeRecord } from "../../../src/service/records/volume-type-record.js";

/** One call the fake saw. */
export interface ServiceCall {
  readonly method: string;
  readonly args: readonly unknown[];
  readonly options: ServiceCallOptions | undefined;
}

const at = new Date("2025-03-01T10:00:00.000Z");

/** A volume record as the service would return it. */
export function volumeRecord(over: Partial<VolumeRecord> = {}): VolumeRecord {
  return VolumeRecordSchema.parse({ id: "vol-1", name: "db1", sizeGiB: 10, status: "available", backend: "lvm-a", pool: "thin", createdAt: at, updatedAt: at, ...over });
}

/** A snapshot record. */
export function snapshotRecord(over: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return SnapshotRecordSchema.parse({ id: "snap-1", volumeId: "vol-1", sizeGiB: 10, status: "available", createdAt: at, updatedAt: at, ...over });
}

/** A backup record. */
export function backupRecord(over: Partial<BackupRecord> = {}): BackupRecord {
  return BackupRecordSchema.parse({ id: "b-1", volumeId: "vol-1", status: "available", repository: "posix:/srv/backups", sizeGiB: 10, createdAt: at, updatedAt: at, ...over });
}

/** An attachment whose connection info carries a CHAP password. */
export function attachmentRecord(): AttachmentRecord {
  return AttachmentRecordSchema.parse({
    id: "att-1",
    volumeId: "vol-1",
    host: "node-1",
    hostProperties: { host: "node-1", initiator: "iqn.2004-10.com.ubuntu:01:abc" },
    connectionInfo: { type: "iscsi", volumeId: "vol-1", targetPortal: "192.0.2.10:3260", targetLun: 1, targetIqn: "iqn.2010-10.org.openstack:vol-1", authMethod: "CHAP", authUsername: "u1", authPassword: "Chap-Secret-123456" },
    device: { type: "block", path: "/dev/dm-3" },
    attachStatus: "attached",
    createdAt: at,
    updatedAt: at,
  });
}

function typeRecord(name: string, extraSpecs: Record<string, string>): VolumeTypeRecord {
  return VolumeTypeRecordSchema.parse({ id: `t-${name}`, name, extraSpecs, createdAt: at, updatedAt: at });
}

/**
 * A {@link ServiceLike} that records every call and answers with records; `fail` makes a method
 * return an error instead, `block` makes it wait for the call's signal (then ABORTED).
 */
export class FakeService implements ServiceLike {
  readonly calls: ServiceCall[] = [];
  readonly fail = new Map<string, VolkitError>();
  readonly block = new Set<string>();
  opened = 0;
  closed = 0;
  residue = [
    { kind: "multipath-map" as const, name: "/dev/mapper/3600140512345", volumeId: "vol-9", reason: "no attachment record claims it", removal: "iscsi-disconnect" as const, unit: "iscsi:iqn.2010-10.org.openstack:volume-vol-9:lun0" },
    { kind: "iscsi-session" as const, name: "127.0.0.1:3260,iqn.2010-10.org.openstack:vol-9", reason: "no LUN of it is attached", removal: "iscsi-disconnect" as const, unit: "iscsi:iqn.2010-10.org.openstack:vol-9:lun0" },
  ];

  /** The factory the CLI gets. */
  readonly factory: ServiceFactory = () => {
    this.opened++;
    return okAsync({ service: this, close: () => ((this.closed++), okAsync(undefined)) });
  };

  #answer<T>(method: string, args: unknown[], options: ServiceCallOptions | undefined, value: () => T): ResultAsync<T, VolkitError> {
    this.calls.push({ method, args, options });
    const failure = this.fail.get(method);
    if (failure) return errAsync(failure);
    if (this.block.has(method)) {
      return ResultAsync.fromSafePromise(
        new Promise<void>((resolve) => {
          options?.events?.emit({ type: "progress", operation: method, source: "fake", phase: "backup", bytesDone: 1024, bytesTotal: 4096 });
          options?.signal?.addEventListener("abort", () => resolve(), { once: true });
        }),
      ).andThen(() => errAsync(new VolkitError("ABORTED", `${method} cancelled; the backup's objects were removed`, { source: "fake", details: { rolledBack: ["b-new"] } })));
    }
    return okAsync(value());
  }

  createType(request: Parameters<ServiceLike["createType"]>[0], o?: ServiceCallOptions) {
    return this.#answer("createType", [request], o, () => typeRecord(request.name, { ...request.extraSpecs }));
  }
  listTypes(o?: ServiceCallOptions) {
    return this.#answer("listTypes", [], o, () => [typeRecord("fast", { volume_backend_name: "lvm-a" })]);
  }
  getType(nameOrId: string, o?: ServiceCallOptions) {
    return this.#answer("getType", [nameOrId], o, () => typeRecord(nameOrId, {}));
  }
  deleteType(nameOrId: string, o?: ServiceCallOptions) {
    return this.#answer("deleteType", [nameOrId], o, () => undefined);
  }
  createVolume(request: Parameters<ServiceLike["createVolume"]>[0], o?: ServiceCallOptions) {
    return this.#answer("createVolume", [request], o, () => volumeRecord({ id: request.id ?? "vol-new", sizeGiB: request.sizeGiB, ...(request.name === undefined ? {} : { name: request.name }), metadata: { ...request.metadata } }));
  }
  listVolumes(filter?: Parameters<ServiceLike["listVolumes"]>[0], o?: ServiceCallOptions) {
    return this.#answer("listVolumes", [filter], o, () => [volumeRecord(), volumeRecord({ id: "vol-2", status: "error", statusReason: "COMMAND_FAILED: lvcreate" })]);
  }
  getVolume(id: string, o?: ServiceCallOptions) {
    return this.#answer("getVolume", [id], o, () => ({ volume: volumeRecord({ id, status: "in-use", attachStatus: "attached" }), attachments: [attachmentRecord()], snapshots: [snapshotRecord()] }));
  }
  deleteVolume(id: string, request?: Parameters<ServiceLike["deleteVolume"]>[1], o?: ServiceCallOptions) {
    return this.#answer("deleteVolume", [id, request], o, () => undefined);
  }
  extendVolume(id: string, size: number, o?: ServiceCallOptions) {
    return this.#answer("extendVolume", [id, size], o, () => volumeRecord({ id, sizeGiB: size }));
  }
  snapshotVolume(id: string, request?: Parameters<ServiceLike["snapshotVolume"]>[1], o?: ServiceCallOptions) {
    return this.#answer("snapshotVolume", [id, request], o, () => snapshotRecord({ volumeId: id, ...(request?.name === undefined ? {} : { name: request.name }) }));
  }
  revertVolume(id: string, snapshotId: string, o?: ServiceCallOptions) {
    return this.#answer("revertVolume", [id, snapshotId], o, () => volumeRecord({ id }));
  }
  attachVolume(id: string, request?: Parameters<ServiceLike["attachVolume"]>[1], o?: ServiceCallOptions) {
    return this.#answer("attachVolume", [id, request], o, () => ({
      attachment: attachmentRecord(),
      volume: volumeRecord({ id, status: "in-use", attachStatus: "attached" }),
      devicePath: "/dev/dm-3",
      ...(request?.disk ? { xml: `<disk type='block' device='disk'><target dev='${request.disk.dev}' bus='${request.disk.bus}'/></disk>` } : {}),
    }));
  }
  detachVolume(id: string, request?: Parameters<ServiceLike["detachVolume"]>[1], o?: ServiceCallOptions) {
    return this.#answer("detachVolume", [id, request], o, () => ({
      volume: volumeRecord({ id }),
      report: { removed: ["map 3600140512345", "device /dev/sdb"], leftBehind: [{ kind: "session" as const, name: "127.0.0.1:3260,iqn.x", reason: "another LUN uses it", expected: true }] },
    }));
  }
  migrateVolume(id: string, request: Parameters<ServiceLike["migrateVolume"]>[1], o?: ServiceCallOptions) {
    const [backend, pool] = request.destination.split("#");
    return this.#answer("migrateVolume", [id, request], o, () => volumeRecord({ id, backend: backend ?? "x", ...(pool === undefined ? {} : { pool }) }));
  }
  retypeVolume(id: string, request: Parameters<ServiceLike["retypeVolume"]>[1], o?: ServiceCallOptions) {
    return this.#answer("retypeVolume", [id, request], o, () => volumeRecord({ id, volumeTypeId: `t-${request.type}` }));
  }
  manageVolume(request: Parameters<ServiceLike["manageVolume"]>[0], o?: ServiceCallOptions) {
    return this.#answer("manageVolume", [request], o, () => volumeRecord({ id: request.id ?? "vol-m" }));
  }
  unmanageVolume(id: string, o?: ServiceCallOptions) {
    return this.#answer("unmanageVolume", [id], o, () => undefined);
  }
  resetVolumeStatus(id: string, request: Parameters<ServiceLike["resetVolumeStatus"]>[1], o?: ServiceCallOptions) {
    return this.#answer("resetVolumeStatus", [id, request], o, () => volumeRecord({ id, status: request.status ?? "available" }));
  }
  forceDeleteVolume(id: string, o?: ServiceCallOptions) {
    return this.#answer("forceDeleteVolume", [id], o, () => undefined);
  }
  listSnapshots(filter?: Parameters<ServiceLike["listSnapshots"]>[0], o?: ServiceCallOptions) {
    return this.#answer("listSnapshots", [filter], o, () => [snapshotRecord()]);
  }
  deleteSnapshot(id: string, o?: ServiceCallOptions) {
    return this.#answer("deleteSnapshot", [id], o, () => undefined);
  }
  createBackup(request: Parameters<ServiceLike["createBackup"]>[0], o?: ServiceCallOptions) {
    return this.#answer("createBackup", [request], o, () => backupRecord({ id: request.id ?? "b-new", volumeId: request.volumeId }));
  }
  listBackups(filter?: Parameters<ServiceLike["listBackups"]>[0], o?: ServiceCallOptions) {
    return this.#answer("listBackups", [filter], o, () => [backupRecord(), backupRecord({ id: "b-2", parentId: "b-1" })]);
  }
  getBackup(id: string, o?: ServiceCallOptions) {
    return this.#answer("getBackup", [id], o, () => backupRecord({ id }));
  }
  restoreBackup(id: string, request?: Parameters<ServiceLike["restoreBackup"]>[1], o?: ServiceCallOptions) {
    return this.#answer("restoreBackup", [id, request], o, () => ({ backup: backupRecord({ id }), volume: volumeRecord({ id: request?.volumeId ?? "vol-r" }) }));
  }
  verifyBackup(id: string, o?: ServiceCallOptions) {
    return this.#answer("verifyBackup", [id], o, () => ({ backupId: id, level: "content" as const, chunksChecked: 12, bytesFetched: 3_000_000, durationMs: 420 }));
  }
  deleteBackup(id: string, request?: Parameters<ServiceLike["deleteBackup"]>[1], o?: ServiceCallOptions) {
    return this.#answer("deleteBackup", request === undefined ? [id] : [id, request], o, (): readonly string[] => (request?.cascade === true ? [`${id}-incr`, id] : [id]));
  }
  exportBackupRecord(id: string, o?: ServiceCallOptions) {
    return this.#answer("exportBackupRecord", [id], o, () => JSON.stringify({ format: "volkit-backup-record", version: 1, backupId: id, manifests: [{ backupId: id, sha256: "0".repeat(64), manifest: "e30=" }] }));
  }
  importBackupRecord(record: string, request?: Parameters<ServiceLike["importBackupRecord"]>[1], o?: ServiceCallOptions) {
    return this.#answer("importBackupRecord", request === undefined ? [record] : [record, request], o, () => backupRecord({ id: (JSON.parse(record) as { backupId: string }).backupId }));
  }
  listImageCache(o?: ServiceCallOptions) {
    return this.#answer("listImageCache", [], o, () => [ImageCacheEntrySchema.parse({ id: "c-1", imageId: "debian-12", imageChecksum: `sha256:${"ab".repeat(32)}`, backend: "lvm-a", pool: "thin", volumeId: "vol-c1", sizeGiB: 2, lastUsedAt: at, createdAt: at, updatedAt: at })]);
  }
  purgeImageCache(request: Parameters<ServiceLike["purgeImageCache"]>[0], o?: ServiceCallOptions) {
    return this.#answer("purgeImageCache", [request], o, () => []);
  }
  reconcile(request?: Parameters<ServiceLike["reconcile"]>[0], o?: ServiceCallOptions) {
    return this.#answer("reconcile", [request], o, () => ({
      examined: 3,
      dryRun: request?.dryRun === true,
      actions: [{ kind: "volume" as const, id: "vol-3", operation: "create", from: "creating", to: "available", decision: "completed" as const, reason: "the LV exists with the right size", applied: request?.dryRun !== true }],
    }));
  }
  planHostCleanup(o?: ServiceCallOptions) {
    return this.#answer("planHostCleanup", [], o, () => this.residue);
  }
  hostCleanup(items: Parameters<ServiceLike["hostCleanup"]>[0], o?: ServiceCallOptions) {
    return this.#answer("hostCleanup", [items], o, () => ({ removed: items.slice(0, 1), failed: items.slice(1).map((i) => ({ ...i, errorCode: "VOLUME_BUSY", message: "session in use" })), skipped: [] }));
  }
}
