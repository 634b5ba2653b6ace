import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { wrapDriver } from "../../../src/drivers/backend.js";
import { describeVolumeDriverConformance, type ConformanceIo } from "../../../src/testing/conformance.js";
import { FileVolumeDriver } from "../../../examples/driver-author.js";

const root = mkdtempSync(join(tmpdir(), "volkit-file-driver-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const driver = (): FileVolumeDriver => new FileVolumeDriver({ directory: root, capacityGiB: 100 });

/** Reads and writes the volume files directly: what an attached device would show. */
const io: ConformanceIo = {
  async write(volume, data) {
    const handle = await open(driver().volumePath(volume.id), "r+");
    try {
      await handle.write(data, 0, data.length, 0);
    } finally {
      await handle.close();
    }
  },
  async read(volume, bytes) {
    const handle = await open(driver().volumePath(volume.id), "r");
    try {
      const out = Buffer.alloc(bytes);
      await handle.read(out, 0, bytes, 0);
      return out;
    } finally {
      await handle.close();
    }
  },
};

describeVolumeDriverConformance({ name: "examples/driver-author FileVolumeDriver", create: driver, io, ioBytes: 256 * 1024 });

describe("examples/driver-author FileVolumeDriver specifics", () => {
  it("stores volumes as sparse files of the requested size and removes them on delete", async () => {
    const backend = wrapDriver(driver());
    const v = (await backend.createVolume({ id: "sparse-1", sizeGiB: 2 }))._unsafeUnwrap();
    const path = driver().volumePath(v.id);
    const st = statSync(path);
    expect(st.size).toBe(2 * 1024 ** 3);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024); // nothing allocated
    expect((await backend.deleteVolume(v)).isOk()).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it("refuses to exceed its quota with INSUFFICIENT_CAPACITY", async () => {
    const backend = wrapDriver(new FileVolumeDriver({ directory: join(root, "small"), capacityGiB: 3 }));
    const a = (await backend.createVolume({ id: "q1", sizeGiB: 2 }))._unsafeUnwrap();
    expect((await backend.createVolume({ id: "q2", sizeGiB: 2 }))._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
    expect((await backend.extendVolume(a, 4))._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
    expect((await backend.deleteVolume(a)).isOk()).toBe(true);
  });

  it("reports the clone's copy as a phase of the operation", async () => {
    const backend = wrapDriver(driver());
    const phases: string[][] = [];
    backend.events.on((e) => void (e.type === "operation:end" && e.operation === "createClonedVolume" && phases.push(e.phases.map((p) => p.name))));
    const src = (await backend.createVolume({ id: "src-1", sizeGiB: 1 }))._unsafeUnwrap();
    const copy = (await backend.createClonedVolume({ id: "copy-1", sizeGiB: 1 }, src))._unsafeUnwrap();
    expect(phases).toEqual([["prepare", "copy"]]);
    expect((await backend.deleteVolume(copy)).isOk()).toBe(true);
    expect((await backend.deleteVolume(src)).isOk()).toBe(true);
  });
});
