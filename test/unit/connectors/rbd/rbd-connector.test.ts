import { afterEach, describe, expect, it } from "vitest";
import { createHost } from "../../../../src/attach/host.js";
import { createRbdConnector, type RbdConnectorConfig } from "../../../../src/connectors/rbd/index.js";
import { cliConnection } from "../../../../src/connectors/rbd/rbd-map.js";
import { RbdConnectorConfigSchema } from "../../../../src/connectors/rbd/rbd-connector-config.js";
import { createConnector } from "../../../../src/connectors/registry.js";
import type { AttachedDeviceInput, ConnectionInfoInput } from "../../../../src/core/records.js";
import { connectionArgs } from "../../../../src/drivers/rbd/rbd-connection.js";
import { FakeRunner, type FakeReply } from "../../../../src/testing/fake-runner.js";
import { replay } from "../../drivers/rbd/captures.js";
import { FakeKrbdHost } from "./fake-krbd.js";

/**
 * The RBD connector on a fake host: the kernel's sysfs replayed from the storage lab
 * (kernel-sysfs-*.txt) and the `rbd device map/unmap` answers captured there (kernel-* captures).
 * The captured head mapping is `/dev/rbd0` of `volumes/kmap` (64 MiB, 128 MiB after the resize).
 */

const KEY = "AQBq0mhnAAAAABAAunitTestKeyForVolkitRbd0000==";
const KEYFILE = "/tmp/volkit-ceph.AbCdEf12/keyfile";
const MiB = 1024 ** 2;
const INFO: ConnectionInfoInput & { type: "rbd" } = { type: "rbd", volumeId: "v1", pool: "volumes", image: "kmap", monitors: ["127.0.0.1:6789"], clientId: "volkit", key: KEY };
const DEVICE: AttachedDeviceInput = { type: "block", path: "/dev/rbd0", paths: [] };

const hosts: FakeKrbdHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.tree.cleanup();
});

function setup(config: RbdConnectorConfig = {}) {
  const host = new FakeKrbdHost();
  hosts.push(host);
  const runner = new FakeRunner();
  runner.on(["mktemp"], { stdout: "/tmp/volkit-ceph.AbCdEf12\n" }).on(["install"], {}).on(["dd"], {}).on(["rm", "-rf"], {}).on(["blockdev", "--flushbufs"], {});
  const parsed = RbdConnectorConfigSchema.parse(config);
  const prefix = connectionArgs(cliConnection({ ...INFO, accessMode: "rw", encrypted: false, clusterName: "ceph", authEnabled: true }, parsed)._unsafeUnwrap(), KEYFILE);
  /** Replies to `rbd <connection options> <args>` (exactly), running `effect` first. */
  const onRbd = (args: readonly string[], reply: FakeReply, effect?: () => void): void =>
    void runner.on(
      (a) => a.length === prefix.length + 1 + args.length && a[0] === "rbd" && [...prefix, ...args].every((x, i) => a[i + 1] === x),
      () => {
        effect?.();
        return reply;
      },
    );
  const connector = createRbdConnector(config, { runner, hostFs: host.tree.hostFs() })._unsafeUnwrap();
  return { host, runner, connector, onRbd };
}

describe("RbdConnector: config and input", () => {
  it("allows only safe kernel map options and known messenger modes", () => {
    expect(createRbdConnector({ mapOptions: ["queue_depth=128", "notrim"], msMode: "prefer-crc" }).isOk()).toBe(true);
    for (const bad of [{ mapOptions: ["secret=AQB…"] }, { mapOptions: ["queue_depth=128,secret=x"] }, { mapOptions: ["mon_addr=1.2.3.4"] }, { msMode: "plain" }] as RbdConnectorConfig[]) {
      expect(createRbdConnector(bad)._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    }
  });

  it("validates the connection and the device before any command", async () => {
    const { runner, connector } = setup();
    const cases = [
      connector.connectVolume({ ...INFO, type: "iscsi" } as never),
      connector.connectVolume({ ...INFO, pool: "vol/umes" }),
      connector.connectVolume({ ...INFO, image: "-rf" }),
      connector.connectVolume({ ...INFO, monitors: ["127.0.0.1"] }),
      connector.disconnectVolume(INFO, { ...DEVICE, path: "/dev/sdb" }),
      connector.disconnectVolume(INFO, { ...DEVICE, path: "/dev/rbd0/../sda" }),
      connector.extendVolume(INFO, { ...DEVICE, path: "/etc/passwd", type: "file" }),
    ];
    for (const r of await Promise.all(cases)) expect(r._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await connector.connectVolume({ ...INFO, authEnabled: false, clientId: undefined, key: undefined }))._unsafeUnwrapErr().code).toBe("NOT_SUPPORTED");
    expect(runner.calls).toEqual([]);
  });

  it("is the registry's rbd connector, and this host's", async () => {
    expect((await createConnector("rbd", { mapOptions: ["notrim"] }))._unsafeUnwrap().protocol).toBe("rbd");
    expect((await createHost({ connectors: { rbd: { msMode: "legacy" } } }).connector("rbd"))._unsafeUnwrap().protocol).toBe("rbd");
    expect((await createHost().hostProperties("rbd"))._unsafeUnwrap()).toMatchObject({ multipath: false, osType: "linux2" });
  });
});

