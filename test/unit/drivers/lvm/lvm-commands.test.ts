import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { createOperationContext } from "../../../../src/core/context.js";
import { wrapDriver, type VolumeBackend } from "../../../../src/drivers/backend.js";
import { createLvmDriver, type LvmConfig, type LvmDriver } from "../../../../src/drivers/lvm/index.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";

// Which commands each operation runs: none it does not need (issue 15). Fixtures captured by
// test/fixtures/lvm/capture.sh.
const FIXTURES = join(import.meta.dirname, "../../../fixtures/lvm");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const isReport = (argv: readonly string[]): boolean => argv[0] === "vgs" && argv.some((a) => a.includes("lv_name"));
const programs = (runner: FakeRunner): string[] => runner.commands().map((c) => c[0] ?? "");
const ctx = () => createOperationContext({ operation: "test", source: "test" });

function thinRunner(): FakeRunner {
  return new FakeRunner()
    .on(isReport, { stdout: fx("report-thin.json") })
    .on(["vgs"], { stdout: fx("vgs-thin.json") })
    .on(["lvs"], { stdout: fx("lvs-thin.json") })
    .on(["hostname"], { stdout: "storage-1\n" });
}

function thin(runner: FakeRunner, config: Partial<LvmConfig> = {}): { backend: VolumeBackend; driver: LvmDriver } {
  const driver = createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thin", lvmType: "thin", ...config }, { runner })._unsafeUnwrap();
  return { backend: wrapDriver(driver), driver };
}

describe("LVM control path: commands per operation", () => {
  it("runs one report for initialize and setup together, then one report and lvcreate for the first create", async () => {
    const runner = thinRunner().on(["lvcreate"], {});
    const { backend } = thin(runner);
    (await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    expect(programs(runner)).toEqual(["vgs", "vgs", "lvcreate"]);
    expect(runner.calls.slice(0, 2).every((c) => isReport(c.argv))).toBe(true);
    runner.clearCalls();
    (await backend.createVolume({ id: "v2", sizeGiB: 1 }))._unsafeUnwrap();
    expect(programs(runner)).toEqual(["vgs", "lvcreate"]);
  });

  it("creates a missing thin pool at setup from what initialize read, without reading again", async () => {
    const runner = new FakeRunner().on(isReport, { stdout: fx("report-thick-empty.json") }).on(["vgs"], { stdout: fx("vgs-thick-empty.json") }).on(["lvcreate"], {});
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "thin" }, { runner })._unsafeUnwrap());
    (await backend.setup())._unsafeUnwrap();
    // The report of a VG without LVs has no row, so its VG comes from a plain vgs.
    expect(programs(runner)).toEqual(["vgs", "vgs", "lvcreate"]);
    expect(runner.commandsOf("lvcreate")[0]).toContain("thin-pool");
  });

  it("reads the pool again at setup when initialize's report is older than a few seconds", async () => {
    const runner = thinRunner();
    const { backend } = thin(runner);
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start);
    try {
      (await backend.initialize())._unsafeUnwrap();
      runner.clearCalls();
      clock.mockReturnValue(start + 6_000);
      (await backend.setup())._unsafeUnwrap();
      // The pool exists in the fixture: one fresh lvs, nothing created.
      expect(programs(runner)).toEqual(["lvs"]);
    } finally {
      clock.mockRestore();
    }
  });

  it("reads stats with one report, and asks the host name once", async () => {
    const runner = thinRunner();
    const { backend } = thin(runner);
    (await backend.initialize())._unsafeUnwrap();
    runner.clearCalls();
    const first = (await backend.getVolumeStats())._unsafeUnwrap();
    expect(programs(runner)).toEqual(["vgs", "hostname"]);
    expect(first.pools[0]?.locationInfo).toBe("LVMVolumeDriver:storage-1:volkit-thin:thin:0");
    runner.clearCalls();
    (await backend.getVolumeStats())._unsafeUnwrap();
    expect(programs(runner)).toEqual(["vgs"]);
  });

  it("extends with one report and lvextend", async () => {
    const runner = thinRunner().on(["lvextend"], {});
    const { backend } = thin(runner);
    (await backend.initialize())._unsafeUnwrap();
    runner.clearCalls();
    (await backend.extendVolume({ id: "bbbb", sizeGiB: 1 }, 2))._unsafeUnwrap();
    expect(programs(runner)).toEqual(["vgs", "lvextend"]);
  });

  it("wipes in chunks of copyChunkBytes when configured", async () => {
    const runner = new FakeRunner()
      .on(isReport, { stdout: fx("report-thick-plain.json") })
      .on(["lvs"], { stdout: fx("lvs-thick-plain.json") })
      .on(["dd"], {})
      .on(["lvremove"], {});
    const backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default", copyChunkBytes: 256 * MiB }, { runner })._unsafeUnwrap());
    (await backend.deleteVolume({ id: "aaaa", sizeGiB: 1 }))._unsafeUnwrap();
    expect(runner.commandsOf("dd").map((a) => a.find((x) => x.startsWith("seek=")))).toEqual(["seek=0", `seek=${256 * MiB}`, `seek=${512 * MiB}`, `seek=${768 * MiB}`]);
  });

  it("refuses a copyChunkBytes that direct I/O cannot use", () => {
    const r = createLvmDriver({ driver: "lvm", volumeGroup: "vg0", copyChunkBytes: 1000 }, { runner: new FakeRunner() });
    expect(r._unsafeUnwrapErr()).toMatchObject({ code: "INVALID_CONFIG" });
    expect(r._unsafeUnwrapErr().message).toContain("copyChunkBytes");
  });
});

