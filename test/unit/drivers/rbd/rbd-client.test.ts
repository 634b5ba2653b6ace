import { describe, expect, it } from "vitest";
import { backgroundContext, createOperationContext } from "../../../../src/core/context.js";
import { validate } from "../../../../src/core/validation.js";
import { RbdClient } from "../../../../src/drivers/rbd/rbd-client.js";
import { connectionArgs, RbdConnectionSchema, type RbdConnectionInput } from "../../../../src/drivers/rbd/rbd-connection.js";
import { FakeRunner } from "../../../../src/testing/fake-runner.js";
import { replay, stdoutOf } from "./captures.js";

const KEY = "AQBq0mhnAAAAABAAunitTestKeyForVolkitRbd0000==";
const BASE = { pool: "volumes", image: "base" } as const;
const S1 = { ...BASE, snapshot: "s1" } as const;

function connection(input: Partial<RbdConnectionInput> = {}) {
  return validate(RbdConnectionSchema, { confPath: "/etc/ceph/ceph.conf", clientId: "volkit", keyringPath: "/etc/ceph/volkit.keyring", ...input }, "connection", "INVALID_CONFIG")._unsafeUnwrap();
}

/** A client on a fake runner; `rbd(...)`/`ceph(...)` build the full argv of a subcommand. */
function setup(input: Partial<RbdConnectionInput> = {}) {
  const conn = connection(input);
  const runner = new FakeRunner();
  const client = new RbdClient(runner, conn);
  const keyfile = input.key === undefined ? undefined : "/tmp/volkit-ceph.AbCdEf12/keyfile";
  const rbd = (...args: string[]): string[] => ["rbd", ...connectionArgs(conn, keyfile), ...args];
  const ceph = (...args: string[]): string[] => ["ceph", ...connectionArgs(conn, keyfile), ...args];
  if (keyfile !== undefined) {
    runner.on(["mktemp"], { stdout: "/tmp/volkit-ceph.AbCdEf12\n" }).on(["install"], {}).on(["dd"], {}).on(["rm"], {});
  }
  return { runner, client, rbd, ceph, ctx: backgroundContext("test", "rbd") };
}

/** Matches exactly this argv. */
const exactly = (argv: readonly string[]) => (a: readonly string[]) => a.length === argv.length && a.every((x, i) => x === argv[i]);

