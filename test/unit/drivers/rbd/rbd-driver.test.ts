import { describe, expect, it } from "vitest";
import type { VolumeStats } from "../../../../src/core/records.js";
import { wrapDriver } from "../../../../src/drivers/backend.js";
import { createRbdDriver, type RbdConfig } from "../../../../src/drivers/rbd/index.js";
import { connectionArgs } from "../../../../src/drivers/rbd/rbd-connection.js";
import { createBackend, driverConfigJsonSchema } from "../../../../src/drivers/registry.js";
import { FakeRunner, type FakeReply } from "../../../../src/testing/fake-runner.js";
import { replay, stdoutOf } from "./captures.js";

/**
 * The RBD driver through the runtime (wrapDriver) on a fake runner that replays output captured
 * from Ceph 16.2.15 (test/fixtures/rbd, the `drv-*` captures use the driver's own names): the
 * command lines it runs, in order, and what it makes of each answer.
 */

const KEY = "AQBq0mhnAAAAABAAunitTestKeyForVolkitRbd0000==";
const KEYFILE = "/tmp/volkit-ceph.AbCdEf12/keyfile";
const GiB = 1024 ** 3;
const V1 = "volumes/volume-v1";

/** Matches exactly this argv. */
const exactly = (argv: readonly string[]) => (a: readonly string[]) => a.length === argv.length && a.every((x, i) => x === argv[i]);

function setup(config: Partial<RbdConfig> = {}) {
  const runner = new FakeRunner();
  runner.on(["mktemp"], { stdout: "/tmp/volkit-ceph.AbCdEf12\n" }).on(["install"], {}).on(["dd"], {}).on(["rm", "-rf"], {});
  const driver = createRbdDriver({ driver: "rbd", monitors: ["v2:10.0.0.1:3300"], clientId: "volkit", key: KEY, pool: "volumes", ...config }, { runner })._unsafeUnwrap();
  const prefix = connectionArgs(driver.client.connection, KEYFILE);
  /** Replies `reply` to `rbd <connection> <args>` (exactly). */
  const on = (args: readonly string[], reply: FakeReply, program: "rbd" | "ceph" = "rbd"): void => void runner.on(exactly([program, ...prefix, ...args]), reply);
  on(["namespace", "ls", "volumes", "--format", "json"], replay("namespace-ls"));
  /** The rbd/ceph subcommands run, without the connection options and the start-up check. */
  const ops = (): string[][] =>
    runner
      .commands()
      .filter((a) => (a[0] === "rbd" || a[0] === "ceph") && !a.includes("namespace"))
      .map((a) => [a[0] as string, ...a.slice(1 + prefix.length)]);
  return { runner, driver, backend: wrapDriver(driver), on, ops };
}

