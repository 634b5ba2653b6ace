import { randomUUID } from "node:crypto";
import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { RecordIdSchema } from "../service/records/record-fields.js";
import type { ImageCacheEntry } from "../service/records/image-cache-record.js";
import type { VolumeTypeRecord } from "../service/records/volume-type-record.js";
import type { RecoveryAction } from "../service/recovery/recovery-report.js";
import type { ServiceStore } from "../service/store/store.js";
import type { VolumeService } from "../service/volume-service.js";
import type { CreateTypeRequest, PurgeImageCacheRequest, ReconcileAction, ReconcileReport, ReconcileRequest } from "./service-like.js";

/**
 * The parts of {@link VolumeServiceAdapter} that the service has no single call for: volume types
 * created and deleted from a terminal (records in the store, where the service's type catalog
 * resolves them), image-cache purges (deleting each cache volume through the service), the
 * reconcile report in the CLI's words, and the typed `NOT_SUPPORTED` answers of what is not bound yet.
 */

const sameSpecs = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
};

/** The type named or with id `nameOrId`, or undefined. */
export function findType(store: ServiceStore, nameOrId: string): ResultAsync<VolumeTypeRecord | undefined, VolkitError> {
  const byId = RecordIdSchema.safeParse(nameOrId).success ? store.volumeTypes.find(nameOrId) : okAsync<VolumeTypeRecord | undefined, VolkitError>(undefined);
  return byId.andThen((found) => (found !== undefined ? okAsync(found) : store.volumeTypes.list().map((all) => all.find((t) => t.name === nameOrId))));
}

/** The type `nameOrId`; `NOT_FOUND` when none. */
export function getType(store: ServiceStore, nameOrId: string): ResultAsync<VolumeTypeRecord, VolkitError> {
  return findType(store, nameOrId).andThen((t) => (t === undefined ? errAsync(new VolkitError("NOT_FOUND", `no volume type ${nameOrId}`, { source: "cli", details: { type: nameOrId } })) : okAsync(t)));
}

/**
 * Creates a type under its name as id (the service's convention, so `--type <name>` resolves it),
 * or a UUID when the name is not a valid id. An identical type already there is returned as is;
 * one with other specs is a `CONFLICT`.
 */
export function createType(store: ServiceStore, request: CreateTypeRequest): ResultAsync<VolumeTypeRecord, VolkitError> {
  const isPublic = request.isPublic ?? true;
  return findType(store, request.name).andThen((existing) => {
    if (existing !== undefined) {
      const same = sameSpecs(existing.extraSpecs, request.extraSpecs) && existing.description === request.description && existing.isPublic === isPublic;
      return same ? okAsync(existing) : errAsync(new VolkitError("CONFLICT", `volume type ${request.name} exists with other settings`, { source: "cli", details: { type: request.name } }));
    }
    const id = RecordIdSchema.safeParse(request.name).success ? request.name : randomUUID();
    return store.volumeTypes.insert({ id, name: request.name, extraSpecs: { ...request.extraSpecs }, isPublic, ...(request.description === undefined ? {} : { description: request.description }) });
  });
}

/**
 * Deletes a type: a missing one is already deleted; a type of the config file is refused (the
 * service writes it back at every open); a type volumes still use is `INVALID_STATE`.
 */
export function deleteType(store: ServiceStore, nameOrId: string, configTypes: readonly string[]): ResultAsync<void, VolkitError> {
  return findType(store, nameOrId).andThen((type) => {
    if (type === undefined) return okAsync(undefined);
    if (configTypes.includes(type.name)) {
      return errAsync(new VolkitError("INVALID_STATE", `volume type ${type.name} is declared in the config file: remove it there`, { source: "cli", details: { type: type.name } }));
    }
    return store.volumes.list({ volumeTypeId: type.id }, { limit: 5 }).andThen((users) =>
      users.length > 0
        ? errAsync(new VolkitError("INVALID_STATE", `volume type ${type.name} is used by volumes ${users.map((v) => v.id).join(", ")}`, { source: "cli", details: { type: type.name, volumeIds: users.map((v) => v.id) } }))
        : store.volumeTypes.remove(type.id).map(() => undefined),
    );
  });
}

/** Deletes the cache volumes of the matching entries (their entries go with them), one after the other. */
export function purgeImageCache(service: VolumeService, request: PurgeImageCacheRequest, options: OperationOptions): ResultAsync<readonly ImageCacheEntry[], VolkitError> {
  return service.listImageCache().andThen((entries) => {
    const victims = entries.filter((e) => request.all === true || ((request.imageId === undefined || e.imageId === request.imageId) && (request.backend === undefined || e.backend === request.backend)));
    return victims.reduce<ResultAsync<ImageCacheEntry[], VolkitError>>(
      (chain, entry) => chain.andThen((removed) => service.deleteVolume(entry.volumeId, options).map(() => [...removed, entry])),
      okAsync([]),
    );
  });
}

/** The operation a transient status belongs to. */
const OPERATION_OF: Readonly<Record<string, string>> = {
  creating: "create",
  downloading: "create",
  deleting: "delete",
  extending: "extend",
  attaching: "attach",
  reserved: "attach",
  detaching: "detach",
  maintenance: "migrate",
  reverting: "revert",
  retyping: "retype",
  managing: "manage",
  unmanaging: "unmanage",
};

/** One service recovery action in the CLI's words (a failed action is a roll-back that did not apply). */
export function reconcileActionOf(a: RecoveryAction): ReconcileAction {
  const applied = a.outcome === "completed" || a.outcome === "rolled-back";
  return {
    kind: a.kind,
    id: a.id,
    operation: OPERATION_OF[a.from] ?? a.from,
    from: a.from,
    to: a.to ?? a.from,
    decision: a.outcome === "failed" ? "rolled-back" : a.outcome,
    reason: a.reason ?? (a.removed.length > 0 ? `removed ${a.removed.join(", ")}` : a.outcome),
    applied,
    ...(a.error === undefined ? {} : { errorCode: a.error.code }),
  };
}

/** `reconcile`: the service's reconcile, of every record or one volume's (`--volume`), acting or only deciding (`--dry-run`). */
export function reconcileThrough(service: VolumeService, request: ReconcileRequest): ResultAsync<ReconcileReport, VolkitError> {
  const dryRun = request.dryRun === true;
  return service
    .reconcile({ ...(dryRun ? { dryRun: true } : {}), ...(request.volumeId === undefined ? {} : { volumeId: request.volumeId }) })
    .map((report): ReconcileReport => ({ examined: report.actions.length, dryRun, actions: report.actions.map((a) => (dryRun ? { ...reconcileActionOf(a), applied: false } : reconcileActionOf(a))) }));
}
