import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { OperationOptions } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { EventBus, Logger } from "../core/events.js";
import type { LockBackend } from "../core/locks.js";
import type { SnapshotInput, VolumeInput } from "../core/records.js";
import type { ConnectorSource } from "../connectors/connector.js";
import type { VolumeBackend } from "../drivers/backend.js";
import type { CommandRunner } from "../exec/runner.js";
import type { BackendSet } from "./backend-set.js";
import type { RepositoryOpener } from "./backup-repositories.js";
import type { OperationTaskInput } from "./records/record-fields.js";
import type { SnapshotRecord } from "./records/snapshot-record.js";
import type { VolumeRecord } from "./records/volume-record.js";
import type { Scheduler } from "./scheduler/scheduler.js";
import type { ParsedVolumeServiceConfig } from "./service-config.js";
import type { ServiceEventBus } from "./service-events.js";
import type { Transition } from "./store/store.js";
import type { ServiceStore } from "./store/store.js";
import type { TypeCatalog } from "./type-catalog.js";

/**
 * What every service operation shares: the store, the backends, the scheduler, this host, the
 * event buses, and the identity of this service instance (the owner written into each task).
 */
export interface ServiceContext {
  /** The parsed configuration. */
  readonly config: ParsedVolumeServiceConfig;
  /** Records. */
  readonly store: ServiceStore;
  /** Backends by name. */
  readonly backends: BackendSet;
  /** Placement. */
  readonly scheduler: Scheduler;
  /** Volume types and QoS specs. */
  readonly types: TypeCatalog;
  /** This machine's connectors. */
  readonly host: ConnectorSource;
  /** Service events (for panels). */
  readonly events: ServiceEventBus;
  /** Low-level operation events of every backend and connector. */
  readonly operations: EventBus;
  /** Runner for the service's own commands (checksums, image probes, copies). */
  readonly runner: CommandRunner;
  /** Logger. */
  readonly logger: Logger;
  /** In-process locks (image cache fills). */
  readonly locks: LockBackend;
  /** This service instance: `<host>:<pid>:<instance>`. */
  readonly owner: string;
  /** Host name of this machine as the service records it. */
  readonly hostName: string;
  /** Records this instance is operating on now (`volume:<id>`, `snapshot:<id>`): reconcile leaves them alone. */
  readonly running: Set<string>;
  /** Opens backup repositories (default `openRepository`). */
  readonly openRepository?: RepositoryOpener;
}

/** Options every service operation accepts (signal and deadline of the whole operation). */
export type ServiceOperationOptions = OperationOptions;

/** A new task for `op` owned by this instance. */
export function newTask(sc: ServiceContext, op: string, extra: Omit<OperationTaskInput, "op" | "owner" | "startedAt"> = {}): OperationTaskInput {
  return { op, owner: sc.owner, startedAt: new Date(), ...extra };
}

/**
 * The id a driver knows a volume by: its own id, except for the temporary destination of a
 * migration (`migrationStatus: target:<id>`), which holds the migrating volume's object under that
 * volume's id on another backend.
 */
export function driverVolumeId(record: Pick<VolumeRecord, "id" | "migrationStatus">): string {
  const m = record.migrationStatus;
  return typeof m === "string" && m.startsWith("target:") ? m.slice("target:".length) : record.id;
}

/** The record as the driver API takes it (`Volume`). */
export function coreVolume(record: VolumeRecord, typeName?: string): VolumeInput {
  return {
    id: driverVolumeId(record),
    sizeGiB: record.sizeGiB,
    ...(record.name === undefined ? {} : { displayName: record.name }),
    ...(typeName === undefined ? {} : { volumeType: typeName }),
    ...(record.providerLocation === undefined ? {} : { providerLocation: record.providerLocation }),
    ...(record.providerAuth === undefined ? {} : { providerAuth: record.providerAuth }),
    ...(record.providerId === undefined ? {} : { providerId: record.providerId }),
  };
}

/** A snapshot record as the driver API takes it (`Snapshot`). */
export function coreSnapshot(snapshot: SnapshotRecord, volume: Pick<VolumeRecord, "id" | "migrationStatus">): SnapshotInput {
  return {
    id: snapshot.id,
    volumeId: driverVolumeId(volume),
    volumeSizeGiB: snapshot.sizeGiB,
    ...(snapshot.name === undefined ? {} : { displayName: snapshot.name }),
    ...(snapshot.providerLocation === undefined ? {} : { providerLocation: snapshot.providerLocation }),
    ...(snapshot.providerId === undefined ? {} : { providerId: snapshot.providerId }),
  };
}

/** What goes into a record's `statusReason` for a failed operation. */
export function failureReason(op: string, e: VolkitError): string {
  return `${op} failed: ${e.code}: ${e.message}`.slice(0, 2048);
}

/** A won transition's record, or `INVALID_STATE` naming why it was lost (another caller got there first). */
export function mustWin<T>(t: Transition<T>, what: string): Result<T, VolkitError> {
  if (t.won) return ok(t.record);
  return err(new VolkitError("INVALID_STATE", `cannot ${what}: ${t.reason}`, { source: "service", details: { reason: t.reason } }));
}

/** The backend a placed record lives on (`INVALID_STATE` before placement, `INVALID_CONFIG` for a backend no longer configured). */
export function backendOf(sc: ServiceContext, record: Pick<VolumeRecord, "id" | "backend">): Result<VolumeBackend, VolkitError> {
  if (record.backend === undefined) return err(new VolkitError("INVALID_STATE", `volume ${record.id} has not been placed on a backend`, { source: "service", details: { volumeId: record.id } }));
  return sc.backends.backend(record.backend);
}

/** Options passed down to backend calls: the operation's signal and deadline. */
export function callOptions(options: ServiceOperationOptions): OperationOptions {
  return { ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.deadline === undefined ? {} : { deadline: options.deadline }) };
}

/** Marks records as operated on by this instance while `run` runs (reconcile skips them). */
export function holding<T>(sc: ServiceContext, keys: readonly string[], run: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> {
  const taken = keys.filter((k) => !sc.running.has(k));
  for (const k of taken) sc.running.add(k);
  const release = (): void => {
    for (const k of taken) sc.running.delete(k);
  };
  return run()
    .map((v) => {
      release();
      return v;
    })
    .mapErr((e) => {
      release();
      return e;
    });
}

/** Runs `undo` (best effort) and then fails with `error`, keeping what the undo said. */
export function undoThenFail<T>(error: VolkitError, undo: () => ResultAsync<unknown, VolkitError>): ResultAsync<T, VolkitError> {
  return undo()
    .orElse((u) => {
      return errAsync(
        new VolkitError(error.code, `${error.message} (undo failed too: ${u.message})`, { source: error.source ?? "service", cause: error, details: { ...error.details, undoError: u.toJSON() } }),
      );
    })
    .andThen(() => errAsync(error));
}

/** An ok result of nothing. */
export const done = (): ResultAsync<void, VolkitError> => okAsync(undefined);