describe("LVM copyVolumeData", () => {
  const tpool = "volkit--thin-volkit--thin--pool-tpool";

  it("copies a thin volume's mapped ranges (from the pool's metadata) with one dd through packed devices", async () => {
    const runner = thinRunner().on(["dmsetup"], {}).on(["thin_dump"], { stdout: fx("thin-dump-bbbb.xml") }).on(["dd"], {});
    const { driver } = thin(runner);
    const report = (await driver.copyVolumeData({ id: "bbbb", sizeGiB: 1 }, "/dev/other/volume-new", ctx()))._unsafeUnwrap();
    expect(report).toMatchObject({ bytes: 17 * MiB + 64 * 1024, chunks: 1 });
    expect(programs(runner)).toEqual(["lvs", "dmsetup", "thin_dump", "dmsetup", "dmsetup", "dd", "dmsetup"]);
    expect(runner.commands()[1]).toEqual(["dmsetup", "message", tpool, "0", "reserve_metadata_snap"]);
    expect(runner.commands()[2]).toEqual(["thin_dump", "--metadata-snap", "--dev-id", "1", "/dev/mapper/volkit--thin-volkit--thin--pool_tmeta"]);
    expect(runner.commands()[3]).toEqual(["dmsetup", "message", tpool, "0", "release_metadata_snap"]);
    const table = String(runner.calls[4]?.stdin);
    expect(table).toContain("linear /dev/volkit-thin/volume-bbbb 0");
    expect(table).toContain("linear /dev/other/volume-new 0");
    const dd = runner.commandsOf("dd")[0] ?? [];
    expect(dd).toContain("conv=notrunc,sparse");
    expect(dd).toContain(`count=${17 * MiB + 64 * 1024}`);
  });

  it("falls back to a whole-device sparse copy when the pool's metadata snapshot is held", async () => {
    const runner = thinRunner().on(["dmsetup"], { exitCode: 1, stderr: fx("dmsetup-reserve-held.stderr") }).on(["dd"], {});
    const { driver } = thin(runner);
    const report = (await driver.copyVolumeData({ id: "bbbb", sizeGiB: 1 }, "/dev/other/volume-new", ctx()))._unsafeUnwrap();
    expect(report.bytes).toBe(GiB);
    expect(programs(runner)).toEqual(["lvs", "dmsetup", "dd"]);
    expect(runner.commandsOf("dd")[0]).toEqual(["dd", "if=/dev/volkit-thin/volume-bbbb", "of=/dev/other/volume-new", "bs=1048576", "skip=0", "seek=0", `count=${GiB}`, "iflag=count_bytes,skip_bytes,direct", "oflag=seek_bytes,direct", "conv=notrunc,sparse", "status=progress"]);
  });

  it("copies a thick volume whole, skipping zero blocks, without reading any thin map", async () => {
    const runner = new FakeRunner().on(["lvs"], { stdout: fx("lvs-thick-plain.json") }).on(["dd"], {});
    const driver = createLvmDriver({ driver: "lvm", volumeGroup: "volkit-thick", lvmType: "default" }, { runner })._unsafeUnwrap();
    (await driver.copyVolumeData({ id: "aaaa", sizeGiB: 1 }, "/dev/other/volume-new", ctx()))._unsafeUnwrap();
    expect(programs(runner)).toEqual(["lvs", "dd"]);
  });

  it("refuses a target that is not an absolute path, and a volume that does not exist", async () => {
    const runner = thinRunner();
    const { driver } = thin(runner);
    expect((await driver.copyVolumeData({ id: "bbbb", sizeGiB: 1 }, "relative/dev", ctx()))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
    expect((await driver.copyVolumeData({ id: "nope", sizeGiB: 1 }, "/dev/x", ctx()))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });
});