describe("RBD driver config", () => {
  it("describes every field for a panel (title and description in the JSON schema)", () => {
    const schema = driverConfigJsonSchema("rbd")._unsafeUnwrap() as { title: string; properties: Record<string, { title?: string; description?: string }> };
    expect(schema.title).toBe("Ceph RBD");
    const missing = Object.entries(schema.properties).filter(([k, p]) => k !== "driver" && k !== "rootHelper" && (!p.title || !p.description)).map(([k]) => k);
    expect(missing).toEqual([]);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["monitors", "clientId", "key", "keyringPath", "pool", "dataPool", "imageFeatures", "maxCloneDepth", "flattenVolumeFromSnapshot", "deleteWithClones", "connectTimeoutSec", "qosSpecs", "libvirtSecretUuid", "exposeKey"]));
  });

  it("refuses contradictory or unsafe configs with INVALID_CONFIG, before any command", () => {
    const bad: Array<[string, Partial<RbdConfig>]> = [
      ["key and keyring", { keyringPath: "/etc/ceph/k" }],
      ["exposeKey without a key", { key: undefined, keyringPath: "/etc/ceph/k", exposeKey: true }],
      ["features without layering", { imageFeatures: ["exclusive-lock"] }],
      ["client. prefix", { clientId: "client.cinder" }],
      ["a pool name with a slash", { pool: "a/b" }],
      ["a monitor with a space", { monitors: ["10.0.0.1 6789"] }],
      ["both libvirt secret forms", { libvirtSecretUuid: "457eb676-33da-42ec-9a8c-9293d545c337", libvirtSecretUsage: "ceph" }],
      ["a key that is not base64", { key: "not a key!" }],
    ];
    for (const [label, config] of bad) {
      const runner = new FakeRunner();
      const r = createRbdDriver({ driver: "rbd", clientId: "volkit", key: KEY, ...config }, { runner });
      expect(r.isErr() ? r.error.code : "ok", label).toBe("INVALID_CONFIG");
      expect(runner.calls, label).toEqual([]);
    }
  });

  it("is a built-in driver: createBackend loads it lazily and names the backend after the pool", async () => {
    const backend = (await createBackend({ driver: "rbd", clientId: "volkit", keyringPath: "/etc/ceph/ceph.client.volkit.keyring", pool: "images" }, { runner: new FakeRunner() }))._unsafeUnwrap();
    expect(backend.name).toBe("rbd-images");
    expect(backend.capabilities).toMatchObject({ protocol: "rbd", thin: true, thick: false, snapshots: true, nativeClone: true, revertToSnapshot: true, onlineExtend: true, qos: true, manageExisting: true });
  });
});