describe("RbdClient command lines", () => {
  it("passes config, client id, keyring and both timeouts (never the 300 s default) before the subcommand", async () => {
    const { runner, client, ctx } = setup();
    runner.on(() => true, replay("info-image"));
    const info = (await client.info(BASE, ctx))._unsafeUnwrap();
    expect(info.name).toBe("base");
    expect(runner.calls[0]?.argv).toEqual([
      "rbd", "--conf", "/etc/ceph/ceph.conf", "--id", "volkit", "--keyring", "/etc/ceph/volkit.keyring",
      "--client-mount-timeout", "10", "--rados-mon-op-timeout", "10", "info", "volumes/base", "--format", "json",
    ]);
    expect(runner.calls[0]?.env).toEqual({ LC_ALL: "C" });
    expect(runner.calls[0]?.timeoutMs).toBe(120_000);
    expect(runner.calls[0]?.signal).toBe(ctx.signal);
  });

  it("joins monitors for -m without reading any config file, names the cluster, sets the OSD op timeout when asked", async () => {
    const { runner, client, ctx } = setup({ confPath: undefined, clusterName: "backup", monitors: ["v2:10.0.0.1:3300", "[v2:10.0.0.2:3300,v1:10.0.0.2:6789]"], connectTimeoutSec: 3, osdOpTimeoutSec: 30 });
    runner.on(() => true, replay("ls"));
    expect((await client.listImages("volumes", ctx))._unsafeUnwrap()).toEqual(["base", "c1", "layout"]);
    expect(runner.calls[0]?.argv).toEqual([
      "rbd", "--cluster", "backup", "--conf", "/dev/null", "-m", "v2:10.0.0.1:3300,[v2:10.0.0.2:3300,v1:10.0.0.2:6789]", "--id", "volkit", "--keyring", "/etc/ceph/volkit.keyring",
      "--client-mount-timeout", "3", "--rados-mon-op-timeout", "3", "--rados-osd-op-timeout", "30", "ls", "volumes", "--format", "json",
    ]);
  });

  it("builds the subcommands the driver needs", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner.on(() => true, {});
    const steps = [
      [() => client.create({ ...BASE, namespace: "ns1" }, 1024 ** 3, ctx, { features: ["layering", "exclusive-lock"], dataPool: "ec-data", objectSizeBytes: 1 << 20 }),
        rbd("create", "--no-progress", "--size", "1073741824B", "--image-feature", "layering,exclusive-lock", "--data-pool", "ec-data", "--object-size", "1048576B", "volumes/ns1/base")],
      [() => client.resize(BASE, 2 * 1024 ** 3, ctx), rbd("resize", "--no-progress", "--size", "2147483648B", "volumes/base")],
      [() => client.resize(BASE, 1024 ** 3, ctx, { allowShrink: true }), rbd("resize", "--no-progress", "--size", "1073741824B", "--allow-shrink", "volumes/base")],
      [() => client.rename(BASE, "base2", ctx), rbd("rename", "volumes/base", "volumes/base2")],
      [() => client.snapCreate(S1, ctx), rbd("snap", "create", "--no-progress", "volumes/base@s1")],
      [() => client.snapProtect(S1, ctx), rbd("snap", "protect", "volumes/base@s1")],
      [() => client.clone(S1, { pool: "vms", image: "child" }, ctx), rbd("clone", "volumes/base@s1", "vms/child")],
      [() => client.flatten({ pool: "vms", image: "child" }, ctx), rbd("flatten", "--no-progress", "vms/child")],
      [() => client.snapRollback(S1, ctx), rbd("snap", "rollback", "--no-progress", "volumes/base@s1")],
      [() => client.snapUnprotect(S1, ctx), rbd("snap", "unprotect", "volumes/base@s1")],
      [() => client.snapRemove(S1, ctx), rbd("snap", "rm", "--no-progress", "volumes/base@s1")],
      [() => client.remove(BASE, ctx), rbd("rm", "--no-progress", "volumes/base")],
      [() => client.trashRemove("volumes", "101e4b2b4982", ctx, { force: true }), rbd("trash", "rm", "--no-progress", "--force", "volumes/101e4b2b4982")],
      [() => client.trashRestore("volumes", "101e4b2b4982", ctx, { name: "restored" }), rbd("trash", "restore", "--image", "restored", "volumes/101e4b2b4982")],
      [() => client.exportDiff({ ...BASE, snapshot: "b2" }, "/backup/b2.diff", ctx, { fromSnapshot: "b1" }), rbd("export-diff", "--no-progress", "--from-snap", "b1", "volumes/base@b2", "/backup/b2.diff")],
      [() => client.importDiff("/backup/b2.diff", { pool: "volumes", image: "restore" }, ctx), rbd("import-diff", "--no-progress", "/backup/b2.diff", "volumes/restore")],
      [() => client.setImageConfig(BASE, "rbd_qos_iops_limit", "100", ctx), rbd("config", "image", "set", "volumes/base", "rbd_qos_iops_limit", "100")],
    ] as const;
    for (const [step, argv] of steps) {
      runner.clearCalls();
      expect((await step()).isOk()).toBe(true);
      expect(runner.commands()).toEqual([argv]);
    }
  });

  it("gives data-sized commands no command timeout (only the operation's deadline) and metadata commands one", async () => {
    const { runner, client, ctx } = setup({ commandTimeoutMs: 5000 });
    runner.on(() => true, {});
    expect((await client.flatten(BASE, ctx)).isOk()).toBe(true);
    expect((await client.snapCreate(S1, ctx)).isOk()).toBe(true);
    expect(runner.calls.map((c) => c.timeoutMs)).toEqual([undefined, 5000]);
  });

  it("passes the operation's signal, so an abort kills the command", async () => {
    const { runner, client } = setup();
    runner.on(() => true, { delayMs: 5000 });
    const ac = new AbortController();
    const pending = client.flatten(BASE, createOperationContext({ operation: "flatten", source: "rbd", signal: ac.signal }));
    ac.abort();
    expect((await pending)._unsafeUnwrapErr().code).toBe("ABORTED");
  });
});

