import type { VolkitError } from "../../core/errors.js";
import type { DisconnectReport, LeftBehind } from "../../core/records.js";

/** A left-behind entry plus whether it is a failure (a shared session kept on purpose is not). */
interface LeftEntry extends Omit<LeftBehind, "expected"> {
  readonly failed: boolean;
}

/**
 * What the undo steps of the stages removed and left, shared by a disconnect and by the rollback
 * of a failed connect. Each undo step records its outcome here (it never throws and never stops
 * the others); the flow decides whether what was left is an error.
 */
export class RemovalReport {
  /** Objects removed, in order. */
  readonly removed: string[] = [];
  /** Objects left, with whether that is a failure. */
  readonly left: LeftEntry[] = [];
  /** Errors met (for logs and the error cause). */
  readonly errors: VolkitError[] = [];

  /** Records a removal. */
  remove(what: string): void {
    this.removed.push(what);
  }

  /** Records an object left behind. */
  leave(kind: LeftBehind["kind"], name: string, reason: string, failed: boolean, error?: VolkitError): void {
    this.left.push({ kind, name, reason, failed });
    if (error) this.errors.push(error);
  }

  /** True when something was left because of an error. */
  get failed(): boolean {
    return this.left.some((l) => l.failed);
  }

  /** The public report. */
  toReport(): DisconnectReport {
    return { removed: [...this.removed], leftBehind: this.left.map(({ kind, name, reason, failed }) => ({ kind, name, reason, expected: !failed })) };
  }
}
