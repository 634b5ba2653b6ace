import type { ErrorCode } from "./errors.js";

/**
 * A pino-compatible logger: `logger.info({ volumeId }, "created")`. Pass `pino()` directly, or any
 * object with these four methods. volkit never logs secrets.
 */
export interface Logger {
  /** Debug-level entry. */
  debug(obj: object, msg?: string): void;
  /** Info-level entry. */
  info(obj: object, msg?: string): void;
  /** Warning-level entry. */
  warn(obj: object, msg?: string): void;
  /** Error-level entry. */
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (the default). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * `logger` with every method guarded: a logger that throws (a broken transport, a serializer that
 * chokes on a value) loses that entry instead of failing the storage operation that logged it, or
 * throwing across volkit's API. Used for every operation's logger.
 */
export function safeLogger(logger: Logger): Logger {
  if (logger === silentLogger || safeLoggers.has(logger)) return logger;
  const guard =
    (level: keyof Logger) =>
    (obj: object, msg?: string): void => {
      try {
        logger[level](obj, msg);
      } catch {
        // A logger's bug must not fail a storage operation.
      }
    };
  const safe: Logger = { debug: guard("debug"), info: guard("info"), warn: guard("warn"), error: guard("error") };
  safeLoggers.add(safe);
  return safe;
}

const safeLoggers = new WeakSet<Logger>();

/** Time spent in one named phase of an operation (e.g. `lvcreate`, `wipe`, `export`). */
export interface PhaseTiming {
  /** Phase name. */
  readonly name: string;
  /** Wall-clock duration in milliseconds. */
  readonly durationMs: number;
}

/** Emitted when an operation starts. */
export interface OperationStartEvent {
  /** Discriminator. */
  readonly type: "operation:start";
  /** Operation name, e.g. `createVolume`. */
  readonly operation: string;
  /** Component that runs it (driver or connector name). */
  readonly source: string;
  /** Volume the operation is about, when there is one. */
  readonly volumeId?: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

/** Emitted when an operation ends, successfully or not. */
export interface OperationEndEvent {
  /** Discriminator. */
  readonly type: "operation:end";
  /** Operation name. */
  readonly operation: string;
  /** Component that ran it. */
  readonly source: string;
  /** Volume the operation was about. */
  readonly volumeId?: string;
  /** Total duration in milliseconds. */
  readonly durationMs: number;
  /** Per-phase timings, in order. */
  readonly phases: readonly PhaseTiming[];
  /** Whether it succeeded. */
  readonly ok: boolean;
  /** Error code when it failed. */
  readonly errorCode?: ErrorCode;
  /** Redacted error message when it failed. */
  readonly errorMessage?: string;
}

/** Emitted by long copies (clone, wipe, image transfer). */
export interface ProgressEvent {
  /** Discriminator. */
  readonly type: "progress";
  /** Operation name. */
  readonly operation: string;
  /** Component. */
  readonly source: string;
  /** Volume concerned. */
  readonly volumeId?: string;
  /** What is being done, e.g. `copy`, `wipe`, `convert`. */
  readonly phase: string;
  /** Bytes processed so far. */
  readonly bytesDone: number;
  /** Total bytes, when known. */
  readonly bytesTotal?: number;
}

/** Every event volkit emits. */
export type VolkitEvent = OperationStartEvent | OperationEndEvent | ProgressEvent;

/** Listener for {@link VolkitEvent}s. Exceptions thrown by listeners are swallowed. */
export type EventListener = (event: VolkitEvent) => void;

/**
 * A minimal typed event bus. `on` returns an unsubscribe function.
 *
 * @example
 * ```ts
 * const off = events.on((e) => e.type === "operation:end" && console.log(e.operation, e.durationMs));
 * ```
 */
export class EventBus {
  readonly #listeners = new Set<EventListener>();

  /** Subscribes to every event; returns a function that unsubscribes. */
  on(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers an event to every listener; a throwing listener never breaks an operation. */
  emit(event: VolkitEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not fail a storage operation.
      }
    }
  }
}
