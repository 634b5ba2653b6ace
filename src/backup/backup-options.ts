import { createOperationContext, type OperationContext, type OperationOptions } from "../core/context.js";
import type { EventBus, Logger } from "../core/events.js";

/** Options every backup operation accepts: cancellation, deadline, events and logging. */
export interface BackupRunOptions extends OperationOptions {
  /** Receives progress events (`phase` `backup`, `restore`, `verify`). */
  readonly events?: EventBus;
  /** Logger (default silent). Keys and data never reach it. */
  readonly logger?: Logger;
}

/** The operation context of one public backup call. */
export function backupContext(operation: string, options: BackupRunOptions, volumeId?: string): OperationContext {
  return createOperationContext({
    operation,
    source: "backup",
    volumeId,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    ...(options.events === undefined ? {} : { events: options.events }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
