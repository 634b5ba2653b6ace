import { describe, expect, it } from "vitest";
import { planRevert, planSnapshotDelete, type ChainImage } from "../../../../src/drivers/nfs/nfs-chain.js";
import type { InfoFile } from "../../../../src/drivers/nfs/nfs-parsers.js";

const GiB = 1024 ** 3;
const img = (name: string, backing?: string, size = GiB): ChainImage =>
  backing === undefined ? { name, format: name.includes(".") ? "qcow2" : "raw", virtualSize: size } : { name, format: "qcow2", virtualSize: size, backing, backingFormat: backing.includes(".") ? "qcow2" : "raw" };

// volume-a ← volume-a.s1 ← volume-a.s2 ← volume-a.s3 (active); chain is listed active first.
const chain3 = [img("volume-a.s3", "volume-a.s2"), img("volume-a.s2", "volume-a.s1"), img("volume-a.s1", "volume-a"), img("volume-a")];
const info3: InfoFile = { active: "volume-a.s3", snapshots: { s1: "volume-a.s1", s2: "volume-a.s2", s3: "volume-a.s3" } };

describe("planSnapshotDelete with three snapshots", () => {
  it("newest: commit the active overlay into its backing, which becomes active", () => {
    expect(planSnapshotDelete(chain3, info3, "s3")._unsafeUnwrap()).toEqual({ kind: "commit-active", file: "volume-a.s3", into: chain3[1] });
  });

  it("middle: commit its overlay into its backing and re-point the next overlay there", () => {
    expect(planSnapshotDelete(chain3, info3, "s2")._unsafeUnwrap()).toEqual({ kind: "commit-middle", file: "volume-a.s2", into: chain3[2], higher: chain3[0] });
  });

  it("oldest: commit into the base image and re-point the next overlay at the base", () => {
    expect(planSnapshotDelete(chain3, info3, "s1")._unsafeUnwrap()).toEqual({ kind: "commit-middle", file: "volume-a.s1", into: chain3[3], higher: chain3[1] });
  });

  it("a snapshot not in .info is absent; one whose overlay left the chain is forgotten", () => {
    expect(planSnapshotDelete(chain3, info3, "s9")._unsafeUnwrap()).toEqual({ kind: "absent" });
    const interrupted = { active: "volume-a.s3", snapshots: { ...info3.snapshots } };
    const rebased = [img("volume-a.s3", "volume-a.s1"), img("volume-a.s1", "volume-a"), img("volume-a")];
    expect(planSnapshotDelete(rebased, interrupted, "s2")._unsafeUnwrap()).toEqual({ kind: "forget", file: "volume-a.s2" });
  });

  it("refuses a .info that names the base image as a snapshot", () => {
    const bad = { active: "volume-a.s3", snapshots: { s1: "volume-a" } };
    expect(planSnapshotDelete(chain3, bad, "s1")._unsafeUnwrapErr().code).toBe("INVALID_STATE");
  });
});

describe("planRevert", () => {
  it("reverts to the newest snapshot: new overlay on its data, of the volume's current size", () => {
    const grown = [img("volume-a.s3", "volume-a.s2", 2 * GiB), ...chain3.slice(1)];
    expect(planRevert(grown, info3, "s3")._unsafeUnwrap()).toEqual({ file: "volume-a.s3", backing: chain3[1], sizeBytes: 2 * GiB });
  });

  it("refuses an older snapshot, naming the newer ones", () => {
    const e = planRevert(chain3, info3, "s1")._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(e.details.newerSnapshots).toEqual(["s2", "s3"]);
  });

  it("SNAPSHOT_NOT_FOUND for an unknown snapshot", () => {
    expect(planRevert(chain3, info3, "zz")._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
  });
});
