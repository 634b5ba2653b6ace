import type { VolkitError } from "../../core/errors.js";
import type { DisconnectReport, LeftBehind } from "../../core/records.js";

/** The prefix of the reason of everything kept on purpose (and of nothing else). */
const KEPT = "kept: ";

/**
 * What the undo steps of the stages removed and left, shared by a disconnect and by the rollback
 * of a failed connect. Each undo step records its outcome here (it never throws and never stops
 * the others); the flow decides whether what was left is an error.
 *
 * An object is left either on purpose ({@link RemovalReport.keep}: `expected: true`, reason
 * `kept: …`) or because removing it failed ({@link RemovalReport.fail}: `expected: false`); the two
 * cannot be mixed up, so a caller may trust `expected` alone.
 */
export class RemovalReport {
  /** Objects removed, in order. */
  readonly removed: string[] = [];
  /** Objects left, in order. */
  readonly left: LeftBehind[] = [];
  /** Errors met (for logs and the error cause). */
  readonly errors: VolkitError[] = [];

  /** Records a removal (`map 3600…`, `device /dev/sdb`, `session <portal>,<iqn>`, `node <portal>,<iqn>`). */
  remove(what: string): void {
    this.removed.push(what);
  }

  /** Records an object kept on purpose (not an error), e.g. a session other LUNs still use. */
  keep(kind: LeftBehind["kind"], name: string, why: string): void {
    this.left.push({ kind, name, reason: `${KEPT}${why}`, expected: true });
  }

  /** Records an object that should have gone and did not (an error). */
  fail(kind: LeftBehind["kind"], name: string, reason: string, error?: VolkitError): void {
    this.left.push({ kind, name, reason: reason.startsWith(KEPT) ? `not removed: ${reason.slice(KEPT.length)}` : reason, expected: false });
    if (error) this.errors.push(error);
  }

  /** True when something was left because of an error. */
  get failed(): boolean {
    return this.left.some((l) => !l.expected);
  }

  /** The public report. */
  toReport(): DisconnectReport {
    return { removed: [...this.removed], leftBehind: this.left.map((l) => ({ ...l })) };
  }
}
