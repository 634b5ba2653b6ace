import { readFileSync } from "node:fs";
import { machine } from "node:os";
import { join } from "node:path";
import { ok } from "neverthrow";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { BackendListOutputSchema, BackendSetupOutputSchema, BackendStatsOutputSchema } from "../../../src/cli/commands/backend.js";
import { HostShowOutputSchema } from "../../../src/cli/commands/host-inventory.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { defineDriver } from "../../../src/drivers/driver-definition.js";
import { registerDriver } from "../../../src/drivers/registry.js";
import { addDmDevice, addIscsiSession, addScsiDisk } from "../../../src/testing/fake-sysfs.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { FakeHostTree } from "../../../src/testing/fake-tree.js";
import { MemoryVolumeDriver } from "../../../src/testing/memory-driver.js";
import { volkit } from "./cli-harness.js";

const findmntLab = readFileSync(join(import.meta.dirname, "../../fixtures/nfs/findmnt-lab-nfs.json"), "utf8");
const GiB = 2 ** 30;

let tree: FakeHostTree | undefined;
afterEach(() => tree?.cleanup());

describe("volkit host show", () => {
  it("shows connector properties, sessions with LUNs, multipath maps, NFS mounts under the base and RBD mappings", async () => {
    tree = FakeHostTree.create().file("/etc/iscsi/initiatorname.iscsi", "InitiatorName=iqn.2004-10.com.ubuntu:01:abc123\n");
    addIscsiSession(tree, { id: 1, host: 2, targetIqn: "iqn.2010-10.org.openstack:volume-vol-1", address: "127.0.0.1", port: 3260 });
    addScsiDisk(tree, { host: 2, lun: 1, session: 1, name: "sdb", wwid: "naa.6001405f0e1d2c3b4a5968778695a4b3", sizeBytes: GiB });
    addDmDevice(tree, { dm: "dm-3", name: "36001405f0e1d2c3b4a5968778695a4b3", uuid: "mpath-36001405f0e1d2c3b4a5968778695a4b3", slaves: ["sdb"], sizeBytes: GiB });
    addDmDevice(tree, { dm: "dm-0", name: "vg0-root", uuid: "LVM-abc", slaves: [], sizeBytes: GiB });
    for (const [name, value] of [["pool", "volumes"], ["pool_ns", ""], ["name", "volume-vol-2"], ["current_snap", "-"]]) tree.file(`/sys/bus/rbd/devices/0/${name}`, `${value}\n`);
    const runner = new FakeRunner().on(["findmnt"], { stdout: findmntLab }).on(["uname", "-m"], { stdout: `${machine()}\n` });
    const config = "host:\n  hostName: node-1\n  connectors:\n    nfs: { mount: { mountPointBase: /tmp/volkit-nfs-capture.pOaiS7 } }\n";
    const r = await volkit(["host", "show", "--json"], { runner, hostFs: tree.hostFs(), files: { "/work/volkit.yaml": config } });
    expect(r.code).toBe(0);
    const out = HostShowOutputSchema.parse(r.json());
    expect(out.hostName).toBe("node-1");
    expect(out.protocols).toEqual([
      { protocol: "iscsi", properties: { host: "node-1", initiator: "iqn.2004-10.com.ubuntu:01:abc123", multipath: false, platform: expect.any(String) as unknown, osType: "linux2" } },
      { protocol: "nfs", properties: { host: "node-1", multipath: false, platform: machine(), osType: "linux2" } },
      { protocol: "local", properties: { host: "node-1", multipath: false, platform: machine(), osType: "linux2" } },
    ]);
    expect(out.iscsiSessions).toEqual([{ id: 1, targetIqn: "iqn.2010-10.org.openstack:volume-vol-1", portal: "127.0.0.1:3260", state: "LOGGED_IN", scsiHost: 2, luns: [{ lun: 1, hctl: "2:0:0:1", disk: "sdb" }] }]);
    expect(out.multipathMaps).toEqual([{ name: "36001405f0e1d2c3b4a5968778695a4b3", dm: "dm-3", wwid: "36001405f0e1d2c3b4a5968778695a4b3", sizeBytes: GiB, paths: ["sdb"] }]);
    expect(out.nfsMounts).toEqual([{ mountPoint: "/tmp/volkit-nfs-capture.pOaiS7/mp", share: "127.0.0.1:/srv/nfs/share1", fstype: "nfs4", options: expect.stringContaining("vers=4.1,") as unknown }]);
    expect(out.rbdMappings).toEqual([{ id: "0", pool: "volumes", image: "volume-vol-2", device: "/dev/rbd0" }]);
    expect(out.errors).toEqual([]);
    expect(runner.commandsOf("findmnt")).toEqual([["findmnt", "-J", "-l", "-k", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"]]);
    const human = await volkit(["host", "show"], { runner, hostFs: tree.hostFs(), files: { "/work/volkit.yaml": config } });
    expect(human.stdout).toMatch(/127\.0\.0\.1:3260\s+iqn\.2010-10\.org\.openstack:volume-vol-1\s+LOGGED_IN\s+1\s+sdb/);
    expect(human.stdout).toContain("initiator iqn.2004-10.com.ubuntu:01:abc123");
  });

  it("still shows what it could read when a section fails, and exits with that section's error code", async () => {
    tree = FakeHostTree.create();
    const runner = new FakeRunner().on(["uname", "-m"], { stdout: `${machine()}\n` }); // no findmnt: COMMAND_NOT_FOUND-like 127
    const r = await volkit(["host", "show", "--json"], { runner, hostFs: tree.hostFs(), files: { "/work/volkit.yaml": "host: { hostName: node-2 }\n" } });
    const out = HostShowOutputSchema.parse(r.json());
    expect(out.protocols[0]).toMatchObject({ protocol: "iscsi", error: { code: "BACKEND_UNAVAILABLE" } });
    expect(out.iscsiSessions).toEqual([]);
    expect(out.errors.map((e) => e.section)).toEqual(["nfsMounts"]);
    expect(r.code).toBe(EXIT_CODES[out.errors[0]?.code as keyof typeof EXIT_CODES]);
  });
});

describe("volkit backend", () => {
  beforeAll(() => {
    // A driver registered like a third-party one: the CLI builds it through createBackend as any other.
    const registered = registerDriver(
      defineDriver({
        name: "memory",
        title: "Memory",
        description: "volumes in memory (tests)",
        configSchema: z.object({ driver: z.literal("memory"), backendName: z.string().optional(), capacityGiB: z.number().int().min(1) }),
        create: (config, deps) => ok(new MemoryVolumeDriver({ capacityGiB: config.capacityGiB, ...(deps.runner ? { runner: deps.runner } : {}) })),
      }),
    );
    expect(registered.isOk()).toBe(true);
  });
  const config = "backends:\n  mem-a: { driver: memory, capacityGiB: 100 }\n  mem-b: { driver: memory, capacityGiB: 5 }\n";

  it("lists the config's backends with their driver", async () => {
    const r = await volkit(["backend", "list", "--json"], { files: { "/work/volkit.yaml": config } });
    expect(BackendListOutputSchema.parse(r.json())).toEqual({ backends: [{ name: "mem-a", driver: "memory", title: "Memory", description: "volumes in memory (tests)" }, { name: "mem-b", driver: "memory", title: "Memory", description: "volumes in memory (tests)" }] });
  });

  it("reads each backend's stats through createBackend, and runs setup", async () => {
    const r = await volkit(["backend", "stats", "--json"], { files: { "/work/volkit.yaml": config } });
    expect(r.code).toBe(0);
    const out = BackendStatsOutputSchema.parse(r.json());
    expect(out.backends.map((b) => [b.name, b.stats?.volumeBackendName, b.stats?.totalCapacityGiB])).toEqual([["mem-a", "mem-a", 100], ["mem-b", "mem-b", 5]]);
    const one = await volkit(["backend", "stats", "mem-b"], { files: { "/work/volkit.yaml": config } });
    expect(one.stdout).toMatch(/^mem-b .*: 5 of 5 GiB free/m);
    const setup = await volkit(["backend", "setup", "mem-a", "--json"], { files: { "/work/volkit.yaml": config } });
    expect(BackendSetupOutputSchema.parse(setup.json())).toMatchObject({ backend: "mem-a", ready: true });
  });

  it("names an unknown backend, and an empty config", async () => {
    const unknown = await volkit(["backend", "stats", "nope"], { files: { "/work/volkit.yaml": config } });
    expect(unknown.code).toBe(EXIT_CODES.NOT_FOUND);
    expect(unknown.stderr).toContain("no backend named nope (known: mem-a, mem-b)");
    const none = await volkit(["backend", "stats"]);
    expect(none.code).toBe(EXIT_CODES.INVALID_CONFIG);
  });
});