describe("RbdConnector: connect", () => {
  it("maps with the key in a 0600 key file (removed right after), finds the device in sysfs and returns it with its size", async () => {
    const { host, runner, connector, onRbd } = setup({ msMode: "legacy", mapOptions: ["queue_depth=128"] });
    onRbd(["device", "map", "--options", "ms_mode=legacy,queue_depth=128", "volumes/kmap"], replay("kernel-device-map"), () => host.map("0"));
    const device = (await connector.connectVolume(INFO))._unsafeUnwrap();
    expect(device).toEqual({ type: "block", path: "/dev/rbd0", paths: [], sizeBytes: 64 * MiB });
    expect(runner.commands().map((a) => a[0])).toEqual(["mktemp", "install", "dd", "rbd", "rm"]);
    expect(runner.calls[2]?.stdin).toBe(`${KEY}\n`);
    expect(runner.commands().at(-1)).toEqual(["rm", "-rf", "--", "/tmp/volkit-ceph.AbCdEf12"]);
    for (const argv of runner.commands()) expect(argv.join(" ")).not.toContain(KEY);
  });

  it("maps read-only for an ro connection and uses a keyring path instead of a key", async () => {
    const { host, runner, connector } = setup({ keyringPath: "/etc/ceph/ceph.client.nova.keyring" });
    runner.on((a) => a[0] === "rbd" && a.includes("map"), () => {
      host.map("0");
      return replay("kernel-device-map");
    });
    expect((await connector.connectVolume({ ...INFO, key: undefined, accessMode: "ro" })).isOk()).toBe(true);
    const map = runner.commandsOf("rbd")[0] ?? [];
    expect(map.slice(-4)).toEqual(["device", "map", "--read-only", "volumes/kmap"]);
    expect(map).toEqual(expect.arrayContaining(["--keyring", "/etc/ceph/ceph.client.nova.keyring", "-m", "127.0.0.1:6789", "--client-mount-timeout", "10"]));
    expect(runner.commandsOf("mktemp")).toEqual([]);
  });

  it("returns an image already mapped here without mapping it again (a snapshot's mapping does not count)", async () => {
    const { host, runner, connector } = setup();
    host.map("1").map("0");
    expect((await connector.connectVolume(INFO))._unsafeUnwrap().path).toBe("/dev/rbd0");
    expect(runner.commandsOf("rbd")).toEqual([]);
  });

  it("unmaps again when the device the CLI printed maps another image", async () => {
    const { host, runner, connector, onRbd } = setup();
    onRbd(["device", "map", "volumes/other"], replay("kernel-device-map"), () => host.map("0"));
    runner.on(["rbd", "device", "unmap", "--options", "force", "/dev/rbd0"], replay("kernel-device-unmap"));
    const e = (await connector.connectVolume({ ...INFO, image: "other" }))._unsafeUnwrapErr();
    expect(e.code).toBe("DEVICE_NOT_FOUND");
    expect(e.message).toMatch(/maps volumes\/kmap, not volumes\/other/);
    expect(runner.commands().find((a) => a.includes("unmap"))).toEqual(["rbd", "device", "unmap", "--options", "force", "/dev/rbd0"]);
  });

  it("says NOT_SUPPORTED when the kernel has no rbd module, VOLUME_NOT_FOUND for a missing image", async () => {
    const { connector, onRbd } = setup();
    onRbd(["device", "map", "volumes/kmap"], replay("device-map-no-module"));
    onRbd(["device", "map", "volumes/missing"], replay("kernel-device-map-missing"));
    expect((await connector.connectVolume(INFO))._unsafeUnwrapErr().code).toBe("NOT_SUPPORTED");
    expect((await connector.connectVolume({ ...INFO, image: "missing" }))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
  });
});

describe("RbdConnector: disconnect and extend", () => {
  it("flushes, unmaps, checks the mapping left sysfs, and reports it removed", async () => {
    const { host, runner, connector } = setup();
    host.map("0");
    runner.on(["rbd", "device", "unmap", "/dev/rbd0"], () => {
      host.unmap("0");
      return replay("kernel-device-unmap");
    });
    const report = (await connector.disconnectVolume(INFO, DEVICE))._unsafeUnwrap();
    expect(report).toEqual({ removed: ["mapping volumes/kmap /dev/rbd0"], leftBehind: [] });
    expect(runner.commands()).toEqual([["blockdev", "--flushbufs", "/dev/rbd0"], ["rbd", "device", "unmap", "/dev/rbd0"]]);
    expect(host.tree.list("/sys/bus/rbd/devices")).toEqual([]);
    // Again: nothing mapped, a clean report, no command.
    runner.clearCalls();
    expect((await connector.disconnectVolume(INFO, DEVICE))._unsafeUnwrap()).toEqual({ removed: [], leftBehind: [] });
    expect(runner.calls).toEqual([]);
  });

  it("keeps another mapping of the same image and says so (expected)", async () => {
    const { host, runner, connector } = setup();
    host.map("0").map("0", { as: "2" });
    runner.on(["rbd", "device", "unmap", "/dev/rbd0"], () => {
      host.unmap("0");
      return replay("kernel-device-unmap");
    });
    const report = (await connector.disconnectVolume(INFO, DEVICE))._unsafeUnwrap();
    expect(report.removed).toEqual(["mapping volumes/kmap /dev/rbd0"]);
    expect(report.leftBehind).toEqual([{ kind: "mapping", name: "/dev/rbd2", reason: "kept: another mapping of volumes/kmap, not the device being detached", expected: true }]);
  });

  it("reports a device still open as left behind (DETACH_INCOMPLETE, or the report with ignoreErrors); force unmaps with -o force", async () => {
    const { host, runner, connector } = setup();
    host.map("0");
    runner.on(["rbd", "device", "unmap", "/dev/rbd0"], replay("kernel-device-unmap-busy"));
    const e = (await connector.disconnectVolume(INFO, DEVICE))._unsafeUnwrapErr();
    expect(e.code).toBe("DETACH_INCOMPLETE");
    const leftBehind = (e.details.report as { leftBehind: unknown[] }).leftBehind;
    expect(leftBehind).toEqual([{ kind: "mapping", name: "/dev/rbd0", reason: expect.stringMatching(/^unmap failed: /) as unknown, expected: false }]);
    const report = (await connector.disconnectVolume(INFO, DEVICE, { ignoreErrors: true }))._unsafeUnwrap();
    expect(report.leftBehind[0]).toMatchObject({ name: "/dev/rbd0", expected: false });
    runner.on(["rbd", "device", "unmap", "--options", "force", "/dev/rbd0"], () => {
      host.unmap("0");
      return replay("kernel-device-unmap");
    });
    runner.once(["blockdev"], { exitCode: 1, stderr: "blockdev: cannot flush /dev/rbd0: Input/output error" });
    expect((await connector.disconnectVolume(INFO, DEVICE, { force: true }))._unsafeUnwrap().removed).toEqual(["mapping volumes/kmap /dev/rbd0"]);
  });

  it("extend: makes the kernel re-read the header and waits for the image's new size", async () => {
    const { host, connector, onRbd } = setup();
    host.map("0");
    host.tree.onWrite(/\/sys\/bus\/rbd\/devices\/0\/refresh$/, () => void host.update("0", "kernel-sysfs-resized.txt"));
    onRbd(["info", "volumes/kmap", "--format", "json"], replay("kernel-info-resized"));
    expect((await connector.extendVolume(INFO, DEVICE))._unsafeUnwrap()).toBe(128 * MiB);
    expect(host.tree.writesTo(/refresh$/)).toHaveLength(1);
    expect((await connector.extendVolume({ ...INFO, image: "nope" }, DEVICE))._unsafeUnwrapErr().code).toBe("DEVICE_NOT_FOUND");
  });
});
