/**
 * The LVM driver's data movements on real lvm2 and dm-thin, inside the storage lab:
 *
 *   npx tsx lab/run.ts -- npx vitest run --project lab test/lab/lvm-data.lab.test.ts
 *
 * - copyVolumeData of a thin volume reads the pool's mapping (thin_dump on a metadata snapshot)
 *   and copies only the mapped ranges with one dd through packed device-mapper devices: the
 *   target holds the same bytes and stays as allocated as the source;
 * - with the pool's metadata snapshot held by someone else it falls back to a whole-device sparse
 *   copy (same bytes), and leaves the other holder's snapshot alone;
 * - a cancelled copy leaves no temporary device and no metadata snapshot behind;
 * - a thin create, clone and delete run only the commands they need (no blkdiscard);
 * - a thick wipe on delete is one dd over the whole volume, and the data is zeros before lvremove.
 */
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperationContext } from "../../src/core/context.js";
import type { Volume } from "../../src/core/records.js";
import { wrapDriver, type VolumeBackend } from "../../src/drivers/backend.js";
import { createLvmDriver, type LvmDriver } from "../../src/drivers/lvm/index.js";
import { createLocalRunner } from "../../src/exec/local-runner.js";
import type { CommandRunner, CommandSpec } from "../../src/exec/runner.js";
import { lab, lvsRows, must, pattern, readAt, sh, sha256, uid, writeAt } from "./helpers.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const vg = lab.vgThin;
const dev = (v: { id: string }): string => `/dev/${vg}/volume-${v.id}`;
const tpool = `${vg.replaceAll("-", "--")}-${`${vg}-pool`.replaceAll("-", "--")}-tpool`;

/** The local runner, recording every argv and letting a test act when a command starts. */
class RecordingRunner implements CommandRunner {
  readonly description = "recording";
  readonly calls: string[][] = [];
  onStart: ((spec: CommandSpec) => void) | undefined;
  readonly #inner = createLocalRunner();
  run(spec: CommandSpec): ReturnType<CommandRunner["run"]> {
    this.calls.push([...spec.argv]);
    this.onStart?.(spec);
    return this.#inner.run(spec);
  }
  programs(): string[] {
    return this.calls.map((a) => a[0] ?? "");
  }
}

const copyDevices = (): string[] => readdirSync("/dev/mapper").filter((n) => n.startsWith("volkit-copy-"));
/** Whole-device digest, read with O_DIRECT. */
const digest = (device: string): string => sha256(readAt(device, 0, GiB));

let runner: RecordingRunner;
let backend: VolumeBackend;
let driver: LvmDriver;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  runner = new RecordingRunner();
  driver = createLvmDriver({ driver: "lvm", volumeGroup: vg, lvmType: "thin" }, { runner })._unsafeUnwrap();
  backend = wrapDriver(driver);
  await must(backend.setup());
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function volume(prefix: string): Promise<Volume> {
  const v = await must(backend.createVolume({ id: uid(prefix), sizeGiB: 1 }));
  cleanup.push(async () => await backend.deleteVolume(v));
  return v;
}

/** A 1 GiB thin volume with data in five places (one of them a single 64 KiB pool chunk). */
async function scattered(): Promise<{ v: Volume; sha: string }> {
  const v = await volume("src");
  for (const [at, size] of [[0, 4 * MiB], [100 * MiB, 3 * MiB], [300 * MiB, 64 * 1024], [555 * MiB, 5 * MiB], [1020 * MiB, 4 * MiB]] as const) {
    writeAt(dev(v), at, pattern(size).data);
  }
  return { v, sha: digest(dev(v)) };
}

const ctx = () => createOperationContext({ operation: "copyVolumeData", source: "lab", deadline: Date.now() + 300_000 });

