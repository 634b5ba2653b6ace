import { wrapDriver } from "../../../../src/drivers/backend.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { okAsync } from "neverthrow";
import { createLvmDriver, type LvmConfig } from "../../../../src/drivers/lvm/index.js";
import type { VolumeBackend } from "../../../../src/drivers/backend.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";
import type { TargetExport, TargetHelper } from "../../../../src/targets/target-helper.js";
import { redactText } from "../../../../src/core/secrets.js";

const FIXTURES = join(import.meta.dirname, "../../../fixtures/lvm");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");
const GiB = 1024 ** 3;

/** The one-command report (`vgs` with LV fields). */
const isReport = (argv: readonly string[]): boolean => argv[0] === "vgs" && argv.some((a) => a.includes("lv_name"));

/**
 * A runner serving `vgs`/`lvs` from captured fixtures that the test can switch between; the
 * one-command report of the same state is `report-<state>.json` (captured with the others).
 */
function lvmRunner(state: { vgs: string; lvs: string }): FakeRunner {
  return new FakeRunner()
    .on(isReport, () => ({ stdout: fx(state.lvs.replace(/^lvs-/, "report-")) }))
    .on(["vgs"], () => ({ stdout: fx(state.vgs) }))
    .on(["lvs"], () => ({ stdout: fx(state.lvs) }))
    .on(["hostname"], { stdout: "storage-1\n" });
}

async function backendFor(runner: FakeRunner, config: Partial<LvmConfig> & { volumeGroup: string }): Promise<VolumeBackend> {
  const backend = wrapDriver(createLvmDriver({ driver: "lvm", lvmType: "default", ...config }, { runner })._unsafeUnwrap());
  (await backend.setup())._unsafeUnwrap();
  return backend;
}

describe("LVM driver setup", () => {
  it("auto mode on an empty VG chooses thin and creates the pool with 95% of free space", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-empty.json", lvs: "lvs-thick-empty.json" }).on(["lvcreate"], {});
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "auto" }, { runner })._unsafeUnwrap());
    (await backend.setup())._unsafeUnwrap();
    expect(runner.commandsOf("lvcreate")).toEqual([["lvcreate", "--yes", "--type", "thin-pool", "-l", "95%FREE", "-n", "volkit-thick-pool", "volkit-thick"]]);
    expect(backend.capabilities.thin).toBe(true);
  });

  it("auto mode on a VG with LVs and no pool stays thick and creates nothing", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "auto" }, { runner })._unsafeUnwrap());
    (await backend.setup())._unsafeUnwrap();
    expect(runner.commandsOf("lvcreate")).toEqual([]);
    expect(backend.capabilities.thick).toBe(true);
  });

  it("runs every lvm2 command with LC_ALL=C and fd warnings suppressed", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    await backendFor(runner, { volumeGroup: "volkit-thick" });
    const lvmCalls = runner.calls.filter((c) => c.argv[0] === "vgs" || c.argv[0] === "lvs");
    expect(lvmCalls.length).toBeGreaterThan(0);
    for (const call of lvmCalls) expect(call.env).toMatchObject({ LC_ALL: "C", LVM_SUPPRESS_FD_WARNINGS: "1" });
  });

  it("reports a missing volume group as BACKEND_UNAVAILABLE", async () => {
    const runner = new FakeRunner().on(["vgs"], { exitCode: 5, stderr: fx("vgs-missing.stderr") });
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "no-such-vg" }, { runner })._unsafeUnwrap());
    expect((await backend.setup())._unsafeUnwrapErr().code).toBe("BACKEND_UNAVAILABLE");
  });

  it("retries an lvm2 command that segfaulted (exit 139)", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).once(["vgs"], { exitCode: 139, stderr: "Segmentation fault" });
    await backendFor(runner, { volumeGroup: "volkit-thick" });
    expect(runner.commandsOf("vgs").length).toBe(2);
  });

  it("rejects an invalid config with INVALID_CONFIG before running anything", () => {
    const runner = new FakeRunner();
    const r = createLvmDriver({ driver: "lvm", volumeGroup: "-rf", volumeClearIonice: "-c3; rm" }, { runner });
    const e = r._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toContain("volumeGroup");
    expect(e.message).toContain("volumeClearIonice");
    expect(runner.calls).toEqual([]);
  });
});

