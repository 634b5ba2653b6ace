import { weighableFreeGiB } from "./capacity.js";
import type { PlacementRequest } from "./filters.js";
import type { PoolState } from "./pool-stats.js";

/**
 * Cinder's weighers, pure. Each weigher gives every candidate a raw value, the values are min-max
 * normalized to 0…1 across the candidates (all equal → all 0), multiplied by the weigher's
 * multiplier and summed; the highest total wins (ties: the lower `backend#pool` name, so placement is
 * deterministic).
 *
 * - `CapacityWeigher` (default multiplier 1.0): the virtual free capacity for thin, free − reserved
 *   for thick. A positive multiplier spreads volumes to the pool with the most room, a negative one
 *   stacks them. `infinite`/`unknown` pools come last either way (Cinder's nudge to drivers that
 *   report them): −1 when spreading, above every finite value when stacking.
 * - `AllocatedCapacityWeigher` (default −1.0): the GiB already placed; negative favours the least
 *   allocated pool.
 */

/** A weigher's name. */
export type WeigherName = "CapacityWeigher" | "AllocatedCapacityWeigher";

/** A weigher and its multiplier. */
export interface WeigherConfig {
  /** Which weigher. */
  readonly weigher: WeigherName;
  /** Multiplier (default: 1.0 for capacity, −1.0 for allocated capacity). */
  readonly multiplier?: number;
}

/** Cinder's default: the capacity weigher alone, spreading. */
export const DEFAULT_WEIGHERS: readonly WeigherConfig[] = [{ weigher: "CapacityWeigher", multiplier: 1 }];

const DEFAULT_MULTIPLIER: Readonly<Record<WeigherName, number>> = { CapacityWeigher: 1, AllocatedCapacityWeigher: -1 };

/** Cinder's `normalize`: (v − min) / (max − min), or all 0 when every value is equal. */
export function normalize(values: readonly number[], min = Math.min(...values), max = Math.max(...values)): number[] {
  if (values.length === 0) return [];
  if (min === max) return values.map(() => 0);
  return values.map((v) => (v - min) / (max - min));
}

/** Offsets Cinder gives `infinite` pools when stacking (`OFFSET_MIN`, `OFFSET_MULT`). */
const OFFSET_MIN = 10_000;
const OFFSET_MULT = 100;

/** Raw capacity weights; an infinite/unknown pool weighs −1 when spreading and more than any other when stacking. */
function capacityWeights(pools: readonly PoolState[], request: PlacementRequest, multiplier: number): { values: number[]; min: number; max: number } {
  const raw = pools.map((p) => weighableFreeGiB(p, request.extraSpecs?.["provisioning:type"]) ?? (multiplier > 0 ? -1 : Infinity));
  const finite = raw.filter((v) => Number.isFinite(v));
  if (finite.length === raw.length || finite.length === 0) {
    return finite.length === 0 ? { values: raw.map(() => 0), min: 0, max: 0 } : { values: raw, min: Math.min(...raw), max: Math.max(...raw) };
  }
  const min = Math.min(...finite);
  let max = Math.max(...finite);
  const offset = (max - min) * OFFSET_MULT;
  max += offset === 0 ? OFFSET_MIN : offset;
  return { values: raw.map((v) => (Number.isFinite(v) ? v : max)), min, max };
}

/** One candidate after weighing. */
export interface WeighedPool {
  /** The pool. */
  readonly pool: PoolState;
  /** Total weight (higher wins). */
  readonly weight: number;
  /** Raw and normalized value per weigher, for explanations. */
  readonly parts: Readonly<Partial<Record<WeigherName, { readonly raw: number; readonly normalized: number; readonly multiplier: number }>>>;
}

/** Weighs candidates and sorts them best first. */
export function weighPools(pools: readonly PoolState[], request: PlacementRequest, weighers: readonly WeigherConfig[] = DEFAULT_WEIGHERS): WeighedPool[] {
  const totals = pools.map(() => 0);
  const parts = pools.map((): Partial<Record<WeigherName, { raw: number; normalized: number; multiplier: number }>> => ({}));
  for (const w of weighers) {
    const multiplier = w.multiplier ?? DEFAULT_MULTIPLIER[w.weigher];
    const { values, min, max } =
      w.weigher === "CapacityWeigher"
        ? capacityWeights(pools, request, multiplier)
        : (() => {
            const v = pools.map((p) => p.stats.allocatedCapacityGiB);
            return { values: v, min: Math.min(...v), max: Math.max(...v) };
          })();
    const normalized = normalize(values, min, max);
    normalized.forEach((n, i) => {
      totals[i] = (totals[i] ?? 0) + multiplier * n;
      const p = parts[i];
      if (p !== undefined) p[w.weigher] = { raw: values[i] ?? 0, normalized: n, multiplier };
    });
  }
  return pools
    .map((pool, i) => ({ pool, weight: totals[i] ?? 0, parts: parts[i] ?? {} }))
    .sort((a, b) => b.weight - a.weight || (a.pool.ref < b.pool.ref ? -1 : a.pool.ref > b.pool.ref ? 1 : 0));
}
