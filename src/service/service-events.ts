import { randomUUID } from "node:crypto";
import type { ResultAsync } from "neverthrow";
import type { ErrorCode, VolkitError } from "../core/errors.js";
import { guardResult } from "../core/operation.js";
import type { VolumeStatus } from "./state-machine.js";

/**
 * The volume service's events for panels, named like Cinder's notifications:
 * `<resource>.<action>.<phase>` (`volume.create.start`, `volume.create.end`, `volume.create.error`,
 * `volume.attach.progress`, `snapshot.delete.end`, `service.reconcile.end`…). Every operation emits
 * `start`, then `end` or `error` with its duration (and the error code), plus a `progress` event as
 * each persisted step completes. The ids tie them together.
 */

/** What an event is about. */
export type ServiceResource = "volume" | "snapshot" | "backup" | "service";

/** Where an operation is. */
export type ServicePhase = "start" | "progress" | "end" | "error";

/** Fields every service event carries. */
export interface ServiceEventBase {
  /** `<resource>.<action>.<phase>`. */
  readonly type: `${ServiceResource}.${string}.${ServicePhase}`;
  /** The resource. */
  readonly resource: ServiceResource;
  /** The operation (`create`, `attach`, `force_delete`, `reconcile`…). */
  readonly action: string;
  /** The phase. */
  readonly phase: ServicePhase;
  /** One id per operation call: its start, progress and end events share it. */
  readonly requestId: string;
  /** Epoch milliseconds. */
  readonly at: number;
  /** The volume concerned. */
  readonly volumeId?: string;
  /** The snapshot concerned. */
  readonly snapshotId?: string;
  /** The attachment concerned. */
  readonly attachmentId?: string;
  /** The backup concerned. */
  readonly backupId?: string;
}

/** An operation started. */
export interface ServiceStartEvent extends ServiceEventBase {
  /** Discriminator. */
  readonly phase: "start";
}

/** An operation completed a persisted step (`scheduled`, `exported`, `connected`…). */
export interface ServiceProgressEvent extends ServiceEventBase {
  /** Discriminator. */
  readonly phase: "progress";
  /** The step just completed. */
  readonly step: string;
}

/** An operation succeeded. */
export interface ServiceEndEvent extends ServiceEventBase {
  /** Discriminator. */
  readonly phase: "end";
  /** Wall-clock duration, ms. */
  readonly durationMs: number;
  /** The volume's status afterwards, when it still exists. */
  readonly status?: VolumeStatus;
}

/** An operation failed. */
export interface ServiceErrorEvent extends ServiceEventBase {
  /** Discriminator. */
  readonly phase: "error";
  /** Wall-clock duration, ms. */
  readonly durationMs: number;
  /** The error's stable code. */
  readonly errorCode: ErrorCode;
  /** The error's message (secrets redacted). */
  readonly errorMessage: string;
}

/** Every event the service emits. */
export type ServiceEvent = ServiceStartEvent | ServiceProgressEvent | ServiceEndEvent | ServiceErrorEvent;

/** A listener; one that throws never breaks an operation. */
export type ServiceEventListener = (event: ServiceEvent) => void;

/**
 * The service's event bus. `on` returns a function that unsubscribes.
 *
 * @example
 * ```ts
 * service.events.on((e) => { if (e.phase === "error") console.log(e.type, e.volumeId, e.errorCode); });
 * ```
 */
export class ServiceEventBus {
  readonly #listeners = new Set<ServiceEventListener>();

  /** Subscribes; returns the unsubscribe function. */
  on(listener: ServiceEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers `event` to every listener, synchronously. */
  emit(event: ServiceEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A panel's bug must not fail a storage operation.
      }
    }
  }
}

/** The ids an operation is about. */
export interface EventSubject {
  /** Volume id. */
  readonly volumeId?: string | undefined;
  /** Snapshot id. */
  readonly snapshotId?: string | undefined;
  /** Attachment id. */
  readonly attachmentId?: string | undefined;
  /** Backup id. */
  readonly backupId?: string | undefined;
}

/** One running operation's event emitter: progress steps, and its subject once known. */
export interface OperationTrace {
  /** The request id shared by its events. */
  readonly requestId: string;
  /** Emits `<resource>.<action>.progress` with `step`. */
  step(step: string): void;
  /** Adds ids learned while running (a generated volume id, the attachment id). */
  about(subject: EventSubject): void;
}

/** Subject ids without undefined members. */
type SubjectIds = { volumeId?: string; snapshotId?: string; attachmentId?: string; backupId?: string };

function subjectFields(subject: EventSubject): SubjectIds {
  const out: SubjectIds = {};
  if (subject.volumeId !== undefined) out.volumeId = subject.volumeId;
  if (subject.snapshotId !== undefined) out.snapshotId = subject.snapshotId;
  if (subject.attachmentId !== undefined) out.attachmentId = subject.attachmentId;
  if (subject.backupId !== undefined) out.backupId = subject.backupId;
  return out;
}

/**
 * Runs one service operation between its `start` and its `end`/`error` events. `statusOf` picks the
 * volume status to report on success.
 */
export function traced<T>(
  bus: ServiceEventBus,
  resource: ServiceResource,
  action: string,
  subject: EventSubject,
  run: (trace: OperationTrace) => ResultAsync<T, VolkitError>,
  statusOf: (value: T) => VolumeStatus | undefined = () => undefined,
): ResultAsync<T, VolkitError> {
  const requestId = randomUUID();
  let about: SubjectIds = subjectFields(subject);
  const base = (phase: ServicePhase) => ({ type: `${resource}.${action}.${phase}` as const, resource, action, phase, requestId, at: Date.now(), ...about });
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  bus.emit({ ...base("start"), phase: "start" });
  const trace: OperationTrace = {
    requestId,
    step: (step) => bus.emit({ ...base("progress"), phase: "progress", step }),
    about: (more) => {
      about = { ...about, ...subjectFields(more) };
    },
  };
  return guardResult(() => run(trace), "service")
    .map((value) => {
      const status = statusOf(value);
      bus.emit({ ...base("end"), phase: "end", durationMs: elapsed(), ...(status === undefined ? {} : { status }) });
      return value;
    })
    .mapErr((error) => {
      bus.emit({ ...base("error"), phase: "error", durationMs: elapsed(), errorCode: error.code, errorMessage: error.message });
      return error;
    });
}
