import { describe, expect, it } from "vitest";
import { pickShare, shareIneligibility, type ShareCapacity } from "../../../../src/drivers/nfs/nfs-capacity.js";

const GiB = 1024 ** 3;
const share = (name: string, total: number, available: number, allocated: number): ShareCapacity => ({
  share: name,
  totalBytes: total * GiB,
  availableBytes: available * GiB,
  allocatedBytes: allocated * GiB,
});
const thin = { reservedPercentage: 0, overSubscriptionRatio: 20 };
const thick = { reservedPercentage: 0, overSubscriptionRatio: 1, requireFree: true };

describe("Cinder's share eligibility", () => {
  it("accepts a share with room", () => {
    expect(shareIneligibility(share("a", 10, 9, 1), 5 * GiB, thick)).toBeUndefined();
  });

  it("refuses a share used beyond (100 - reserved)%", () => {
    expect(shareIneligibility(share("a", 10, 0.5, 1), GiB, { reservedPercentage: 10, overSubscriptionRatio: 20 })).toContain("exceeds 90.0%");
  });

  it("refuses when total × ratio − allocated does not exceed the request", () => {
    expect(shareIneligibility(share("a", 10, 9, 6), 4 * GiB, thick)).toContain("does not fit");
    // Thin: over-subscription lets allocated sizes exceed the share.
    expect(shareIneligibility(share("a", 10, 9, 60), 4 * GiB, thin)).toBeUndefined();
  });

  it("refuses a share already allocated to its ratio", () => {
    expect(shareIneligibility(share("a", 10, 9, 200), 0, thin)).toContain("does not fit");
  });
});

describe("placement", () => {
  it("picks the least-allocated eligible share", () => {
    // c has the least allocated but is used beyond 100 − 5 %.
    const r = pickShare([share("a", 100, 90, 30), share("b", 100, 50, 10), share("c", 100, 1, 0)], GiB, { ...thin, reservedPercentage: 5 });
    expect("share" in r && r.share.share).toBe("b");
  });

  it("Cinder's rule alone places a thin volume on a nearly full share with little allocated", () => {
    const r = pickShare([share("a", 100, 90, 30), share("c", 100, 1, 0)], GiB, thin);
    expect("share" in r && r.share.share).toBe("c");
  });

  it("thick volumes also need the space free now", () => {
    expect(shareIneligibility(share("a", 10, 2, 0), 5 * GiB, thick)).toContain("free (thick volume)");
  });

  it("keeps configured order on ties", () => {
    const r = pickShare([share("a", 100, 90, 10), share("b", 100, 90, 10)], GiB, thick);
    expect("share" in r && r.share.share).toBe("a");
  });

  it("returns every share's reason when none fits", () => {
    const r = pickShare([share("a", 10, 9, 9), share("b", 10, 0, 0)], 5 * GiB, thick);
    expect("refused" in r && r.refused.map((x) => x.share)).toEqual(["a", "b"]);
  });
});
