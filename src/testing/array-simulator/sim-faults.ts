/**
 * Fault rules of the simulator's REST side: answer a chosen error code for matching requests,
 * delay matching responses, end sessions. The iSCSI and reachability faults live with the data
 * plane and the HTTP listeners; the public entry in index.ts gathers them.
 */

/** Which requests a rule applies to. */
export interface RequestMatch {
  /** HTTP method (any when omitted). */
  readonly method?: string;
  /**
   * A path below the device id such as `/lun` or `/mappingview/create_associate` (exact,
   * case-insensitive, query ignored; `xx/sessions` is the login), or a RegExp tested against the
   * path with its query. Any path when omitted.
   */
  readonly path?: string | RegExp;
}

/** Answer an array error code (or a bare HTTP status) instead of running the request. */
export interface FailRule extends RequestMatch {
  /** The array error code to answer (in an HTTP 200 envelope, as the array does). */
  readonly code?: number;
  /** Answer this HTTP status with no envelope instead (e.g. 503 from an overloaded web server). */
  readonly httpStatus?: number;
  /** Its description (default: a generic one). */
  readonly description?: string;
  /** How many matching requests fail (default 1). */
  readonly times?: number;
  /** Matching requests answered normally before the first failure (default 0): fails the n+1-th. */
  readonly skip?: number;
}

/** Hold matching answers back. */
export interface DelayRule extends RequestMatch {
  /** Milliseconds to wait before handling the request. */
  readonly ms: number;
  /** How many matching requests are delayed (default: all until cleared). */
  readonly times?: number;
}

interface Counted<T> {
  rule: T;
  left: number;
  skip?: number;
}

/** True when `rule` applies to a request. */
export function matches(rule: RequestMatch, method: string, path: string): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  if (rule.path === undefined) return true;
  if (rule.path instanceof RegExp) return rule.path.test(path);
  const bare = (path.split("?")[0] ?? "").toLowerCase().replace(/\/+$/, "");
  return bare === rule.path.toLowerCase().replace(/\/+$/, "");
}

/** Serve some requests, then fail every later one (a client that "crashed" mid-flow). */
export interface CutRule {
  /** Requests still answered normally before the cut. */
  readonly after: number;
  /** Array error code answered after the cut (default 1, an unknown code: not transient, no re-login). */
  readonly code?: number;
  /** Or this HTTP status with no envelope. */
  readonly httpStatus?: number;
}

/** The REST fault rules in force. */
export class SimFaults {
  readonly #failures: Counted<FailRule>[] = [];
  readonly #delays: Counted<DelayRule>[] = [];
  #copyFaults = 0;
  #cut: { left: number; rule: FailRule } | undefined;

  /** Answers normally `rule.after` more requests, then fails all of them until {@link clear}. */
  cutAfter(rule: CutRule): void {
    this.#cut = {
      left: rule.after,
      rule: { code: rule.code ?? 1, description: "Injected failure after the cut.", ...(rule.httpStatus === undefined ? {} : { httpStatus: rule.httpStatus }) },
    };
  }

  /** Adds a failure rule. */
  addFailure(rule: FailRule): void {
    this.#failures.push({ rule, left: rule.times ?? 1, skip: rule.skip ?? 0 });
  }

  /** Adds a delay rule. */
  addDelay(rule: DelayRule): void {
    this.#delays.push({ rule, left: rule.times ?? Number.POSITIVE_INFINITY });
  }

  /** Makes the next `n` LUN copies or clone pair syncs break. */
  breakCopies(n: number): void {
    this.#copyFaults += n;
  }

  /** Consumes one copy fault, if any. */
  takeCopyFault(): boolean {
    if (this.#copyFaults <= 0) return false;
    this.#copyFaults--;
    return true;
  }

  /** The failure to answer for a request (consumed), if any. */
  takeFailure(method: string, path: string): FailRule | undefined {
    if (this.#cut) {
      if (this.#cut.left <= 0) return this.#cut.rule;
      this.#cut.left--;
    }
    const hit = this.#failures.find((f) => f.left > 0 && matches(f.rule, method, path));
    if (!hit) return undefined;
    if ((hit.skip ?? 0) > 0) {
      hit.skip = (hit.skip ?? 0) - 1;
      return undefined;
    }
    hit.left--;
    return hit.rule;
  }

  /** Milliseconds to delay a request (the sum of the matching rules, each consumed once). */
  takeDelay(method: string, path: string): number {
    let ms = 0;
    for (const d of this.#delays) {
      if (d.left > 0 && matches(d.rule, method, path)) {
        d.left--;
        ms += d.rule.ms;
      }
    }
    return ms;
  }

  /** Drops every rule. */
  clear(): void {
    this.#failures.length = 0;
    this.#delays.length = 0;
    this.#copyFaults = 0;
    this.#cut = undefined;
  }
}