describe("RbdClient with a key (never on a command line)", () => {
  it("writes the key once to a 0600 file in a private directory through the runner's stdin, then passes --keyfile", async () => {
    const { runner, client, rbd, ctx } = setup({ keyringPath: undefined, key: KEY });
    runner.on(["rbd"], replay("ls"));
    await Promise.all([client.listImages("volumes", ctx), client.listImages("volumes", ctx)]);
    expect(runner.commands().slice(0, 3)).toEqual([
      ["mktemp", "-d", "-t", "volkit-ceph.XXXXXXXX"],
      ["install", "-m", "600", "/dev/null", "/tmp/volkit-ceph.AbCdEf12/keyfile"],
      ["dd", "of=/tmp/volkit-ceph.AbCdEf12/keyfile", "status=none"],
    ]);
    expect(runner.calls[2]?.stdin).toBe(`${KEY}\n`);
    expect(runner.commandsOf("rbd")).toEqual([rbd("ls", "volumes", "--format", "json"), rbd("ls", "volumes", "--format", "json")]);
    expect(runner.commandsOf("mktemp")).toHaveLength(1);
    for (const argv of runner.commands()) expect(argv.join(" ")).not.toContain(KEY);
    expect((await client.close(ctx)).isOk()).toBe(true);
    expect(runner.commands().at(-1)).toEqual(["rm", "-rf", "--", "/tmp/volkit-ceph.AbCdEf12"]);
  });

  it("creates the key file under keyfileDir when configured, and retries creation after a failure", async () => {
    const conn = connection({ keyringPath: undefined, key: KEY, keyfileDir: "/run/volkit" });
    const runner = new FakeRunner().once(["mktemp"], { exitCode: 1, stderr: "mktemp: failed to create directory" }).on(["mktemp"], { stdout: "/run/volkit/volkit-ceph.x\n" }).on(["install"], {}).on(["dd"], {}).on(["rbd"], replay("ls"));
    const client = new RbdClient(runner, conn);
    const ctx = backgroundContext();
    expect((await client.listImages("volumes", ctx))._unsafeUnwrapErr().code).toBe("COMMAND_FAILED");
    expect((await client.listImages("volumes", ctx))._unsafeUnwrap()).toEqual(["base", "c1", "layout"]);
    expect(runner.commandsOf("mktemp")).toEqual([
      ["mktemp", "-d", "-p", "/run/volkit", "volkit-ceph.XXXXXXXX"],
      ["mktemp", "-d", "-p", "/run/volkit", "volkit-ceph.XXXXXXXX"],
    ]);
    expect(runner.commandsOf("rbd")[0]).toContain("/run/volkit/volkit-ceph.x/keyfile");
  });

  it("keeps the key out of error messages and details even when a tool echoes it", async () => {
    const { runner, client, ctx } = setup({ keyringPath: undefined, key: KEY });
    runner.on(["rbd"], { exitCode: 13, stderr: `auth: bad key ${KEY}\nrbd: couldn't connect to the cluster!\nrbd: listing images failed: (13) Permission denied\n` });
    const e = (await client.listImages("volumes", ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("AUTH_FAILED");
    expect(JSON.stringify(e.toJSON())).not.toContain(KEY);
    expect(e.message).not.toContain(KEY);
  });

  it("names the key file, not the key, in qemu's rbd: filename", async () => {
    const { client, ctx } = setup({ confPath: undefined, monitors: ["v2:127.0.0.1:3300", "127.0.0.2:6789"], keyringPath: undefined, key: KEY });
    const name = (await client.qemuFilename({ ...BASE, snapshot: "s1" }, ctx))._unsafeUnwrap();
    expect(name).toBe("rbd:volumes/base@s1:id=volkit:mon_host=v2\\:127.0.0.1\\:3300;127.0.0.2\\:6789:keyfile=/tmp/volkit-ceph.AbCdEf12/keyfile:client_mount_timeout=10");
    expect(name).not.toContain(KEY);
  });
});

describe("RbdClient semantics on captured outputs", () => {
  it("reports a missing image as VOLUME_NOT_FOUND and findImage as undefined; a missing pool stays an error", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner.on(exactly(rbd("info", "volumes/missing", "--format", "json")), replay("info-missing"));
    runner.on(exactly(rbd("info", "nopool/x", "--format", "json")), replay("ls-missing-pool"));
    expect((await client.info({ pool: "volumes", image: "missing" }, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_NOT_FOUND");
    expect((await client.findImage({ pool: "volumes", image: "missing" }, ctx))._unsafeUnwrap()).toBeUndefined();
    expect((await client.findImage({ pool: "nopool", image: "x" }, ctx))._unsafeUnwrapErr().code).toBe("BACKEND_UNAVAILABLE");
  });

  it("makes removals idempotent: image, snapshot, trash entry, config key already gone", async () => {
    const { runner, client, ctx } = setup();
    runner.once(["rbd"], replay("rm-missing")).once(["rbd"], replay("snap-rm-missing")).once(["rbd"], replay("trash-rm-missing")).once(["rbd"], replay("config-remove-unset"));
    expect((await client.remove({ pool: "volumes", image: "missing" }, ctx)).isOk()).toBe(true);
    expect((await client.snapRemove({ ...BASE, snapshot: "missing" }, ctx)).isOk()).toBe(true);
    expect((await client.trashRemove("volumes", "0123456789ab", ctx)).isOk()).toBe(true);
    expect((await client.removeImageConfig(BASE, "rbd_qos_read_iops_limit", ctx)).isOk()).toBe(true);
  });

  it("refuses removals that would lose data or break clones", async () => {
    const { runner, client, ctx } = setup();
    runner.once(["rbd"], replay("rm-has-snapshots")).once(["rbd"], replay("rm-watched")).once(["rbd"], replay("snap-rm-protected")).once(["rbd"], replay("snap-unprotect-children"));
    expect((await client.remove(BASE, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect((await client.remove({ pool: "volumes", image: "watched" }, ctx))._unsafeUnwrapErr().message).toMatch(/still open or the client using it crashed/);
    expect((await client.snapRemove(S1, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
    expect((await client.snapUnprotect(S1, ctx))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
  });

  it("refuses to delete a trash entry before its deferment ends unless forced", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner.on(exactly(rbd("trash", "rm", "--no-progress", "volumes/10a9cbb605f0")), replay("trash-rm-deferred"));
    runner.on(exactly(rbd("trash", "rm", "--no-progress", "--force", "volumes/10a9cbb605f0")), replay("trash-rm-deferred-force"));
    expect((await client.trashRemove("volumes", "10a9cbb605f0", ctx))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    expect((await client.trashRemove("volumes", "10a9cbb605f0", ctx, { force: true })).isOk()).toBe(true);
  });

  it("treats protecting a protected snapshot and unprotecting an unprotected one as done (EBUSY/EINVAL from rbd)", async () => {
    const { runner, client, ctx } = setup();
    runner.once(["rbd"], replay("snap-protect-protected")).once(["rbd"], replay("snap-unprotect-unprotected"));
    expect((await client.snapProtect(S1, ctx)).isOk()).toBe(true);
    expect((await client.snapUnprotect({ ...BASE, snapshot: "s2" }, ctx)).isOk()).toBe(true);
  });

  it("re-checks after snap purge: exit 0 with a protected snapshot left is VOLUME_BUSY naming it", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner.on(exactly(rbd("snap", "purge", "--no-progress", "volumes/base")), replay("snap-purge-protected"));
    runner.once(exactly(rbd("snap", "ls", "volumes/base", "--format", "json")), replay("snap-ls-after-purge"));
    const e = (await client.snapPurge(BASE, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("VOLUME_BUSY");
    expect(e.message).toBe("volumes/base still has snapshots after purge: s1 (protected)");
    expect(e.details.snapshots).toEqual(["s1"]);
    runner.once(exactly(rbd("snap", "ls", "volumes/base", "--format", "json")), replay("snap-ls-empty"));
    expect((await client.snapPurge(BASE, ctx)).isOk()).toBe(true);
  });

  it("moves an image to the trash and returns the id naming it there", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner.on(exactly(rbd("info", "volumes/base", "--format", "json")), replay("info-image"));
    runner.on(exactly(rbd("trash", "mv", "volumes/base")), replay("trash-mv"));
    runner.on(exactly(rbd("trash", "mv", "--expires-at", "2030-01-02 03:04:05", "volumes/base")), replay("trash-mv"));
    const id = (await client.trashMove(BASE, ctx))._unsafeUnwrap();
    expect(id).toBe((JSON.parse(stdoutOf("info-image")) as { id: string }).id);
    runner.clearCalls();
    expect((await client.trashMove(BASE, ctx, { expiresAt: new Date("2030-01-02T03:04:05.678Z") })).isOk()).toBe(true);
    expect(runner.commands()[1]).toEqual(rbd("trash", "mv", "--expires-at", "2030-01-02 03:04:05", "volumes/base"));
  });

  it("sets the given QoS keys and clears exactly the image-level ones", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner.on(exactly(rbd("config", "image", "list", "volumes/c1", "--format", "json")), replay("config-image-list"));
    runner.on(() => true, {});
    const c1 = { pool: "volumes", image: "c1" };
    expect((await client.setQos(c1, { iopsLimit: 500, writeBpsLimit: 0, bpsBurst: 20 * 1024 * 1024 }, ctx)).isOk()).toBe(true);
    expect(runner.commands()).toEqual([
      rbd("config", "image", "set", "volumes/c1", "rbd_qos_iops_limit", "500"),
      rbd("config", "image", "set", "volumes/c1", "rbd_qos_write_bps_limit", "0"),
      rbd("config", "image", "set", "volumes/c1", "rbd_qos_bps_burst", "20971520"),
    ]);
    runner.clearCalls();
    expect((await client.clearQos(c1, ctx)).isOk()).toBe(true);
    expect(runner.commands().slice(1)).toEqual([
      rbd("config", "image", "remove", "volumes/c1", "rbd_qos_iops_limit"),
      rbd("config", "image", "remove", "volumes/c1", "rbd_qos_bps_limit"),
    ]);
  });

  it("reads capacity with ceph df, and classifies the ceph CLI's own error style", async () => {
    const { runner, client, ceph, ctx } = setup();
    runner.once(exactly(ceph("df", "--format", "json")), replay("ceph-df"));
    expect((await client.cephDf(ctx))._unsafeUnwrap().totalBytes).toBe(10 * 1024 ** 3);
    runner.once(["ceph"], replay("ceph-df-no-monitor"));
    const e = (await client.cephDf(ctx))._unsafeUnwrapErr();
    expect([e.code, e.transient]).toEqual(["BACKEND_UNAVAILABLE", true]);
  });

  it("lists children, trash, watchers, snapshots, usage and diffs", async () => {
    const { runner, client, rbd, ctx } = setup();
    runner
      .on(exactly(rbd("children", "--all", "volumes/base@s1", "--format", "json")), replay("children"))
      .on(exactly(rbd("trash", "ls", "-l", "volumes", "--format", "json")), replay("trash-ls"))
      .on(exactly(rbd("status", "volumes/watched", "--format", "json")), replay("status-watched"))
      .on(exactly(rbd("snap", "ls", "volumes/base", "--format", "json")), replay("snap-ls"))
      .on(exactly(rbd("du", "--pool", "volumes", "--format", "json")), replay("du-pool"))
      .on(exactly(rbd("du", "volumes/base", "--format", "json")), replay("du-image"))
      .on(exactly(rbd("diff", "--from-snap", "s1", "--whole-object", "volumes/base@s2", "--format", "json")), replay("diff-whole-object"))
      .on(exactly(rbd("ls", "-l", "volumes", "--format", "json")), replay("ls-long"))
      .on(exactly(rbd("device", "list", "--format", "json")), replay("device-list-empty"));
    expect((await client.children(S1, ctx, { all: true }))._unsafeUnwrap().map((c) => c.image)).toEqual(["c1"]);
    expect((await client.trashList("volumes", ctx))._unsafeUnwrap().map((t) => t.name)).toEqual(["base"]);
    expect((await client.status({ pool: "volumes", image: "watched" }, ctx))._unsafeUnwrap().watchers).toHaveLength(1);
    expect((await client.snapshots(BASE, ctx))._unsafeUnwrap().map((s) => s.name)).toEqual(["s1", "s2"]);
    expect((await client.diskUsage({ pool: "volumes" }, ctx))._unsafeUnwrap().totalUsedBytes).toBeGreaterThan(0);
    expect((await client.diskUsage(BASE, ctx))._unsafeUnwrap().images).toHaveLength(3);
    expect((await client.diff({ ...BASE, snapshot: "s2" }, ctx, { fromSnapshot: "s1", wholeObject: true }))._unsafeUnwrap()).toHaveLength(1);
    expect((await client.listImagesLong("volumes", ctx))._unsafeUnwrap()).toHaveLength(5);
    expect((await client.mappedDevices(ctx))._unsafeUnwrap()).toEqual([]);
  });
});

describe("RbdConnectionSchema", () => {
  const check = (input: Record<string, unknown>) => validate(RbdConnectionSchema, { clientId: "volkit", ...input }, "connection", "INVALID_CONFIG");

  it("accepts monitor addresses the CLIs read", () => {
    for (const m of ["10.0.0.1", "10.0.0.1:6789", "v2:10.0.0.1:3300", "v1:mon-a.example.org:6789", "[::1]:3300", "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"]) {
      expect(check({ monitors: [m] }).isOk(), m).toBe(true);
    }
  });

  it("rejects what could become options, lists or garbage, before any command runs", () => {
    for (const m of ["-m", "10.0.0.1:99999", "10.0.0.1,10.0.0.2", "v3:10.0.0.1:3300", "host name", "[10.0.0.1:3300]", ""]) {
      expect(check({ monitors: [m] })._unsafeUnwrapErr().code, m).toBe("INVALID_CONFIG");
    }
    expect(check({ clientId: "-admin" }).isErr()).toBe(true);
    expect(check({ clientId: "client.admin id" }).isErr()).toBe(true);
    expect(check({ confPath: "relative/ceph.conf" }).isErr()).toBe(true);
    expect(check({ connectTimeoutSec: 0 }).isErr()).toBe(true);
    expect(check({ connectTimeoutSec: 301 }).isErr()).toBe(true);
  });

  it("wants a key or a keyring, not both, and never echoes a bad key", () => {
    expect(check({ key: KEY, keyringPath: "/etc/ceph/k" })._unsafeUnwrapErr().message).toMatch(/either key or keyringPath/);
    const bad = check({ key: "not a key!" })._unsafeUnwrapErr();
    expect(bad.message).toMatch(/key: must be a base64 cephx key/);
    expect(bad.message).not.toContain("not a key!");
  });

  it("defaults the connect timeout to 10 s", () => {
    expect(check({})._unsafeUnwrap().connectTimeoutSec).toBe(10);
  });
});