describe("RBD driver start-up", () => {
  it("checks the pool with one rbd call; a missing pool or namespace is INVALID_CONFIG; a refused key AUTH_FAILED without the key", async () => {
    const missing = setup({ pool: "nopool" });
    missing.on(["namespace", "ls", "nopool", "--format", "json"], replay("namespace-ls-missing-pool"));
    expect((await missing.backend.initialize())._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    const ns = setup({ namespace: "tenant-a" });
    const nsError = (await ns.backend.initialize())._unsafeUnwrapErr();
    expect(nsError.code).toBe("INVALID_CONFIG");
    expect(nsError.message).toMatch(/namespace tenant-a does not exist/);
    const wrong = new FakeRunner().on(["mktemp"], { stdout: "/tmp/volkit-ceph.AbCdEf12\n" }).on(["install"], {}).on(["dd"], {}).on(["rbd"], replay("auth-wrong-key"));
    const backend = wrapDriver(createRbdDriver({ driver: "rbd", clientId: "volkit", key: KEY }, { runner: wrong })._unsafeUnwrap());
    const e = (await backend.createVolume({ id: "v9", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(JSON.stringify(e.toJSON())).not.toContain(KEY);
    expect(wrong.commandsOf("rbd")).toHaveLength(1);
    for (const argv of wrong.commands()) expect(argv.join(" ")).not.toContain(KEY);
  });
});

describe("RBD driver volumes and snapshots", () => {
  it("creates an image with the configured layout and the volume type's QoS", async () => {
    const { backend, on, ops } = setup({ dataPool: "ec-data", imageFeatures: ["layering", "exclusive-lock"], qosSpecs: { gold: { iopsLimit: 500 } } });
    on(["namespace", "ls", "ec-data", "--format", "json"], replay("namespace-ls"));
    on(["create", "--no-progress", "--size", `${GiB}B`, "--image-feature", "layering,exclusive-lock", "--data-pool", "ec-data", "volumes/volume-v7"], {});
    on(["config", "image", "set", "volumes/volume-v7", "rbd_qos_iops_limit", "500"], {});
    const v = (await backend.createVolume({ id: "v7", sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrap();
    expect(v).toMatchObject({ id: "v7", sizeGiB: 1, providerLocation: "volumes/volume-v7" });
    expect(ops()).toEqual([
      ["rbd", "create", "--no-progress", "--size", `${GiB}B`, "--image-feature", "layering,exclusive-lock", "--data-pool", "ec-data", "volumes/volume-v7"],
      ["rbd", "config", "image", "set", "volumes/volume-v7", "rbd_qos_iops_limit", "500"],
    ]);
  });

  it("applies the spec's back-end QoS (the volume service's, typed) over the config's entry for the type", async () => {
    const { backend, on, ops } = setup({ qosSpecs: { gold: { iopsLimit: 500 } } });
    on(["create", "--no-progress", "--size", `${GiB}B`, "volumes/volume-v8"], {});
    on(["config", "image", "set", "volumes/volume-v8", "rbd_qos_iops_limit", "800"], {});
    on(["config", "image", "set", "volumes/volume-v8", "rbd_qos_write_bps_limit", "1048576"], {});
    (await backend.createVolume({ id: "v8", sizeGiB: 1, volumeType: "gold", qos: { totalIopsSec: 800, writeBytesSec: 1048576 } }))._unsafeUnwrap();
    expect(ops()).toEqual([
      ["rbd", "create", "--no-progress", "--size", `${GiB}B`, "volumes/volume-v8"],
      ["rbd", "config", "image", "set", "volumes/volume-v8", "rbd_qos_iops_limit", "800"],
      ["rbd", "config", "image", "set", "volumes/volume-v8", "rbd_qos_write_bps_limit", "1048576"],
    ]);
    // Malformed back-end QoS is refused before any command.
    const before = ops().length;
    expect((await backend.createVolume({ id: "v9", sizeGiB: 1, qos: { totalIopsSec: -1 } }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await backend.createVolume({ id: "v9", sizeGiB: 1, qos: {} }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(ops()).toHaveLength(before);
  });

  it("reports an existing image as VOLUME_EXISTS and never touches it", async () => {
    const { backend, on, ops } = setup();
    on(["create", "--no-progress", "--size", `${GiB}B`, "volumes/volume-v1"], replay("create-exists"));
    expect((await backend.createVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
    expect(ops()).toHaveLength(1);
  });

  it("removes the image again when its QoS cannot be set", async () => {
    const { backend, on, ops } = setup({ qosSpecs: { gold: { iopsLimit: 500 } } });
    on(["create", "--no-progress", "--size", `${GiB}B`, "volumes/volume-v7"], {});
    on(["config", "image", "set", "volumes/volume-v7", "rbd_qos_iops_limit", "500"], replay("config-set-invalid-key"));
    on(["info", "volumes/volume-v7", "--format", "json"], replay("info-layout"));
    on(["rm", "--no-progress", "volumes/volume-v7"], {});
    expect((await backend.createVolume({ id: "v7", sizeGiB: 1, volumeType: "gold" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(ops().at(-1)).toEqual(["rbd", "rm", "--no-progress", "volumes/volume-v7"]);
  });

  it("clones a protected snapshot into a volume from it (one info, one clone, a resize to the bigger size)", async () => {
    const { backend, on, ops } = setup();
    on(["info", `${V1}@snapshot-s1`, "--format", "json"], replay("drv-info-snapshot"));
    on(["clone", `${V1}@snapshot-s1`, "volumes/volume-n1"], {});
    on(["resize", "--no-progress", "--size", `${2 * GiB}B`, "volumes/volume-n1"], {});
    const v = (await backend.createVolumeFromSnapshot({ id: "n1", sizeGiB: 2 }, { id: "s1", volumeId: "v1", volumeSizeGiB: 1 }))._unsafeUnwrap();
    expect(v.sizeGiB).toBe(2);
    // Already protected (the captured info says so): no protect call.
    expect(ops().map((a) => a[1])).toEqual(["info", "clone", "resize"]);
  });

  it("flattens a volume from a snapshot when configured", async () => {
    const { backend, on, ops } = setup({ flattenVolumeFromSnapshot: true });
    on(["info", `${V1}@snapshot-s1`, "--format", "json"], replay("drv-info-snapshot"));
    on(["clone", `${V1}@snapshot-s1`, "volumes/volume-n1"], {});
    on(["flatten", "--no-progress", "volumes/volume-n1"], {});
    expect((await backend.createVolumeFromSnapshot({ id: "n1", sizeGiB: 1 }, { id: "s1", volumeId: "v1", volumeSizeGiB: 1 })).isOk()).toBe(true);
    expect(ops().map((a) => a[1])).toEqual(["info", "clone", "flatten"]);
  });

  it("reports a missing snapshot or volume as SNAPSHOT_NOT_FOUND and creates nothing", async () => {
    const { backend, on, ops } = setup();
    on(["info", `${V1}@snapshot-gone`, "--format", "json"], replay("info-missing-snapshot"));
    on(["info", "volumes/volume-gone@snapshot-s1", "--format", "json"], replay("info-missing"));
    expect((await backend.createVolumeFromSnapshot({ id: "n1", sizeGiB: 1 }, { id: "gone", volumeId: "v1", volumeSizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
    expect((await backend.createVolumeFromSnapshot({ id: "n1", sizeGiB: 1 }, { id: "s1", volumeId: "gone", volumeSizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("SNAPSHOT_NOT_FOUND");
    expect(ops().map((a) => a[1])).toEqual(["info", "info"]);
  });

  it("clones a volume through a snapshot of it, and on VOLUME_EXISTS drops that snapshot but leaves the existing image", async () => {
    const { backend, on, ops } = setup();
    on(["info", V1, "--format", "json"], replay("drv-info-volume"));
    on(["snap", "create", "--no-progress", `${V1}@volume-v3.clone_snap`], {});
    on(["snap", "protect", `${V1}@volume-v3.clone_snap`], {});
    on(["clone", `${V1}@volume-v3.clone_snap`, "volumes/volume-v3"], replay("clone-exists"));
    on(["snap", "unprotect", `${V1}@volume-v3.clone_snap`], {});
    on(["snap", "rm", "--no-progress", `${V1}@volume-v3.clone_snap`], {});
    expect((await backend.createClonedVolume({ id: "v3", sizeGiB: 1 }, { id: "v1", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");
    expect(ops().map((a) => a.slice(1, 3).join(" "))).toEqual(["info volumes/volume-v1", "snap create", "snap protect", "clone volumes/volume-v1@volume-v3.clone_snap", "snap unprotect", "snap rm"]);
    expect(ops().some((a) => a[1] === "rm")).toBe(false);
  });

  it("counts the source's parents (a parent in the trash read by id) and flattens a clone past maxCloneDepth", async () => {
    const { backend, on, ops } = setup({ maxCloneDepth: 1 });
    on(["info", "volumes/volume-v3", "--format", "json"], replay("drv-info-clone-parent-in-trash"));
    const parentId = (JSON.parse(stdoutOf("drv-info-clone-parent-in-trash")) as { parent: { id: string } }).parent.id;
    on(["info", "--pool", "volumes", "--image-id", parentId, "--format", "json"], replay("drv-info-by-id"));
    for (const args of [
      ["snap", "create", "--no-progress", "volumes/volume-v3@volume-n2.clone_snap"],
      ["snap", "protect", "volumes/volume-v3@volume-n2.clone_snap"],
      ["clone", "volumes/volume-v3@volume-n2.clone_snap", "volumes/volume-n2"],
      ["flatten", "--no-progress", "volumes/volume-n2"],
      ["snap", "unprotect", "volumes/volume-v3@volume-n2.clone_snap"],
      ["snap", "rm", "--no-progress", "volumes/volume-v3@volume-n2.clone_snap"],
    ]) on(args, {});
    expect((await backend.createClonedVolume({ id: "n2", sizeGiB: 1 }, { id: "v3", sizeGiB: 1 })).isOk()).toBe(true);
    expect(ops().map((a) => a.slice(1, 3).join(" "))).toEqual(["info volumes/volume-v3", "info --pool", "snap create", "snap protect", "clone volumes/volume-v3@volume-n2.clone_snap", "flatten --no-progress", "snap unprotect", "snap rm"]);
  });

  it("takes a snapshot, and a retry of one that exists returns it", async () => {
    const { backend, on } = setup();
    on(["snap", "create", "--no-progress", `${V1}@snapshot-s1`], replay("snap-create-exists"));
    const snap = (await backend.createSnapshot({ id: "s1", volumeId: "v1", volumeSizeGiB: 1 }, { id: "v1", sizeGiB: 1 }))._unsafeUnwrap();
    expect(snap).toMatchObject({ id: "s1", volumeId: "v1", providerLocation: `${V1}@snapshot-s1` });
  });

  it("reverts with snap rollback, refusing while the image is open, growing it back when it was extended after the snapshot", async () => {
    const { backend, on, ops } = setup();
    on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls"));
    on(["status", V1, "--format", "json"], replay("status-watched"));
    expect((await backend.revertToSnapshot({ id: "v1", sizeGiB: 2 }, { id: "s1", volumeId: "v1", volumeSizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    const idle = setup();
    idle.on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls"));
    idle.on(["status", V1, "--format", "json"], replay("status-idle"));
    idle.on(["snap", "rollback", "--no-progress", `${V1}@snapshot-s1`], {});
    idle.on(["resize", "--no-progress", "--size", `${2 * GiB}B`, V1], {});
    expect((await idle.backend.revertToSnapshot({ id: "v1", sizeGiB: 2 }, { id: "s1", volumeId: "v1", volumeSizeGiB: 1 })).isOk()).toBe(true);
    expect(idle.ops().map((a) => a[1])).toEqual(["snap", "status", "snap", "resize"]);
    expect(ops().map((a) => a[2] ?? a[1])).not.toContain("rollback");
  });
});

describe("RBD driver deletes", () => {
  it("treats a missing volume as deleted after one info", async () => {
    const { backend, on, ops } = setup();
    on(["info", "volumes/volume-gone", "--format", "json"], replay("info-missing"));
    expect((await backend.deleteVolume({ id: "gone", sizeGiB: 1 })).isOk()).toBe(true);
    expect(ops()).toHaveLength(1);
  });

  it("refuses a volume with snapshots of its own (VOLUME_BUSY naming them) and one someone has open", async () => {
    const { backend, on, ops } = setup();
    on(["info", V1, "--format", "json"], replay("drv-info-volume"));
    on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls"));
    const busy = (await backend.deleteVolume({ id: "v1", sizeGiB: 1 }))._unsafeUnwrapErr();
    expect(busy).toMatchObject({ code: "VOLUME_BUSY", details: { snapshots: ["snapshot-s1"] } });
    expect(ops().some((a) => a[1] === "rm" || a[1] === "trash")).toBe(false);
    const open = setup();
    open.on(["info", "volumes/volume-w", "--format", "json"], replay("info-layout"));
    open.on(["rm", "--no-progress", "volumes/volume-w"], replay("rm-watched"));
    expect((await open.backend.deleteVolume({ id: "w", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
  });

  it("moves a volume whose internal snapshots still have clones to the trash (trash mode)", async () => {
    const { backend, on, ops } = setup();
    on(["info", V1, "--format", "json"], replay("drv-info-volume"));
    on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls-hidden"));
    on(["status", V1, "--format", "json"], replay("status-idle"));
    on(["snap", "unprotect", `${V1}@snapshot-s1.deleted`], replay("drv-snap-unprotect-busy"));
    on(["snap", "unprotect", `${V1}@volume-v3.clone_snap`], replay("drv-snap-unprotect-busy"));
    on(["trash", "mv", V1], replay("drv-trash-mv"));
    expect((await backend.deleteVolume({ id: "v1", sizeGiB: 1 })).isOk()).toBe(true);
    expect(ops().map((a) => a.slice(1, 3).join(" "))).toEqual(["info volumes/volume-v1", "snap ls", "status volumes/volume-v1", "snap unprotect", "snap unprotect", "info volumes/volume-v1", "trash mv"]);
  });

  it("removes the last clone of a trashed parent, then the parent's snapshot and the parent itself, by id", async () => {
    const { backend, on, ops } = setup();
    const parentId = (JSON.parse(stdoutOf("drv-info-clone-parent-in-trash")) as { parent: { id: string } }).parent.id;
    const byId = ["--pool", "volumes", "--image-id", parentId];
    on(["info", "volumes/volume-v3", "--format", "json"], replay("drv-info-clone-parent-in-trash"));
    on(["rm", "--no-progress", "volumes/volume-v3"], {});
    on(["snap", "unprotect", ...byId, "--snap", "volume-v3.clone_snap"], replay("drv-snap-unprotect-by-id"));
    on(["snap", "rm", "--no-progress", ...byId, "--snap", "volume-v3.clone_snap"], replay("drv-snap-rm-by-id"));
    on(["snap", "ls", ...byId, "--format", "json"], replay("drv-snap-ls-by-id-empty"));
    on(["info", ...byId, "--format", "json"], replay("drv-info-by-id"));
    on(["trash", "rm", "--no-progress", `volumes/${parentId}`], replay("drv-trash-rm"));
    expect((await backend.deleteVolume({ id: "v3", sizeGiB: 1 })).isOk()).toBe(true);
    expect(ops().map((a) => a.slice(1, 3).join(" "))).toEqual(["info volumes/volume-v3", "rm --no-progress", "snap unprotect", "snap rm", "snap ls", "info --pool", "trash rm"]);
  });

  it("keeps a trashed parent another clone still uses (unprotect refused: done)", async () => {
    const { backend, on, ops } = setup();
    const parentId = (JSON.parse(stdoutOf("drv-info-clone-parent-in-trash")) as { parent: { id: string } }).parent.id;
    on(["info", "volumes/volume-v3", "--format", "json"], replay("drv-info-clone-parent-in-trash"));
    on(["rm", "--no-progress", "volumes/volume-v3"], {});
    on(["snap", "unprotect", "--pool", "volumes", "--image-id", parentId, "--snap", "volume-v3.clone_snap"], replay("snap-unprotect-by-id-children"));
    expect((await backend.deleteVolume({ id: "v3", sizeGiB: 1 })).isOk()).toBe(true);
    expect(ops().map((a) => a[1])).toEqual(["info", "rm", "snap"]);
  });

  it("hides a snapshot that has clones (trash mode) and flattens them first (flatten mode)", async () => {
    const trash = setup();
    trash.on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls"));
    trash.on(["snap", "unprotect", `${V1}@snapshot-s1`], replay("drv-snap-unprotect-busy"));
    trash.on(["snap", "rename", `${V1}@snapshot-s1`, `${V1}@snapshot-s1.deleted`], replay("drv-snap-rename"));
    expect((await trash.backend.deleteSnapshot({ id: "s1", volumeId: "v1", volumeSizeGiB: 1 })).isOk()).toBe(true);
    expect(trash.ops().map((a) => a.slice(1, 3).join(" "))).toEqual(["snap ls", "snap unprotect", "snap rename"]);

    const flat = setup({ deleteWithClones: "flatten" });
    flat.on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls"));
    flat.runner.once(exactly(["rbd", ...connectionArgs(flat.driver.client.connection, KEYFILE), "snap", "unprotect", `${V1}@snapshot-s1`]), replay("drv-snap-unprotect-busy"));
    flat.on(["children", "--all", `${V1}@snapshot-s1`, "--format", "json"], replay("drv-children"));
    flat.on(["flatten", "--no-progress", "volumes/volume-v2"], {});
    flat.on(["snap", "unprotect", `${V1}@snapshot-s1`], {});
    flat.on(["snap", "rm", "--no-progress", `${V1}@snapshot-s1`], {});
    expect((await flat.backend.deleteSnapshot({ id: "s1", volumeId: "v1", volumeSizeGiB: 1 })).isOk()).toBe(true);
    expect(flat.ops().map((a) => a.slice(1, 3).join(" "))).toEqual(["snap ls", "snap unprotect", "children --all", "flatten --no-progress", "snap unprotect", "snap rm"]);
  });

  it("treats a snapshot of a missing volume, or a missing snapshot, as deleted", async () => {
    const { backend, on } = setup();
    on(["snap", "ls", "volumes/volume-gone", "--format", "json"], replay("snap-ls-missing"));
    on(["snap", "ls", V1, "--format", "json"], replay("drv-snap-ls"));
    expect((await backend.deleteSnapshot({ id: "s1", volumeId: "gone", volumeSizeGiB: 1 })).isOk()).toBe(true);
    expect((await backend.deleteSnapshot({ id: "nope", volumeId: "v1", volumeSizeGiB: 1 })).isOk()).toBe(true);
  });
});

describe("RBD driver stats, connections, manage, copies", () => {
  it("computes the pool's stats from ceph df detail (the quota as the total) and rbd du (provisioned vs used)", async () => {
    const { backend, on } = setup();
    on(["df", "detail", "--format", "json"], replay("ceph-df-detail"), "ceph");
    on(["du", "--pool", "volumes", "--format", "json"], replay("du-pool"));
    const stats: VolumeStats = (await backend.getVolumeStats())._unsafeUnwrap();
    const df = JSON.parse(stdoutOf("ceph-df-detail")) as { pools: { name: string; stats: { stored: number; max_avail: number; quota_bytes: number } }[] };
    const du = JSON.parse(stdoutOf("du-pool")) as { images: { snapshot?: string; provisioned_size: number }[]; total_used_size: number };
    const pool = df.pools.find((p) => p.name === "volumes")?.stats;
    expect(pool?.quota_bytes).toBe(100 * GiB);
    const round = (bytes: number): number => Math.round((bytes / GiB) * 100) / 100;
    expect(stats.pools[0]).toMatchObject({
      poolName: "volumes",
      totalCapacityGiB: 100,
      freeCapacityGiB: round(Math.min(100 * GiB - (pool?.stored ?? 0), pool?.max_avail ?? 0)),
      provisionedCapacityGiB: round(du.images.filter((i) => i.snapshot === undefined).reduce((s, i) => s + i.provisioned_size, 0)),
      allocatedCapacityGiB: round(du.total_used_size),
      thinProvisioningSupport: true,
      thickProvisioningSupport: false,
      qosSupport: true,
      totalVolumes: 0,
    });
    expect(stats).toMatchObject({ storageProtocol: "rbd", volumeBackendName: "rbd", qosSupport: true });
  });

  it("reports unknown capacity before the manager has listed the pool in ceph df", async () => {
    const { backend, on } = setup();
    on(["df", "detail", "--format", "json"], replay("ceph-df-before-mgr"), "ceph");
    on(["du", "--pool", "volumes", "--format", "json"], replay("du-pool"));
    expect((await backend.getVolumeStats())._unsafeUnwrap().pools[0]).toMatchObject({ totalCapacityGiB: "unknown", freeCapacityGiB: "unknown" });
  });

  it("hands out the monitors' v1 addresses from the monitor map (read once), never the key unless exposeKey", async () => {
    const secret = "457eb676-33da-42ec-9a8c-9293d545c337";
    for (const exposeKey of [false, true]) {
      const { backend, on, ops } = setup({ libvirtSecretUuid: secret, exposeKey });
      on(["info", V1, "--format", "json"], replay("drv-info-volume"));
      on(["mon", "dump", "--format", "json"], replay("mon-dump"), "ceph");
      const v1 = (JSON.parse(stdoutOf("mon-dump")) as { mons: { public_addrs: { addrvec: { type: string; addr: string }[] } }[] }).mons[0]?.public_addrs.addrvec.find((a) => a.type === "v1")?.addr;
      const info = (await backend.initializeConnection({ id: "v1", sizeGiB: 1 }, { host: "compute-1", multipath: false }))._unsafeUnwrap();
      expect(info).toMatchObject({ type: "rbd", pool: "volumes", image: "volume-v1", monitors: [v1], clientId: "volkit", secretUuid: secret, authEnabled: true });
      expect("key" in info ? info.key : undefined).toBe(exposeKey ? KEY : undefined);
      (await backend.initializeConnection({ id: "v1", sizeGiB: 1 }, { host: "compute-1", multipath: false }))._unsafeUnwrap();
      expect(ops().filter((a) => a[0] === "ceph")).toHaveLength(1);
    }
  });

  it("lists the pool's images for manage: volkit's own are not safe, open ones are in use", async () => {
    const { backend, on } = setup();
    on(["ls", "-l", "volumes", "--format", "json"], replay("ls-long"));
    on(["status", "volumes/base", "--format", "json"], replay("status-watched"));
    on(["status", "volumes/c1", "--format", "json"], replay("status-idle"));
    on(["status", "volumes/layout", "--format", "json"], replay("status-idle"));
    const list = (await backend.listManageable())._unsafeUnwrap();
    expect(list).toEqual([
      { reference: { sourceName: "base" }, sizeGiB: 1, safeToManage: false, reasonNotSafe: "in use (1 client(s) have it open)" },
      { reference: { sourceName: "c1" }, sizeGiB: 1, safeToManage: true },
      { reference: { sourceName: "layout" }, sizeGiB: 1, safeToManage: true },
    ]);
  });

  it("manages an image: checked, grown to whole GiB, renamed; a bad reference runs nothing", async () => {
    const { backend, on, ops } = setup();
    on(["info", "volumes/layout", "--format", "json"], replay("info-layout"));
    on(["status", "volumes/layout", "--format", "json"], replay("status-idle"));
    on(["info", "volumes/volume-m1", "--format", "json"], replay("info-missing"));
    on(["resize", "--no-progress", "--size", `${GiB}B`, "volumes/layout"], {});
    on(["rename", "volumes/layout", "volumes/volume-m1"], {});
    const v = (await backend.manageExisting({ id: "m1", sizeGiB: 1 }, { sourceName: "layout" }))._unsafeUnwrap();
    expect(v).toMatchObject({ id: "m1", sizeGiB: 1, providerLocation: "volumes/volume-m1" });
    expect(ops().map((a) => a[1])).toEqual(["info", "status", "info", "resize", "rename"]);
    const before = ops().length;
    expect((await backend.manageExisting({ id: "m2", sizeGiB: 1 }, { sourceId: "102ebf8594d3" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await backend.manageExisting({ id: "m2", sizeGiB: 1 }, { sourceName: "-rf" }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(ops()).toHaveLength(before);
  });

  it("copies an image into a volume with qemu-img on an rbd: name that holds the key file's path, never the key", async () => {
    const { backend, on, runner } = setup();
    on(["info", V1, "--format", "json"], replay("drv-info-volume"));
    runner.on(["qemu-img", "info"], { stdout: JSON.stringify({ format: "qcow2", "virtual-size": 64 * 1024 ** 2 }) });
    runner.on(["qemu-img", "convert"], {});
    expect((await backend.copyImageToVolume({ path: "/images/cirros.qcow2" }, { id: "v1", sizeGiB: 1 })).isOk()).toBe(true);
    const convert = runner.commands().find((a) => a[1] === "convert") ?? [];
    expect(convert.slice(0, 9)).toEqual(["qemu-img", "convert", "-p", "-f", "qcow2", "-O", "raw", "-t", "writeback"]);
    expect(convert.at(-1)).toBe(`rbd:${V1}:id=volkit:mon_host=v2\\:10.0.0.1\\:3300:keyfile=${KEYFILE}:client_mount_timeout=10`);
    for (const argv of runner.commands()) expect(argv.join(" ")).not.toContain(KEY);
  });

  it("refuses an image bigger than the volume before writing anything", async () => {
    const { backend, on, runner } = setup();
    on(["info", V1, "--format", "json"], replay("drv-info-volume"));
    runner.on(["qemu-img", "info"], { stdout: JSON.stringify({ format: "raw", "virtual-size": 2 * GiB }) });
    expect((await backend.copyImageToVolume({ path: "/images/big.raw" }, { id: "v1", sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.commands().some((a) => a[1] === "convert")).toBe(false);
  });
});
