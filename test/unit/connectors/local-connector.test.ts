import { afterEach, describe, expect, it } from "vitest";
import { createLocalConnector } from "../../../src/connectors/local/local-connector.js";
import type { ConnectionInfo } from "../../../src/core/records.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";

let tree: FakeHostTree;
afterEach(() => tree.cleanup());

const LV = "/dev/volkit-thick/volume-aaaa";
const info = (devicePath = LV): ConnectionInfo => ({ type: "local", volumeId: "aaaa", accessMode: "rw", encrypted: false, devicePath });

function lvTree(): FakeHostTree {
  tree = FakeHostTree.create()
    .file("/dev/dm-4")
    .symlink(LV, "/dev/dm-4")
    .file("/sys/devices/virtual/block/dm-4/size", "2097152\n")
    .symlink("/sys/class/block/dm-4", "/sys/devices/virtual/block/dm-4")
    .file("/srv/not-a-device.img");
  return tree;
}

describe("LocalConnector", () => {
  it("returns the LV with its size and flushes it on disconnect", async () => {
    lvTree();
    const runner = new FakeRunner().on(["blockdev", "--flushbufs"], {});
    const c = createLocalConnector({}, { runner, hostFs: tree.hostFs() })._unsafeUnwrap();
    const dev = (await c.connectVolume(info()))._unsafeUnwrap();
    expect(dev).toEqual({ type: "block", path: LV, paths: [], sizeBytes: 1024 * 1024 * 1024 });
    expect(runner.calls).toHaveLength(0);
    expect((await c.disconnectVolume(info(), dev))._unsafeUnwrap()).toEqual({ removed: [], leftBehind: [] });
    expect(runner.commands()).toEqual([["blockdev", "--flushbufs", LV]]);
    tree.file("/sys/devices/virtual/block/dm-4/size", "4194304\n");
    expect((await c.extendVolume(info(), dev))._unsafeUnwrap()).toBe(2 * 1024 * 1024 * 1024);
  });

  it("fails with DEVICE_NOT_FOUND for a missing path or a file that is not a block device", async () => {
    lvTree();
    const c = createLocalConnector({}, { runner: new FakeRunner(), hostFs: tree.hostFs() })._unsafeUnwrap();
    expect((await c.connectVolume(info("/dev/volkit-thick/nope")))._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
    expect((await c.connectVolume(info("/srv/not-a-device.img")))._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
    expect((await c.connectVolume({ ...info(), type: "iscsi" } as unknown as ConnectionInfo))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await c.connectVolume(info("relative/path")))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("reports a failed flush: DETACH_INCOMPLETE, in the report with ignoreErrors, ignored with force", async () => {
    lvTree();
    const runner = new FakeRunner().on(["blockdev"], { exitCode: 1, stderr: "blockdev: ioctl error on BLKFLSBUF: Input/output error\n" });
    const c = createLocalConnector({}, { runner, hostFs: tree.hostFs() })._unsafeUnwrap();
    const dev = (await c.connectVolume(info()))._unsafeUnwrap();
    expect((await c.disconnectVolume(info(), dev))._unsafeUnwrapErr().code).toBe("DETACH_INCOMPLETE");
    expect((await c.disconnectVolume(info(), dev, { ignoreErrors: true }))._unsafeUnwrap().leftBehind).toHaveLength(1);
    expect((await c.disconnectVolume(info(), dev, { force: true }))._unsafeUnwrap()).toEqual({ removed: [], leftBehind: [] });
  });

  it("reports host properties without an initiator", async () => {
    lvTree();
    const props = (await createLocalConnector({ hostName: "h1" }, { hostFs: tree.hostFs() })._unsafeUnwrap().getHostProperties())._unsafeUnwrap();
    expect(props).toMatchObject({ host: "h1", multipath: false });
  });
});