describe("copyVolumeData of a thin volume", () => {
  it("copies only the mapped ranges with one dd through packed devices: same bytes, same allocation", async () => {
    const { v, sha } = await scattered();
    const target = await volume("dst");
    runner.calls.length = 0;
    const report = await must(driver.copyVolumeData(v, dev(target), ctx()));
    expect(runner.programs()).toEqual(["lvs", "dmsetup", "thin_dump", "dmsetup", "dmsetup", "dd", "dmsetup"]);
    const dd = runner.calls.find((a) => a[0] === "dd") ?? [];
    expect(dd.find((a) => a.startsWith("if="))).toMatch(/^if=\/dev\/mapper\/volkit-copy-[0-9a-f]+-src$/);
    expect(dd).toContain("conv=notrunc,sparse");
    // Mapped data: 16 MiB written in 64 KiB pool chunks, never the whole GiB.
    expect(report.bytes).toBeGreaterThanOrEqual(16 * MiB + 64 * 1024);
    expect(report.bytes).toBeLessThan(20 * MiB);
    expect(report.chunks).toBe(1);
    expect(digest(dev(target))).toBe(sha);
    const rows = lvsRows(vg);
    expect(Number(rows.get(`volume-${target.id}`)?.data_percent)).toBeCloseTo(Number(rows.get(`volume-${v.id}`)?.data_percent), 1);
    expect(copyDevices()).toEqual([]);
    // The metadata snapshot was released: reserving one now works.
    sh(["dmsetup", "message", tpool, "0", "reserve_metadata_snap"]);
    sh(["dmsetup", "message", tpool, "0", "release_metadata_snap"]);
  });

  it("falls back to a whole-device sparse copy when the pool's metadata snapshot is held, and leaves it held", async () => {
    const { v, sha } = await scattered();
    const target = await volume("dst");
    sh(["dmsetup", "message", tpool, "0", "reserve_metadata_snap"]);
    try {
      runner.calls.length = 0;
      const report = await must(driver.copyVolumeData(v, dev(target), ctx()));
      expect(report.bytes).toBe(GiB);
      const dd = runner.calls.filter((a) => a[0] === "dd");
      expect(dd).toHaveLength(1);
      expect(dd[0]).toContain(`if=${dev(v)}`);
      expect(dd[0]).toContain("conv=notrunc,sparse");
      expect(digest(dev(target))).toBe(sha);
      expect(Number(lvsRows(vg).get(`volume-${target.id}`)?.data_percent)).toBeLessThan(5);
      // Still held by us: a second reserve fails.
      expect(() => sh(["dmsetup", "message", tpool, "0", "reserve_metadata_snap"])).toThrow(/busy/i);
    } finally {
      sh(["dmsetup", "message", tpool, "0", "release_metadata_snap"]);
    }
  });

  it("leaves no packed device and no metadata snapshot behind when cancelled during the copy", async () => {
    const { v } = await scattered();
    const target = await volume("dst");
    const controller = new AbortController();
    runner.onStart = (spec) => {
      if (spec.argv[0] === "dd") setTimeout(() => controller.abort(), 20);
    };
    try {
      const context = createOperationContext({ operation: "copyVolumeData", source: "lab", signal: controller.signal });
      const r = await driver.copyVolumeData(v, dev(target), context);
      expect(r._unsafeUnwrapErr().code).toBe("ABORTED");
    } finally {
      runner.onStart = undefined;
    }
    expect(copyDevices()).toEqual([]);
    sh(["dmsetup", "message", tpool, "0", "reserve_metadata_snap"]);
    sh(["dmsetup", "message", tpool, "0", "release_metadata_snap"]);
  });
});

describe("control path commands", () => {
  it("creates and deletes a thin volume with one read and one change each, and clones with one lvcreate", async () => {
    runner.calls.length = 0;
    const v = await must(backend.createVolume({ id: uid("c"), sizeGiB: 1 }));
    expect(runner.programs()).toEqual(["vgs", "lvcreate"]);
    runner.calls.length = 0;
    const c = await must(backend.createClonedVolume({ id: uid("cc"), sizeGiB: 2 }, v));
    expect(runner.programs()).toEqual(["vgs", "lvcreate", "lvextend"]);
    expect(lvsRows(vg).get(`volume-${c.id}`)?.lv_attr?.[4]).toBe("a");
    runner.calls.length = 0;
    await must(backend.deleteVolume(c));
    await must(backend.deleteVolume(v));
    expect(runner.programs()).toEqual(["lvs", "lvremove", "lvs", "lvremove"]);
    expect(lvsRows(vg).has(`volume-${v.id}`)).toBe(false);
  });
});

describe("wipe on delete of a thick volume", () => {
  it("zeroes the whole volume with one dd, then removes it", async () => {
    const thick = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: lab.vgThick, lvmType: "default", volumeClear: "zero" }, { runner })._unsafeUnwrap());
    const v = await must(thick.createVolume({ id: uid("wipe"), sizeGiB: 1 }));
    const path = `/dev/${lab.vgThick}/volume-${v.id}`;
    cleanup.push(async () => await thick.deleteVolume(v));
    writeAt(path, 0, pattern(4 * MiB).data);
    writeAt(path, 1000 * MiB, pattern(4 * MiB).data);
    const seen: Buffer[] = [];
    runner.onStart = (spec) => {
      if (spec.argv[0] === "lvremove") seen.push(readAt(path, 0, 4 * MiB), readAt(path, 1000 * MiB, 4 * MiB));
    };
    try {
      runner.calls.length = 0;
      await must(thick.deleteVolume(v));
    } finally {
      runner.onStart = undefined;
    }
    expect(runner.programs()).toEqual(["lvs", "dd", "lvremove"]);
    const dd = runner.calls[1] ?? [];
    expect(dd).toContain("if=/dev/zero");
    expect(dd).toContain(`of=${path}`);
    expect(dd).toContain(`count=${GiB}`);
    const zeros = sha256(Buffer.alloc(4 * MiB));
    expect(seen.map(sha256)).toEqual([zeros, zeros]);
    expect(lvsRows(lab.vgThick).has(`volume-${v.id}`)).toBe(false);
  });
});
