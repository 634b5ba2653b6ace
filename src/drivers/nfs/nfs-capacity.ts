/**
 * Cinder's NFS capacity rules, as pure functions over the numbers the driver reads per share
 * (`stat -f` for total/available, `du --apparent-size` for allocated).
 */

/** Bytes in a GiB. */
const GiB = 1024 ** 3;

/** Capacity of one share. */
export interface ShareCapacity {
  /** The share. */
  readonly share: string;
  /** Filesystem size in bytes. */
  readonly totalBytes: number;
  /** Bytes available. */
  readonly availableBytes: number;
  /** Apparent size of the files on the share (what volumes were given, not what they use). */
  readonly allocatedBytes: number;
}

/** The knobs of the rule. */
export interface CapacityPolicy {
  /** Space kept free, percent. */
  readonly reservedPercentage: number;
  /** How far allocated sizes may exceed the share's size (1 for thick volumes). */
  readonly overSubscriptionRatio: number;
  /**
   * Also require `requestedBytes` of free space now (thick volumes are written in full at
   * create; Cinder's rule alone would let a full share with little allocated take one).
   */
  readonly requireFree?: boolean;
}

/** Why a share was not chosen (for the `INSUFFICIENT_CAPACITY` error's details). */
export interface Ineligibility {
  /** The share. */
  readonly share: string;
  /** The rule it failed. */
  readonly reason: string;
}

/**
 * Cinder's `_is_share_eligible`: the share is used no more than (100 − reserved)%, its
 * over-subscribed size minus what is allocated leaves more than `requestedBytes`, and the
 * allocated-to-size ratio is below the over-subscription ratio (plus, for thick volumes, the
 * space is free now). Returns the reason when it is not.
 *
 * @example
 * ```ts
 * shareIneligibility({ share: "h:/e", totalBytes: 10 * GiB, availableBytes: 9 * GiB, allocatedBytes: 0 }, GiB, { reservedPercentage: 0, overSubscriptionRatio: 1 }); // undefined
 * ```
 */
export function shareIneligibility(c: ShareCapacity, requestedBytes: number, policy: CapacityPolicy): string | undefined {
  if (c.totalBytes <= 0) return "share reports no capacity";
  const usedRatio = (c.totalBytes - c.availableBytes) / c.totalBytes;
  const maxUsed = (100 - policy.reservedPercentage) / 100;
  if (usedRatio > maxUsed) return `used ${pct(usedRatio)} exceeds ${pct(maxUsed)} (reserved ${policy.reservedPercentage}%)`;
  const apparentAvailable = Math.max(0, c.totalBytes * policy.overSubscriptionRatio - c.allocatedBytes);
  if (apparentAvailable <= requestedBytes) {
    return `${gib(requestedBytes)} GiB does not fit: ${gib(apparentAvailable)} GiB left at over-subscription ${policy.overSubscriptionRatio}`;
  }
  if (c.allocatedBytes / c.totalBytes >= policy.overSubscriptionRatio) return `allocated ratio ${(c.allocatedBytes / c.totalBytes).toFixed(2)} reached over-subscription ${policy.overSubscriptionRatio}`;
  if (policy.requireFree && c.availableBytes <= requestedBytes) return `${gib(requestedBytes)} GiB does not fit in ${gib(c.availableBytes)} GiB free (thick volume)`;
  return undefined;
}

/**
 * Picks the eligible share with the least allocated bytes (Cinder's `_find_share`); ties go to
 * the first configured. Returns the share or the reason each share was refused.
 */
export function pickShare(
  shares: readonly ShareCapacity[],
  requestedBytes: number,
  policy: CapacityPolicy,
): { readonly share: ShareCapacity } | { readonly refused: readonly Ineligibility[] } {
  const refused: Ineligibility[] = [];
  let best: ShareCapacity | undefined;
  for (const s of shares) {
    const reason = shareIneligibility(s, requestedBytes, policy);
    if (reason !== undefined) refused.push({ share: s.share, reason });
    else if (!best || s.allocatedBytes < best.allocatedBytes) best = s;
  }
  return best ? { share: best } : { refused };
}

function pct(r: number): string {
  return `${(r * 100).toFixed(1)}%`;
}

function gib(bytes: number): string {
  return (bytes / GiB).toFixed(2);
}