describe("LVM driver volumes", () => {
  it("creates a thick volume with the exact lvcreate argv", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).on(["lvcreate"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    const v = (await backend.createVolume({ id: "v1", sizeGiB: 2 }))._unsafeUnwrap();
    expect(v.providerLocation).toBe("/dev/volkit-thick/volume-v1");
    expect(runner.commandsOf("lvcreate")).toEqual([["lvcreate", "--yes", "--wipesignatures", "y", "-n", "volume-v1", "-L", "2g", "volkit-thick"]]);
  });

  it("creates a thin volume in the pool", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" }).on(["lvcreate"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    (await backend.createVolume({ id: "v2", sizeGiB: 3 }))._unsafeUnwrap();
    expect(runner.commandsOf("lvcreate")).toEqual([["lvcreate", "--yes", "--wipesignatures", "y", "-T", "-V", "3g", "-n", "volume-v2", "volkit-thin/volkit-thin-pool"]]);
  });

  it("detects an existing thin volume in the report instead of creating a second one", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    const e = (await backend.createVolume({ id: "bbbb", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e).toMatchObject({ code: "VOLUME_EXISTS", details: { lv: "volume-bbbb", sizeBytes: GiB } });
    expect(runner.commandsOf("lvcreate")).toEqual([]);
  });

  it("takes an existing thick volume from lvcreate's own 'already exists' failure (no read first)", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).on(["lvcreate"], { exitCode: 5, stderr: fx("lvcreate-exists.stderr") });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    runner.clearCalls();
    const e = (await backend.createVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e).toMatchObject({ code: "VOLUME_EXISTS", details: { lv: "volume-aaaa" } });
    expect(e.message).toContain("volkit-thick/volume-aaaa already exists");
    expect(runner.commands().map((c) => c[0])).toEqual(["lvcreate"]);
  });

  it("with a reserve, refuses a thick volume the VG cannot hold after one vgs, before calling lvcreate", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick", reservedPercentage: 10 });
    runner.clearCalls();
    const e = (await backend.createVolume({ id: "big", sizeGiB: 100 }))._unsafeUnwrapErr();
    expect(e.code).toBe("INSUFFICIENT_CAPACITY");
    expect(runner.commands().map((c) => c[0])).toEqual(["vgs"]);
    expect(runner.commands()[0]?.join(" ")).not.toContain("lv_name");
  });

  it("refuses thin volumes past the over-subscription ratio", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin", maxOverSubscriptionRatio: 1.5 });
    // Pool ≈ 9.47 GiB, 3 GiB provisioned: 12 more GiB exceed 1.5 × 9.47.
    expect((await backend.createVolume({ id: "big", sizeGiB: 12 }))._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
    expect(runner.commandsOf("lvcreate")).toEqual([]);
  });

  it("maps lvcreate's real 'insufficient free space' error to INSUFFICIENT_CAPACITY", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).on(["lvcreate"], { exitCode: 5, stderr: fx("lvcreate-nospace.stderr") });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    expect((await backend.createVolume({ id: "v3", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
  });

  it("rejects bad ids before any command runs", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    runner.clearCalls();
    for (const id of ["../x", "-rf", "a b", "x_tmeta"]) {
      expect((await backend.createVolume({ id, sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    }
    expect(runner.commandsOf("lvcreate")).toEqual([]);
  });

  it("refuses to delete a volume that has snapshots, naming them, and runs no wipe", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    const e = (await backend.deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e.code).toBe("VOLUME_BUSY");
    expect(e.details.snapshots).toEqual(["_snapshot-s1"]);
    expect(runner.commandsOf("dd")).toEqual([]);
    expect(runner.commandsOf("lvremove")).toEqual([]);
  });

  it("finds thin snapshots by tag even when lvm2's origin field no longer names the volume", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    expect((await backend.deleteVolume({ id: "bbbb", sizeGiB: 1 }))._unsafeUnwrapErr().details.snapshots).toEqual(["_snapshot-s2"]);
  });

  it("refuses to delete an open volume", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-open.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    expect((await backend.deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect(runner.commandsOf("dd")).toEqual([]);
  });

  it("zeroes a thick volume with one dd under ionice, then removes it", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" }).on(["ionice"], {}).on(["lvremove"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick", volumeClearIonice: "-c3" });
    (await backend.deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    const wipes = runner.commandsOf("ionice");
    expect(wipes).toEqual([["ionice", "-c3", "dd", "if=/dev/zero", "of=/dev/volkit-thick/volume-aaaa", "bs=1048576", "seek=0", `count=${GiB}`, "iflag=count_bytes", "oflag=seek_bytes,direct", "conv=notrunc", "status=progress"]]);
    expect(runner.commandsOf("lvremove")).toEqual([["lvremove", "--yes", "--config", "activation { retry_deactivation = 1 }", "-f", "volkit-thick/volume-aaaa"]]);
    // The wipe ran before the removal.
    const order = runner.commands().map((c) => c[0]);
    expect(order.lastIndexOf("ionice")).toBeLessThan(order.indexOf("lvremove"));
  });

  it("wipes only volumeClearSizeMiB, and nothing with volumeClear none", async () => {
    const partial = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" }).on(["dd"], {}).on(["lvremove"], {});
    (await (await backendFor(partial, { volumeGroup: "volkit-thick", volumeClearSizeMiB: 100 })).deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    const counts = partial.commandsOf("dd").map((a) => Number(a.find((x) => x.startsWith("count="))?.slice(6)));
    expect(counts.reduce((s, n) => s + n, 0)).toBe(100 * 1024 * 1024);

    const none = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" }).on(["lvremove"], {});
    (await (await backendFor(none, { volumeGroup: "volkit-thick", volumeClear: "none" })).deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    expect(none.commandsOf("dd")).toEqual([]);
  });

  it("removes a thin volume with one lvs and lvremove: no zero-fill, no discard (lvremove returns the blocks to the pool)", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" }).on(["lvremove"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    runner.clearCalls();
    (await backend.deleteVolume({ id: "cccc", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commands().map((c) => c[0])).toEqual(["lvs", "lvremove"]);
  });

  it("discards a thin volume before removing it with thinDiscardOnDelete", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" }).on(["blkdiscard"], {}).on(["lvremove"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin", thinDiscardOnDelete: true });
    (await backend.deleteVolume({ id: "cccc", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commandsOf("blkdiscard")).toEqual([["blkdiscard", "/dev/volkit-thin/volume-cccc"]]);
    expect(runner.commandsOf("dd")).toEqual([]);
  });

  it("treats deleting a missing volume as success", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-empty.json", lvs: "lvs-thick-empty.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick", lvmType: "default" });
    (await backend.deleteVolume({ id: "gone", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commandsOf("lvremove")).toEqual([]);
  });

  it("retries lvremove after udevadm settle when the device is briefly busy", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" })
      .on(["dd"], {})
      .once(["lvremove"], { exitCode: 5, stderr: fx("lvremove-open.stderr") })
      .on(["lvremove"], {})
      .on(["udevadm"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    (await backend.deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commandsOf("lvremove").length).toBe(2);
    expect(runner.commandsOf("udevadm")).toEqual([["udevadm", "settle", "--timeout=30"]]);
  });

  it("snapshots a thick volume with a COW as large as the origin and tags it", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" }).on(["lvcreate"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    (await backend.createSnapshot({ id: "s9", volumeId: "aaaa", volumeSizeGiB: 1 }, { id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commandsOf("lvcreate")).toEqual([["lvcreate", "--yes", "-s", "-n", "_snapshot-s9", "-L", `${GiB}b`, "--addtag", "volkit-origin-aaaa", "volkit-thick/volume-aaaa"]]);
  });

  it("wipes a deleted thick snapshot's exception store (the -cow layer), not through the snapshot", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).on(["dd"], {}).on(["lvremove"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    (await backend.deleteSnapshot({ id: "s1", volumeId: "aaaa", volumeSizeGiB: 1 }))._unsafeUnwrap();
    const targets = new Set(runner.commandsOf("dd").map((a) => a.find((x) => x.startsWith("of="))));
    expect([...targets]).toEqual(["of=/dev/mapper/volkit--thick-_snapshot--s1-cow"]);
    const zeroed = runner.commandsOf("dd").reduce((sum, a) => sum + Number(a.find((x) => x.startsWith("count="))?.slice(6)), 0);
    expect(zeroed).toBe(GiB); // the snapshot's lv_size in lvs-thick.json
    expect(runner.commandsOf("lvremove")).toEqual([["lvremove", "--yes", "--config", "activation { retry_deactivation = 1 }", "-f", "volkit-thick/_snapshot-s1"]]);
  });

  it("returns the existing snapshot when a snapshot create is retried", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    const s = (await backend.createSnapshot({ id: "s1", volumeId: "aaaa", volumeSizeGiB: 1 }, { id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    expect(s.providerLocation).toBe("/dev/volkit-thick/_snapshot-s1");
    expect(runner.commandsOf("lvcreate")).toEqual([]);
  });

  it("clones a thin volume with one report and one lvcreate -s that activates it, grown only when asked", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" }).on(["lvcreate"], {}).on(["lvextend"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    runner.clearCalls();
    (await backend.createClonedVolume({ id: "dddd", sizeGiB: 1 }, { id: "bbbb", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commands()).toEqual([expect.arrayContaining(["vgs"]), ["lvcreate", "--yes", "-s", "-n", "volume-dddd", "--setactivationskip", "n", "volkit-thin/volume-bbbb"]]);
    runner.clearCalls();
    (await backend.createClonedVolume({ id: "eeee", sizeGiB: 2 }, { id: "bbbb", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commands().map((c) => c[0])).toEqual(["vgs", "lvcreate", "lvextend"]);
    expect(runner.commandsOf("lvextend")).toEqual([["lvextend", "--yes", "-L", "2g", "volkit-thin/volume-eeee"]]);
    expect(runner.commandsOf("dd")).toEqual([]);
  });

  it("removes the thin clone when growing it fails", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" }).on(["lvcreate"], {}).on(["lvremove"], {}).on(["lvextend"], { exitCode: 5, stderr: "simulated extend failure" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    const e = (await backend.createClonedVolume({ id: "eeee", sizeGiB: 2 }, { id: "bbbb", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e.message).toContain("simulated extend failure");
    expect(runner.commandsOf("lvremove").map((a) => a.at(-1))).toEqual(["volkit-thin/volume-eeee"]);
  });

  it("refuses a clone whose name the report already shows, and a clone of a volume it does not show", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    expect((await backend.createClonedVolume({ id: "cccc", sizeGiB: 1 }, { id: "bbbb", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
    expect((await backend.createClonedVolume({ id: "ffff", sizeGiB: 1 }, { id: "nope", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect(runner.commandsOf("lvcreate")).toEqual([]);
  });

  it("removes the new LV and the temporary snapshot when a thick clone's copy fails", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" })
      .on(["lvcreate"], {})
      .on(["lvremove"], {})
      .once(["dd"], { exitCode: 1, stderr: "dd: error writing '/dev/volkit-thick/volume-new': No space left on device" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    const e = (await backend.createClonedVolume({ id: "new", sizeGiB: 1 }, { id: "aaaa", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(e.message).toContain("No space left");
    const removed = runner.commandsOf("lvremove").map((a) => a.at(-1));
    expect(removed).toContain("volkit-thick/volume-new");
    expect(removed.filter((n) => n === "volkit-thick/_clone-new")).toHaveLength(1); // the cleanup; the report showed no leftover
  });

  it("removes a temporary snapshot an interrupted thick clone left before taking a new one", async () => {
    const withLeftover = fx("report-thick-plain.json").replace(/\{[^{}]*"lv_name":"volume-aaaa"[^{}]*\}/, (row) => `${row},\n${row.replace('"volume-aaaa"', '"_clone-new"')}`);
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" }).on(["lvcreate"], {}).on(["lvremove"], {}).on(["dd"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    runner.once(isReport, { stdout: withLeftover });
    runner.clearCalls();
    (await backend.createClonedVolume({ id: "new", sizeGiB: 1 }, { id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commands().map((c) => `${c[0]} ${c.at(-1)}`)).toEqual([
      expect.stringMatching(/^vgs volkit-thick$/),
      "lvremove volkit-thick/_clone-new",
      "lvcreate volkit-thick/volume-aaaa",
      "lvcreate volkit-thick",
      "dd status=progress",
      "lvremove volkit-thick/_clone-new",
    ]);
  });

  it("extends a thick origin with snapshots by deactivating, extending and reactivating it (lvm2 needs it inactive)", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    // lvs-thick.json's origin is not open: the driver deactivates, extends, reactivates.
    runner.on(["lvchange"], {}).on(["lvextend"], {});
    (await backend.extendVolume({ id: "aaaa", sizeGiB: 1 }, 2))._unsafeUnwrap();
    expect(runner.commands().filter((c) => c[0] === "lvchange" || c[0] === "lvextend")).toEqual([
      ["lvchange", "-a", "n", "volkit-thick/volume-aaaa"],
      ["lvextend", "--yes", "-L", "2g", "volkit-thick/volume-aaaa"],
      ["lvchange", "-a", "y", "--yes", "-K", "volkit-thick/volume-aaaa"],
    ]);
  });

  it("extends a plain volume online and treats an already-large-enough LV as done", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-open.json" }).on(["lvextend"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    expect((await backend.extendVolume({ id: "aaaa", sizeGiB: 1 }, 3))._unsafeUnwrap().sizeGiB).toBe(3);
    expect(runner.commandsOf("lvextend")).toEqual([["lvextend", "--yes", "-L", "3g", "volkit-thick/volume-aaaa"]]);
    expect(runner.commandsOf("lvchange")).toEqual([]);
    runner.clearCalls();
    (await backend.extendVolume({ id: "aaaa", sizeGiB: 1 }, 1))._unsafeUnwrap();
    expect(runner.commandsOf("lvextend")).toEqual([]);
    expect((await backend.extendVolume({ id: "aaaa", sizeGiB: 2 }, 1))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("reverts a thick volume by merge, reactivation and re-creating the snapshot", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).on(["lvconvert"], {}).on(["lvchange"], {}).on(["lvcreate"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    // After the merge the snapshot is gone: serve the plain state from then on.
    runner.once(["lvs"], { stdout: fx("lvs-thick.json") }).once(["lvs"], { stdout: fx("lvs-thick-plain.json") });
    (await backend.revertToSnapshot({ id: "aaaa", sizeGiB: 1 }, { id: "s1", volumeId: "aaaa", volumeSizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commands().filter((c) => ["lvconvert", "lvchange", "lvcreate"].includes(c[0] as string))).toEqual([
      ["lvconvert", "--merge", "volkit-thick/_snapshot-s1"],
      ["lvchange", "-a", "n", "volkit-thick/volume-aaaa"],
      ["lvchange", "-a", "y", "--yes", "-K", "volkit-thick/volume-aaaa"],
      ["lvcreate", "--yes", "-s", "-n", "_snapshot-s1", "-L", `${GiB}b`, "--addtag", "volkit-origin-aaaa", "volkit-thick/volume-aaaa"],
    ]);
  });

  it("swaps the old LV back when a thin revert fails half way", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" })
      .on(["lvcreate"], {})
      .on(["lvremove"], {})
      .once(["lvrename", "volkit-thin", "volume-bbbb"], {})
      .once(["lvrename", "volkit-thin", "_revert-bbbb"], { exitCode: 5, stderr: "simulated rename failure" })
      .on(["lvrename"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin" });
    // During rollback lvs shows the volume renamed away and the temporary present.
    const swapped = fx("lvs-thin.json").replace('"lv_name":"volume-bbbb"', '"lv_name":"_revert-old-bbbb"').replace('"lv_name":"volume-cccc"', '"lv_name":"_revert-bbbb"');
    runner.once((argv) => argv[0] === "lvs" && runner.commandsOf("lvrename").length >= 2, { stdout: swapped });
    const e = (await backend.revertToSnapshot({ id: "bbbb", sizeGiB: 1 }, { id: "s2", volumeId: "bbbb", volumeSizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e.message).toContain("simulated rename failure");
    const renames = runner.commandsOf("lvrename");
    expect(renames).toEqual([
      ["lvrename", "volkit-thin", "volume-bbbb", "_revert-old-bbbb"],
      ["lvrename", "volkit-thin", "_revert-bbbb", "volume-bbbb"],
      ["lvrename", "volkit-thin", "_revert-old-bbbb", "volume-bbbb"],
    ]);
    expect(runner.commandsOf("lvremove").map((a) => a.at(-1))).toContain("volkit-thin/_revert-bbbb");
  });

  it("reports stats from the thin pool as Cinder does", async () => {
    const runner = lvmRunner({ vgs: "vgs-thin.json", lvs: "lvs-thin.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thin", lvmType: "thin", reservedPercentage: 5 });
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    const poolBytes = 10171187200;
    const total = poolBytes / GiB;
    expect(stats.totalCapacityGiB).toBe(Math.round(total * 100) / 100);
    expect(stats.freeCapacityGiB).toBe(Math.floor((total - (total * 0.16) / 100) * 100) / 100);
    expect(stats.pools[0]?.provisionedCapacityGiB).toBe(3); // three 1 GiB thin LVs
    expect(stats.pools[0]?.totalVolumes).toBe(2);
    expect(stats.pools[0]?.capabilities.dataPercent).toBe(0.18);
    expect(stats.pools[0]?.locationInfo).toBe("LVMVolumeDriver:storage-1:volkit-thin:thin:0");
    expect(stats.pools[0]?.reservedPercentage).toBe(5);
  });

  it("reports thick stats from the VG", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(stats.totalCapacityGiB).toBe(Math.round((10733223936 / GiB) * 100) / 100);
    expect(stats.freeCapacityGiB).toBe(Math.floor((8573157376 / GiB) * 100) / 100);
    expect(stats.pools[0]?.thickProvisioningSupport).toBe(true);
  });

  it("manages an existing LV by name, growing it to whole GiB, and lists manageable LVs", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick.json", lvs: "lvs-thick.json" }).on(["lvextend"], {}).on(["lvrename"], {});
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    const list = (await backend.listManageable())._unsafeUnwrap();
    expect(list).toEqual([
      { reference: { sourceName: "legacy-data" }, sizeGiB: 1, safeToManage: true },
      { reference: { sourceName: "volume-aaaa" }, sizeGiB: 1, safeToManage: false, reasonNotSafe: "already managed by volkit", volkitId: "aaaa" },
    ]);
    expect((await backend.manageExistingGetSize({ sourceName: "legacy-data" }))._unsafeUnwrap()).toBe(1);
    const v = (await backend.manageExisting({ id: "m1", sizeGiB: 1 }, { sourceName: "legacy-data" }))._unsafeUnwrap();
    expect(v).toMatchObject({ id: "m1", sizeGiB: 1, providerLocation: "/dev/volkit-thick/volume-m1" });
    expect(runner.commandsOf("lvextend")).toEqual([["lvextend", "--yes", "-L", "1g", "volkit-thick/legacy-data"]]);
    expect(runner.commandsOf("lvrename")).toEqual([["lvrename", "volkit-thick", "legacy-data", "volume-m1"]]);
    expect((await backend.manageExisting({ id: "m2", sizeGiB: 1 }, { sourceName: "_snapshot-s1" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });
});

describe("LVM driver exports", () => {
  function fakeTarget(portals: string[]): TargetHelper & { allowed: string[] } {
    const exp = (id: string): TargetExport => ({ iqn: `iqn.2010-10.org.openstack:volume-${id}`, portals, lun: 1, tid: 1, providerLocation: `${portals.join(";")},1 iqn.2010-10.org.openstack:volume-${id} 1`, initiators: allowed });
    const allowed: string[] = [];
    return {
      kind: "fake",
      allowed,
      check: () => okAsync(undefined),
      createExport: (r) => okAsync(exp(r.volumeId)),
      ensureExport: (r) => okAsync(exp(r.volumeId)),
      removeExport: () => okAsync(undefined),
      getExport: (id) => okAsync(exp(id)),
      allowInitiator: (_id, initiator) => {
        allowed.push(initiator);
        return okAsync(1);
      },
      denyInitiator: () => okAsync(undefined),
      refreshSize: () => okAsync(undefined),
    };
  }

  async function exportedBackend(portals: string[]) {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" });
    const { LvmDriver, LvmConfigSchema } = await import("../../../../src/drivers/lvm/index.js");
    const { wrapDriver } = await import("../../../../src/drivers/backend.js");
    const target = fakeTarget(portals);
    const config = LvmConfigSchema.parse({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default", target: { helper: "tgt", portals, chap: true } });
    const backend = wrapDriver(new LvmDriver(config, { runner, target }));
    return { backend, target };
  }

  it("generates CHAP once, returns it in providerAuth, and hands plural keys for several portals", async () => {
    const { backend, target } = await exportedBackend(["127.0.0.1:3260", "127.0.0.2:3260"]);
    const volume = { id: "aaaa", sizeGiB: 1 };
    const update = (await backend.createExport(volume))._unsafeUnwrap();
    const m = /^CHAP (\S{20}) (\S{16})$/.exec(update.providerAuth ?? "");
    expect(m).not.toBeNull();
    const exported = { ...volume, ...update };
    // A second export reuses the stored credentials.
    expect((await backend.createExport(exported))._unsafeUnwrap().providerAuth).toBe(update.providerAuth);
    const info = (await backend.initializeConnection(exported, { host: "c1", initiator: "iqn.2026-11.io.volkit:c1", multipath: true }))._unsafeUnwrap();
    expect(info).toMatchObject({
      type: "iscsi",
      targetIqn: "iqn.2010-10.org.openstack:volume-aaaa",
      targetPortal: "127.0.0.1:3260",
      targetLun: 1,
      targetPortals: ["127.0.0.1:3260", "127.0.0.2:3260"],
      targetIqns: ["iqn.2010-10.org.openstack:volume-aaaa", "iqn.2010-10.org.openstack:volume-aaaa"],
      targetLuns: [1, 1],
      authMethod: "CHAP",
      authUsername: m?.[1],
    });
    expect(target.allowed).toEqual(["iqn.2026-11.io.volkit:c1"]);
    // The secret is registered: it is redacted from any text volkit emits.
    expect(redactText(`secret is ${m?.[2]}`)).toBe("secret is ***");
  });

  it("needs the connector's initiator for iSCSI and an export first", async () => {
    const { backend } = await exportedBackend(["127.0.0.1:3260"]);
    expect((await backend.initializeConnection({ id: "aaaa", sizeGiB: 1 }, { host: "c1" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await backend.initializeConnection({ id: "aaaa", sizeGiB: 1 }, { host: "c1", initiator: "iqn.2026-11.io.volkit:c1" }))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
  });

  it("returns local connection info when no target is configured", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" });
    const backend = await backendFor(runner, { volumeGroup: "volkit-thick" });
    expect((await backend.initializeConnection({ id: "aaaa", sizeGiB: 1 }, { host: "c1", readOnly: true }))._unsafeUnwrap()).toEqual({
      type: "local",
      volumeId: "aaaa",
      devicePath: "/dev/volkit-thick/volume-aaaa",
      accessMode: "ro",
      discard: false,
      encrypted: false,
    });
  });
});

describe("LVM driver: reads change nothing, writes are checked first", () => {
  it("auto mode on an empty VG: stats report the thin pool to be, create nothing; the first create makes the pool", async () => {
    const runner = lvmRunner({ vgs: "vgs-thick-empty.json", lvs: "lvs-thick-empty.json" }).on(["lvcreate"], {});
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "auto" }, { runner })._unsafeUnwrap());
    expect(backend.capabilities).toMatchObject({ thin: true, thick: true }); // either, until the VG was read
    const stats = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(runner.commandsOf("lvcreate")).toEqual([]);
    expect(backend.capabilities).toMatchObject({ thin: true, thick: false });
    expect(stats.pools[0]).toMatchObject({ thinProvisioningSupport: true, provisionedCapacityGiB: 0, capabilities: { lvmType: "thin", dataPercent: 0 } });
    // An empty pool of 95% of the VG's free space: all free (free rounded down, total to nearest).
    expect(Number(stats.totalCapacityGiB) - Number(stats.freeCapacityGiB)).toBeGreaterThanOrEqual(0);
    expect(Number(stats.totalCapacityGiB) - Number(stats.freeCapacityGiB)).toBeLessThanOrEqual(0.01);
    (await backend.createVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    const creates = runner.commandsOf("lvcreate");
    expect(creates).toHaveLength(2);
    expect(creates[0]).toContain("thin-pool");
    expect(creates[1]).toEqual(expect.arrayContaining(["-T", "-V", "1g", "volkit-thick/volkit-thick-pool"]));
  });

  it("with an iSCSI target refuses ids its IQN cannot carry, before any command", async () => {
    const runner = new FakeRunner();
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "vg0", target: { helper: "lio" } }, { runner })._unsafeUnwrap());
    for (const id of ["v_1", "Vol1"]) {
      const e = (await backend.createVolume({ id, sizeGiB: 1 }))._unsafeUnwrapErr();
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.message).toMatch(/iSCSI target name/);
    }
    expect((await backend.createSnapshot({ id: "s_1", volumeId: "v1", volumeSizeGiB: 1 }, { id: "v1", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
  });

  it("without a target refuses only lvm2's reserved names", async () => {
    const runner = new FakeRunner();
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "vg0" }, { runner })._unsafeUnwrap());
    expect((await backend.createVolume({ id: "x_tdata", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
  });

  // Each holds a recognizable secret-like token that must appear in no error.
  const malformed = ["CHAP zq9tokenONLY", "CHAP u1 zq9token two", "CHAP u1 zq9tok\nen-secret", "PAP u1 zq9token-secret", "CHAP u1 zq9short", "CHAP u\tser zq9token-secret"];
  it.each(malformed)("refuses a stored providerAuth %j naming the field (never the value), exporting and extending nothing", async (auth) => {
    const runner = lvmRunner({ vgs: "vgs-thick-plain.json", lvs: "lvs-thick-plain.json" }).on(["lvextend"], {});
    const { LvmDriver, LvmConfigSchema } = await import("../../../../src/drivers/lvm/index.js");
    const config = LvmConfigSchema.parse({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default", target: { helper: "tgt", chap: true } });
    const created: string[] = [];
    const target = {
      kind: "fake",
      check: () => okAsync(undefined),
      createExport: () => {
        created.push("export");
        return okAsync({ iqn: "iqn.2010-10.org.openstack:volume-aaaa", portals: ["127.0.0.1:3260"], lun: 1, providerLocation: "x", initiators: [] });
      },
      ensureExport: () => okAsync({ iqn: "x", portals: [], lun: 1, providerLocation: "x", initiators: [] }),
      removeExport: () => okAsync(undefined),
      getExport: () => okAsync(undefined),
      allowInitiator: () => okAsync(1),
      denyInitiator: () => okAsync(undefined),
      refreshSize: () => okAsync(undefined),
    } satisfies TargetHelper;
    const backend = wrapDriver(new LvmDriver(config, { runner, target }));
    const volume = { id: "aaaa", sizeGiB: 1, providerAuth: auth };
    for (const e of [(await backend.createExport(volume))._unsafeUnwrapErr(), (await backend.extendVolume(volume, 2))._unsafeUnwrapErr()]) {
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.message).toMatch(/providerAuth is malformed/);
      expect(JSON.stringify(e.toJSON())).not.toMatch(/zq9/);
    }
    expect(created).toEqual([]);
    expect(runner.commandsOf("lvextend")).toEqual([]);
  });
});
