import type { ResultAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../core/context.js";
import type { ErrorCode, VolkitError } from "../core/errors.js";

/** A clean-up step that failed, and why. */
export interface CleanupFailure {
  /** What the step undoes (`detach backup-1a2b…`, `delete snapshot backup-1a2b…`). */
  readonly step: string;
  /** The error code it failed with. */
  readonly code: ErrorCode;
  /** The (redacted) error message. */
  readonly message: string;
}

/**
 * What a volume-level backup or restore made and must take down again (the temporary snapshot,
 * the temporary volume, the attachment), newest first. {@link UndoStack.unwind} runs on a context
 * of its own — not the caller's signal, which may be the reason for the unwind — and goes on past
 * a failed step, so one stuck detach never leaves a snapshot behind too.
 */
export class UndoStack {
  readonly #steps: { readonly step: string; readonly run: (ctx: OperationContext) => ResultAsync<unknown, VolkitError> }[] = [];

  /** Registers the step that undoes what was just made. */
  push(step: string, run: (ctx: OperationContext) => ResultAsync<unknown, VolkitError>): void {
    this.#steps.push({ step, run });
  }

  /** Drops the newest step (what it undoes is kept on purpose, e.g. a restored volume on success). */
  drop(step: string): void {
    const i = this.#steps.findLastIndex((s) => s.step === step);
    if (i >= 0) this.#steps.splice(i, 1);
  }

  /** Runs every step, newest first, on a rollback context; returns the steps that failed. */
  async unwind(ctx: OperationContext, timeoutMs = 10 * 60_000): Promise<CleanupFailure[]> {
    const rctx = rollbackContext(ctx, timeoutMs);
    const failures: CleanupFailure[] = [];
    for (const { step, run } of this.#steps.splice(0).reverse()) {
      const r = await run(rctx);
      if (r.isErr()) {
        failures.push({ step, code: r.error.code, message: r.error.message });
        ctx.logger.warn({ step, code: r.error.code, error: r.error.message }, "backup clean-up step failed");
      }
    }
    return failures;
  }
}
