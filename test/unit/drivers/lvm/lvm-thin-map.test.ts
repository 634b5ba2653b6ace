import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { wrapDriver, type VolumeBackend } from "../../../../src/drivers/backend.js";
import { createLvmDriver } from "../../../../src/drivers/lvm/index.js";
import { parseThinLv } from "../../../../src/drivers/lvm/lvm-parsers.js";
import { parseThinDump } from "../../../../src/data/thin-map.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";

/** Captured by test/fixtures/lvm/capture-thin-map.sh: a 1 GiB thin LV with data at known offsets, and a thin snapshot of it. */
const fx = (name: string): string => readFileSync(join(import.meta.dirname, "../../../fixtures/lvm", name), "utf8");
const MiB = 1024 * 1024;
const KiB = 1024;
const GiB = 1024 * MiB;
const thinId = (name: string): number => parseThinLv(fx(name))._unsafeUnwrap().thinId ?? -1;

/** What the capture script wrote: before the snapshot 1 MiB at 0, 3 MiB at 40 MiB, 64 KiB at 1000 MiB; after it, in the volume only, 2 MiB at 100 MiB. */
const SNAPSHOT_RANGES = [
  { offset: 0, length: MiB },
  { offset: 40 * MiB, length: 3 * MiB },
  { offset: 1000 * MiB, length: 64 * KiB },
];
const VOLUME_RANGES = [SNAPSHOT_RANGES[0], SNAPSHOT_RANGES[1], { offset: 100 * MiB, length: 2 * MiB }, SNAPSHOT_RANGES[2]];

