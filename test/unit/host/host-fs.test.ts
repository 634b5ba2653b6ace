import { afterEach, describe, expect, it } from "vitest";
import { blockDeviceSize, blockHolders, dmDevice, kernelNameOf, listDmDevices, multipathHolder, scsiHctl, scsiWwid, sysfsWwidToUdev } from "../../../src/host/block-sysfs.js";
import { addDmDevice, addIscsiSession, addScsiDisk, removeScsiDisk } from "../../../src/testing/fake-sysfs.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";
import { createHostFs, isNotFound } from "../../../src/host/host-fs.js";
import { waitFor } from "../../../src/host/wait.js";
import { VolkitError } from "../../../src/core/errors.js";
import { listIscsiSessions, sessionLuns } from "../../../src/connectors/iscsi/iscsi-sysfs.js";
import { errAsync, okAsync } from "neverthrow";

let tree: FakeHostTree;
afterEach(() => tree.cleanup());

describe("HostFs", () => {
  it("maps host paths under the root and refuses relative paths and '..'", async () => {
    tree = FakeHostTree.create().file("/etc/iscsi/initiatorname.iscsi", "InitiatorName=iqn.2004-10.org.x:y\n");
    const fs = tree.hostFs();
    expect((await fs.readFile("/etc/iscsi/initiatorname.iscsi"))._unsafeUnwrap()).toContain("iqn.2004-10.org.x:y");
    expect((await fs.readFile("/etc/../etc/passwd"))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await fs.readFile("etc/passwd"))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    const missing = (await fs.readFile("/nope"))._unsafeUnwrapErr();
    expect(missing.code).toBe("DEVICE_NOT_FOUND");
    expect(isNotFound(missing)).toBe(true);
    expect((await fs.exists("/nope"))._unsafeUnwrap()).toBe(false);
  });

  it("writes only to existing files (a vanished sysfs attribute is an error, never a new file)", async () => {
    tree = FakeHostTree.create().file("/sys/block/sdb/device/delete");
    const fs = tree.hostFs();
    (await fs.writeFile("/sys/block/sdb/device/delete", "1"))._unsafeUnwrap();
    expect(tree.writes).toEqual([{ path: "/sys/block/sdb/device/delete", data: "1", seq: 0 }]);
    expect((await fs.writeFile("/sys/block/sdc/device/delete", "1"))._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
    expect(tree.exists("/sys/block/sdc/device/delete")).toBe(false);
  });

  it("resolves links relative to the root and refuses links leading outside it", async () => {
    tree = FakeHostTree.create().file("/dev/dm-3").symlink("/dev/vg/lv", "/dev/dm-3");
    const fs = tree.hostFs();
    expect((await fs.realpath("/dev/vg/lv"))._unsafeUnwrap()).toBe("/dev/dm-3");
    expect((await kernelNameOf(fs, "/dev/vg/lv"))._unsafeUnwrap()).toBe("dm-3");
    expect((await kernelNameOf(fs, "/dev/vg/missing"))._unsafeUnwrap()).toBeUndefined();
    const real = createHostFs();
    expect(real.root).toBe("/");
  });
});

describe("sysfs readers on a kernel-shaped fake tree", () => {
  it("reads sessions, LUNs, WWIDs, HCTL, sizes, holders and dm maps", async () => {
    tree = FakeHostTree.create();
    addIscsiSession(tree, { id: 3, host: 0, targetIqn: "iqn.2010-10.org.openstack:v", address: "127.0.0.1", port: 3260 });
    addScsiDisk(tree, { host: 0, session: 3, lun: 0, name: "sda", wwid: "naa.6001405cd392699b3044eb2b6a99fd8c", sizeBytes: 64 << 20 });
    addDmDevice(tree, { dm: "dm-3", name: "36001405cd392699b3044eb2b6a99fd8c", uuid: "mpath-36001405cd392699b3044eb2b6a99fd8c", slaves: ["sda"], sizeBytes: 64 << 20 });
    const fs = tree.hostFs();
    const sessions = (await listIscsiSessions(fs))._unsafeUnwrap();
    expect(sessions).toEqual([{ id: 3, host: 0, targetIqn: "iqn.2010-10.org.openstack:v", address: "127.0.0.1", port: 3260, state: "LOGGED_IN", devicePath: "/sys/devices/platform/host0/session3" }]);
    expect((await sessionLuns(fs, sessions[0]!))._unsafeUnwrap()).toEqual([{ lun: 0, hctl: "0:0:0:0", disk: "sda" }]);
    expect((await scsiWwid(fs, "sda"))._unsafeUnwrap()).toBe("36001405cd392699b3044eb2b6a99fd8c");
    expect((await scsiHctl(fs, "sda"))._unsafeUnwrap()).toBe("0:0:0:0");
    expect((await blockDeviceSize(fs, "sda"))._unsafeUnwrap()).toBe(64 << 20);
    expect((await blockHolders(fs, "sda"))._unsafeUnwrap()).toEqual(["dm-3"]);
    expect((await multipathHolder(fs, "sda"))._unsafeUnwrap()).toEqual({ dm: "dm-3", name: "36001405cd392699b3044eb2b6a99fd8c", uuid: "mpath-36001405cd392699b3044eb2b6a99fd8c" });
    expect((await listDmDevices(fs))._unsafeUnwrap()).toHaveLength(1);
    expect((await dmDevice(fs, "dm-9"))._unsafeUnwrap()).toBeUndefined();
    removeScsiDisk(tree, "sda");
    expect((await sessionLuns(fs, sessions[0]!))._unsafeUnwrap()).toEqual([]);
    expect(tree.list("/sys/devices/platform/host0/session3")).not.toContain("target0:0:0"); // reaped like the kernel does
    expect((await scsiWwid(fs, "../etc"))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
  });

  it("converts sysfs WWIDs to udev/multipath form", () => {
    expect(sysfsWwidToUdev("naa.6001405cd392699b3044eb2b6a99fd8c\n")).toBe("36001405cd392699b3044eb2b6a99fd8c");
    expect(sysfsWwidToUdev("t10.IET     00010001")).toBe("1IET     00010001");
    expect(sysfsWwidToUdev("eui.0011223344556677")).toBe("20011223344556677");
    expect(sysfsWwidToUdev("iqn.2010-10.org.x:lun1")).toBe("8iqn.2010-10.org.x:lun1");
  });
});

describe("waitFor", () => {
  it("polls with back-off until a value comes", async () => {
    tree = FakeHostTree.create();
    let n = 0;
    const v = await waitFor(() => okAsync(++n >= 4 ? n : undefined), { timeoutMs: 1000, signal: new AbortController().signal, minDelayMs: 1, maxDelayMs: 2, onTimeout: () => new VolkitError("TIMEOUT", "x") });
    expect(v._unsafeUnwrap()).toBe(4);
  });

  it("ends with the caller's error at its own timeout, and with ABORTED when the caller aborts", async () => {
    tree = FakeHostTree.create();
    const r = await waitFor(() => okAsync(undefined), { timeoutMs: 30, signal: new AbortController().signal, minDelayMs: 1, maxDelayMs: 5, onTimeout: () => new VolkitError("DEVICE_NOT_FOUND", "never came") });
    expect(r._unsafeUnwrapErr().message).toBe("never came");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    const a = await waitFor(() => okAsync(undefined), { timeoutMs: 5000, signal: ac.signal, minDelayMs: 1, maxDelayMs: 5, onTimeout: () => new VolkitError("DEVICE_NOT_FOUND", "never") });
    expect(a._unsafeUnwrapErr().code).toBe("ABORTED");
  });

  it("stops at once on a permanent probe error", async () => {
    tree = FakeHostTree.create();
    let n = 0;
    const r = await waitFor(() => {
      n++;
      return errAsync(new VolkitError("INTERNAL", "broken"));
    }, { timeoutMs: 1000, signal: new AbortController().signal, minDelayMs: 1, onTimeout: () => new VolkitError("TIMEOUT", "x") });
    expect(r._unsafeUnwrapErr().message).toBe("broken");
    expect(n).toBe(1);
  });
});
