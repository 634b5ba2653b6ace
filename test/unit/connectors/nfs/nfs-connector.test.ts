import { describe, expect, it } from "vitest";
import { createNfsConnector } from "../../../../src/connectors/nfs/index.js";
import type { ConnectionInfo } from "../../../../src/core/records.js";
import { createNfsMountManager } from "../../../../src/remotefs/nfs-mount-manager.js";
import { mountPointFor } from "../../../../src/remotefs/nfs-share.js";
import { FakeNfsHost } from "../../remotefs/fake-nfs-host.js";

const GiB = 1024 ** 3;
const BASE = "/var/lib/volkit/mnt";
const SHARE = "127.0.0.1:/srv/nfs/share1";
const MP = mountPointFor(BASE, SHARE);
const info: ConnectionInfo = { type: "nfs", volumeId: "v1", accessMode: "rw", encrypted: false, export: SHARE, name: "volume-v1", format: "raw", options: "vers=4.1" };

function connector(host: FakeNfsHost) {
  host.runner
    .on(["qemu-img", "info"], (spec) => {
      const path = String(spec.argv.at(-1));
      return path.endsWith("volume-v1") || path.endsWith("volume-v2")
        ? { stdout: JSON.stringify({ "virtual-size": GiB, filename: path, format: "raw", "actual-size": 0, "dirty-flag": false }) }
        : { exitCode: 1, stderr: `qemu-img: Could not open '${path}': Could not open '${path}': No such file or directory\n` };
    })
    .on(["hostname"], { stdout: "compute-1\n" })
    .on(["uname", "-m"], { stdout: "x86_64\n" });
  const mounts = createNfsMountManager(host.runner, { mountPointBase: BASE })._unsafeUnwrap();
  return createNfsConnector({}, { runner: host.runner, mounts })._unsafeUnwrap();
}

describe("NfsConnector", () => {
  it("reports host properties without an initiator", async () => {
    const c = connector(new FakeNfsHost());
    expect((await c.getHostProperties())._unsafeUnwrap()).toEqual({ host: "compute-1", multipath: false, platform: "x86_64", osType: "linux2" });
  });

  it("mounts the share and returns the file in its format, checked by qemu-img", async () => {
    const host = new FakeNfsHost();
    const c = connector(host);
    const dev = (await c.connectVolume(info))._unsafeUnwrap();
    expect(dev).toEqual({ type: "file", path: `${MP}/volume-v1`, format: "raw", paths: [], sizeBytes: GiB });
    expect(host.calls("mount")).toEqual([["mount", "-t", "nfs", "-o", "vers=4.1,nosuid,nodev,noexec", SHARE, MP]]);
    expect(host.calls("qemu-img")).toEqual([["qemu-img", "info", "--output=json", "-U", "-f", "raw", `${MP}/volume-v1`]]);
  });

  it("refcounts: two volumes on one share, one disconnect keeps the mount, the second unmounts", async () => {
    const host = new FakeNfsHost();
    const c = connector(host);
    const d1 = (await c.connectVolume(info))._unsafeUnwrap();
    const info2 = { ...info, volumeId: "v2", name: "volume-v2" };
    const d2 = (await c.connectVolume(info2))._unsafeUnwrap();
    expect(host.calls("mount")).toHaveLength(1);
    const r1 = (await c.disconnectVolume(info, d1))._unsafeUnwrap();
    expect(r1).toEqual({ removed: [], leftBehind: [{ kind: "mount", name: MP, reason: "still used by 1 other user(s)", expected: true }] });
    expect(host.isMounted(MP)).toBe(true);
    const r2 = (await c.disconnectVolume(info2, d2))._unsafeUnwrap();
    expect(r2).toEqual({ removed: [`mount ${MP}`], leftBehind: [] });
    expect(host.isMounted(MP)).toBe(false);
  });

  it("a missing file is DEVICE_NOT_FOUND and the mount reference is given back", async () => {
    const host = new FakeNfsHost();
    const c = connector(host);
    const e = (await c.connectVolume({ ...info, name: "volume-gone" }))._unsafeUnwrapErr();
    expect(e.code).toBe("DEVICE_NOT_FOUND");
    expect(c.mounts.references(SHARE)).toBe(0);
    expect(host.isMounted(MP)).toBe(false);
  });

  it("refuses invalid connection info and smuggled options before running anything", async () => {
    const host = new FakeNfsHost();
    const c = connector(host);
    const bad: ConnectionInfo[] = [
      { ...info, options: "vers=3,exec" },
      { ...info, options: "-o exec" },
      { ...info, export: "h:/a b" },
      { ...info, name: "../etc/passwd" },
      { type: "local", volumeId: "v1", accessMode: "rw", encrypted: false, devicePath: "/dev/sda" },
    ];
    for (const i of bad) expect((await c.connectVolume(i))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(host.runner.calls).toEqual([]);
  });

  it("extendVolume reports the file's virtual size", async () => {
    const host = new FakeNfsHost();
    const c = connector(host);
    const dev = (await c.connectVolume(info))._unsafeUnwrap();
    expect((await c.extendVolume(info, dev))._unsafeUnwrap()).toBe(GiB);
  });

  it("a release failure is DETACH_INCOMPLETE, or reported with ignoreErrors", async () => {
    const host = new FakeNfsHost();
    const c = connector(host);
    const dev = (await c.connectVolume(info))._unsafeUnwrap();
    host.umount = { exitCode: 32, stderr: "umount: /x: Input/output error\n" };
    const e = (await c.disconnectVolume(info, dev))._unsafeUnwrapErr();
    expect(e.code).toBe("DETACH_INCOMPLETE");
    const dev2 = (await c.connectVolume(info))._unsafeUnwrap();
    const r = (await c.disconnectVolume(info, dev2, { ignoreErrors: true }))._unsafeUnwrap();
    expect(r.leftBehind[0]).toMatchObject({ kind: "mount", name: MP });
  });
});