describe("thin allocation map parsers (thin-provisioning-tools output)", () => {
  it("reads a thin LV's thin_id, size and pool from lvs", () => {
    const volume = parseThinLv(fx("lvs-thin-id-volume.json"))._unsafeUnwrap();
    expect(volume).toMatchObject({ name: "volume-dddd", sizeBytes: GiB, pool: "volkit-thin-pool" });
    expect(volume.thinId).toBeGreaterThanOrEqual(0);
    expect(thinId("lvs-thin-id-snapshot.json")).not.toBe(volume.thinId);
  });

  it("reports no thin_id for an LV that is not a thin volume (the pool itself)", () => {
    expect(parseThinLv(fx("lvs-thin-id-pool.json"))._unsafeUnwrap()).toMatchObject({ name: "volkit-thin-pool", thinId: undefined, pool: "" });
  });

  it("turns a volume's thin_dump into the byte ranges that were written, merged", () => {
    expect(parseThinDump(fx("thin-dump-volume.xml"), thinId("lvs-thin-id-volume.json"))._unsafeUnwrap().ranges).toEqual(VOLUME_RANGES);
  });

  it("a thin snapshot's map has what was written before it, not what the volume got after", () => {
    expect(parseThinDump(fx("thin-dump-snapshot.xml"), thinId("lvs-thin-id-snapshot.json"))._unsafeUnwrap().ranges).toEqual(SNAPSHOT_RANGES);
  });

  it("a dump without the device asked for, or without a superblock, is a PARSE_ERROR", () => {
    expect(parseThinDump(fx("thin-dump-volume.xml"), 9999)._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseThinDump("<device dev_id=\"1\"></device>", 1)._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });

  it("counts range and single mappings in pool blocks of data_block_size sectors", () => {
    const xml = `<superblock uuid="" time="0" transaction="1" data_block_size="1024" nr_data_blocks="10">
  <device dev_id="7" mapped_blocks="4" transaction="0" creation_time="0" snap_time="0">
    <single_mapping origin_block="9" data_block="1" time="0"/>
    <range_mapping origin_begin="2" data_begin="5" length="2" time="0"/>
    <single_mapping origin_block="4" data_block="2" time="0"/>
  </device>
  <device dev_id="8" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0">
  </device>
</superblock>`;
    const block = 1024 * 512;
    expect(parseThinDump(xml, 7)._unsafeUnwrap().ranges).toEqual([
      { offset: 2 * block, length: 3 * block },
      { offset: 9 * block, length: block },
    ]);
    expect(parseThinDump(xml, 8)._unsafeUnwrap().ranges).toEqual([]);
  });
});

/** A thin-mode LVM backend whose lvs/vgs come from the captured thin fixtures, and whose thin map commands come from capture-thin-map.sh. */
async function thinBackend(runner: FakeRunner): Promise<VolumeBackend> {
  runner
    .on((argv) => argv[0] === "lvs" && argv.includes("lv_name,lv_size,thin_id,pool_lv"), (spec) => ({ stdout: fx(spec.argv.at(-1)?.endsWith("_snapshot-s3") ? "lvs-thin-id-snapshot.json" : "lvs-thin-id-volume.json") }))
    .on((argv) => argv[0] === "vgs" && argv.some((a) => a.includes("lv_name")), { stdout: fx("report-thin.json") })
    .on(["vgs"], { stdout: fx("vgs-thin.json") })
    .on(["lvs"], { stdout: fx("lvs-thin.json") })
    .on(["hostname"], { stdout: "storage-1\n" });
  const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thin", lvmType: "thin" }, { runner })._unsafeUnwrap());
  (await backend.setup())._unsafeUnwrap();
  runner.clearCalls();
  return backend;
}

const snapshot = { id: "s3", volumeId: "dddd", volumeSizeGiB: 1 };
const TPOOL = "volkit--thin-volkit--thin--pool-tpool";

describe("LVM driver allocationMap", () => {
  it("reads a thin snapshot's map from a metadata snapshot it reserves and releases", async () => {
    const runner = new FakeRunner()
      .on(["dmsetup", "message"], {})
      .on(["thin_dump"], { stdout: fx("thin-dump-snapshot.xml") });
    const backend = await thinBackend(runner);
    expect((await backend.allocationMap({ snapshot }))._unsafeUnwrap()).toEqual(SNAPSHOT_RANGES);
    expect(runner.commands().filter((c) => c[0] !== "lvs")).toEqual([
      ["dmsetup", "message", TPOOL, "0", "reserve_metadata_snap"],
      ["thin_dump", "--metadata-snap", "--dev-id", String(thinId("lvs-thin-id-snapshot.json")), "/dev/mapper/volkit--thin-volkit--thin--pool_tmeta"],
      ["dmsetup", "message", TPOOL, "0", "release_metadata_snap"],
    ]);
    expect(runner.commandsOf("lvs").at(-1)?.at(-1)).toBe("volkit-thin/_snapshot-s3");
  });

  it("releases the metadata snapshot when thin_dump fails, and reports thin_dump's failure", async () => {
    const runner = new FakeRunner()
      .on(["dmsetup", "message"], {})
      .on(["thin_dump"], { exitCode: 1, stderr: fx("thin-dump-no-metadata-snap.stderr") });
    const backend = await thinBackend(runner);
    expect((await backend.allocationMap({ volume: { id: "dddd", sizeGiB: 1 } }))._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
    expect(runner.commandsOf("dmsetup").map((c) => c.at(-1))).toEqual(["reserve_metadata_snap", "release_metadata_snap"]);
  });

  it("fails without dumping when the pool already has a metadata snapshot (another reader holds it)", async () => {
    const runner = new FakeRunner().on(["dmsetup", "message"], { exitCode: 1, stderr: fx("dmsetup-reserve-twice.stderr") });
    const backend = await thinBackend(runner);
    const e = (await backend.allocationMap({ snapshot }))._unsafeUnwrapErr();
    expect(e.code).toBe("CONFLICT");
    expect(e.details).toMatchObject({ reason: "metadata-snapshot-held" });
    expect(runner.commandsOf("thin_dump")).toEqual([]);
    expect(runner.commandsOf("dmsetup").map((c) => c.at(-1))).toEqual(["reserve_metadata_snap"]);
  });

  it("serialises concurrent reads: one metadata snapshot at a time", async () => {
    const runner = new FakeRunner()
      .on(["dmsetup", "message"], {})
      .on(["thin_dump"], (spec) => ({ delayMs: 20, stdout: fx(spec.argv[3] === String(thinId("lvs-thin-id-snapshot.json")) ? "thin-dump-snapshot.xml" : "thin-dump-volume.xml") }));
    const backend = await thinBackend(runner);
    // Two volumes (the runtime only serialises work on the same volume).
    const [a, b] = await Promise.all([backend.allocationMap({ snapshot }), backend.allocationMap({ volume: { id: "eeee", sizeGiB: 1 } })]);
    expect(a._unsafeUnwrap()).toEqual(SNAPSHOT_RANGES);
    expect(b._unsafeUnwrap()).toEqual(VOLUME_RANGES);
    expect(runner.commands().filter((c) => c[0] !== "lvs").map((c) => c.at(-1)?.replace(/^\/dev\/mapper\/.*/, "dump"))).toEqual([
      "reserve_metadata_snap",
      "dump",
      "release_metadata_snap",
      "reserve_metadata_snap",
      "dump",
      "release_metadata_snap",
    ]);
  });

  it("is NOT_SUPPORTED for thick volumes (every byte allocated) and runs nothing", async () => {
    const runner = new FakeRunner().on(["vgs"], { stdout: fx("vgs-thick.json") }).on(["lvs"], { stdout: fx("lvs-thick.json") }).on(["hostname"], { stdout: "h\n" });
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default" }, { runner })._unsafeUnwrap());
    (await backend.setup())._unsafeUnwrap();
    runner.clearCalls();
    expect((await backend.allocationMap({ volume: { id: "aaaa", sizeGiB: 1 } }))._unsafeUnwrapErr().code).toBe("NOT_SUPPORTED");
    expect(runner.commands()).toEqual([]);
  });
});
