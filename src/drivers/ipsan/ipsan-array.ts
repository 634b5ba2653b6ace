import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import type { PoolInfo } from "./ipsan-types.js";

/** First product version with clone pairs (Cinder's `is_support_clone_pair`: V600R003C00). */
const CLONE_PAIR_SINCE = [600, 3, 0] as const;

/** `V600R003C00` → [600, 3, 0]; undefined for other spellings. */
export function parseProductVersion(version: string): readonly [number, number, number] | undefined {
  const m = /^V(\d{3})R(\d{3})C(\d{2})/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether an array of `version` has clone pairs. */
export function supportsClonePairs(version: string): boolean {
  const v = parseProductVersion(version);
  if (!v) return false;
  for (let i = 0; i < 3; i++) {
    const a = v[i] ?? 0;
    const b = CLONE_PAIR_SINCE[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * Facts about the array the driver reads once and keeps: the configured pools and how copies are
 * made. They are read inside the first operation that needs them, bounded by its deadline (never in
 * `initialize`, whose shared wait would turn an unreachable array into a caller's TIMEOUT instead of
 * `BACKEND_UNAVAILABLE`); a failed read is tried again by the next operation.
 */
export class ArrayFacts {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;
  #copyMethod: "lun-copy" | "clone-pair" | undefined;

  /** @param client - the REST client; @param config - the driver's parsed config. */
  constructor(client: IpsanClient, config: ParsedIpsanConfig) {
    this.#client = client;
    this.#config = config;
  }

  /**
   * The configured pools, read fresh (capacity changes), in config order; `INVALID_CONFIG` naming
   * a configured pool the array does not have.
   */
  pools(ctx: OperationContext): ResultAsync<PoolInfo[], VolkitError> {
    return this.#client.pools.list(ctx).andThen((all) => {
      const byName = new Map(all.map((p) => [p.name, p]));
      const missing = this.#config.storagePools.filter((n) => !byName.has(n));
      if (missing.length > 0) {
        return errAsync(
          new VolkitError("INVALID_CONFIG", `storage pool(s) ${missing.join(", ")} not found on the array (it has: ${all.map((p) => p.name).join(", ") || "none"})`, {
            source: "ipsan",
            details: { missing, available: all.map((p) => p.name) },
          }),
        );
      }
      return okAsync(this.#config.storagePools.map((n) => byName.get(n)).filter((p): p is PoolInfo => p !== undefined));
    });
  }

  /** How full copies are made: the config's choice, or for `auto` by the array's product version. */
  copyMethod(ctx: OperationContext): ResultAsync<"lun-copy" | "clone-pair", VolkitError> {
    const configured = this.#config.copyMethod;
    if (configured !== "auto") return okAsync(configured);
    if (this.#copyMethod) return okAsync(this.#copyMethod);
    return this.#client.system.get(ctx).map((system) => {
      const method = supportsClonePairs(system.productVersion) ? "clone-pair" : "lun-copy";
      this.#copyMethod = method;
      ctx.logger.info({ productVersion: system.productVersion, copyMethod: method }, "ipsan: copy method chosen from the array's version");
      return method;
    });
  }
}
