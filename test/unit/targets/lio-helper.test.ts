import { readFileSync } from "node:fs";
import { okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { redactArgv, type CommandRunner } from "../../../src/exec/runner.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { LioHelper, createLioHelper } from "../../../src/targets/lio/lio-helper.js";
import { TargetConfigSchema, type TargetConfig } from "../../../src/targets/target-helper.js";
import { FakeLio } from "./fake-lio.js";

const ctx = backgroundContext("test", "test");
const SAVE = "/etc/rtslib-fb-target/saveconfig.json";
const IQN = "iqn.2010-10.org.openstack:volume-1111";
const TPG = `/iscsi/${IQN}/tpg1`;
const DEV = "/dev/volkit-thick/volume-1111";
const CHAP = { username: "user-1111", password: "SecretPass1111" };
const INITIATOR = "iqn.2026-11.io.volkit:lab-initiator";
// The captured fixture (test/fixtures/lio/saveconfig-acl.json): volume-cap1 exported with an ACL, volume-cap2 without LUN.
const CAP1 = "iqn.2010-10.org.openstack:volume-cap1";
const CAP1_TPG = `/iscsi/${CAP1}/tpg1`;
const CAP1_DEV = "/dev/volkit-thick/volume-cap1";
const CAP1_CHAP = { username: "user-cap1", password: "CaptureSecret01" };
const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/lio/${name}`, import.meta.url), "utf8");

function helperOn(runner: CommandRunner, config: TargetConfig = {}): LioHelper {
  return new LioHelper(TargetConfigSchema.parse({ helper: "lio", portals: ["127.0.0.1:3260", "127.0.0.2:3260"], ...config }), runner);
}

describe("LioHelper.createExport", () => {
  it("sends one targetcli batch on stdin with every step, then verifies from the saved JSON", async () => {
    const lio = new FakeLio();
    const exp = (await helperOn(lio.runner).createExport({ volumeId: "1111", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(lio.runner.commands()).toEqual([["cat", "--", SAVE], ["targetcli"], ["cat", "--", SAVE]]);
    expect(lio.batches).toEqual([
      [
        `/backstores/block create name=volume-1111 dev=${DEV}`,
        `/iscsi create ${IQN}`,
        `${TPG} enable`,
        `${TPG} set attribute authentication=1 generate_node_acls=0`,
        `${TPG}/portals delete ip_address=0.0.0.0 ip_port=3260`,
        `${TPG}/portals create ip_address=127.0.0.1 ip_port=3260`,
        `${TPG}/portals create ip_address=127.0.0.2 ip_port=3260`,
        `${TPG}/luns create storage_object=/backstores/block/volume-1111 lun=0 add_mapped_luns=true`,
        `/ saveconfig savefile=${SAVE}`,
        "exit",
        "",
      ].join("\n"),
    ]);
    expect(exp).toEqual({ iqn: IQN, portals: ["127.0.0.1:3260", "127.0.0.2:3260"], lun: 0, providerLocation: `127.0.0.1:3260;127.0.0.2:3260,1 ${IQN} 0`, initiators: [] });
    expect(lio.runner.calls.every((c) => c.signal === ctx.signal)).toBe(true);
  });

  it("is idempotent: a second create reads the state and starts no targetcli", async () => {
    const lio = new FakeLio();
    const helper = helperOn(lio.runner);
    const first = (await helper.createExport({ volumeId: "1111", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    lio.runner.clearCalls();
    const second = (await helper.ensureExport({ volumeId: "1111", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(second).toEqual(first);
    expect(lio.runner.commands()).toEqual([["cat", "--", SAVE]]);
    expect(lio.state.targets).toHaveLength(1);
  });

  it("repairs only what is missing (a deleted portal) on ensureExport", async () => {
    const lio = new FakeLio();
    const helper = helperOn(lio.runner);
    (await helper.createExport({ volumeId: "1111", devicePath: DEV }, ctx))._unsafeUnwrap();
    const tpg = lio.state.targets[0]?.tpgs[0];
    tpg?.portals.pop();
    lio.files.set(SAVE, JSON.stringify(lio.state));
    (await helper.ensureExport({ volumeId: "1111", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(lio.batches.at(-1)).toBe(`${TPG}/portals create ip_address=127.0.0.2 ip_port=3260\n/ saveconfig savefile=${SAVE}\nexit\n`);
  });

  it("uses the configured save file and sets authentication=0 without CHAP", async () => {
    const lio = new FakeLio();
    (await helperOn(lio.runner, { lioSaveFile: "/var/lib/volkit/lio.json", portals: ["[::1]:3261"] }).createExport({ volumeId: "1111", devicePath: DEV }, ctx))._unsafeUnwrap();
    const batch = lio.batches[0] ?? "";
    expect(batch).toContain(`${TPG} set attribute authentication=0 generate_node_acls=0`);
    expect(batch).toContain(`${TPG}/portals create ip_address=::1 ip_port=3261`);
    expect(batch).toContain("/ saveconfig savefile=/var/lib/volkit/lio.json");
    expect(lio.files.has("/var/lib/volkit/lio.json")).toBe(true);
  });

  it("refuses to re-point an existing backstore at another device, without running targetcli", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    const e = (await helperOn(lio.runner).createExport({ volumeId: "cap1", devicePath: "/dev/other/volume-cap1" }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_STATE");
    expect(lio.batches).toEqual([]);
  });

  it("finds the captured export complete: no targetcli run", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-export.json"));
    const exp = (await helperOn(lio.runner).createExport({ volumeId: "cap1", devicePath: CAP1_DEV, chap: CAP1_CHAP }, ctx))._unsafeUnwrap();
    expect(exp.providerLocation).toBe(`127.0.0.1:3260;127.0.0.2:3260,1 ${CAP1} 0`);
    expect(lio.batches).toEqual([]);
  });

  it("completes the captured LUN-less, portal-less target", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    (await helperOn(lio.runner).createExport({ volumeId: "cap2", devicePath: "/dev/volkit-thick/volume-cap2" }, ctx))._unsafeUnwrap();
    const T2 = "/iscsi/iqn.2010-10.org.openstack:volume-cap2/tpg1";
    expect(lio.batches).toEqual([
      [
        `${T2}/portals create ip_address=127.0.0.1 ip_port=3260`,
        `${T2}/portals create ip_address=127.0.0.2 ip_port=3260`,
        `${T2}/luns create storage_object=/backstores/block/volume-cap2 lun=0 add_mapped_luns=true`,
        `/ saveconfig savefile=${SAVE}`,
        "exit",
        "",
      ].join("\n"),
    ]);
  });

  it("rolls back what it created and reports targetcli's error when a step fails", async () => {
    const lio = new FakeLio();
    lio.failLines = /^\/backstores\/block create/;
    const e = (await helperOn(lio.runner).createExport({ volumeId: "1111", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("EXPORT_FAILED");
    expect(e.message).toContain("block backstore volume-1111 is missing");
    expect(e.message).toContain("Device or resource busy");
    expect(lio.batches).toHaveLength(2);
    expect(lio.batches[1]).toBe(`/iscsi delete wwn=${IQN}\n/ saveconfig savefile=${SAVE}\nexit\n`);
    expect(lio.state.targets).toEqual([]);
    expect(lio.state.storage_objects).toEqual([]);
  });

  it("keeps a backstore that existed before when rolling back", async () => {
    const lio = new FakeLio();
    lio.state.storage_objects.push({ name: "volume-1111", plugin: "block", dev: DEV, wwn: "x" });
    lio.files.set(SAVE, JSON.stringify(lio.state));
    lio.failLines = /luns create/;
    (await helperOn(lio.runner).createExport({ volumeId: "1111", devicePath: DEV }, ctx))._unsafeUnwrapErr();
    expect(lio.batches[1]).not.toContain("/backstores/block delete");
    expect(lio.state.storage_objects).toHaveLength(1);
  });

  it("updates the CHAP secret of existing ACLs when the export's CHAP changes", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    (await helperOn(lio.runner).createExport({ volumeId: "cap1", devicePath: CAP1_DEV, chap: { username: "user-cap1", password: "RotatedPass222" } }, ctx))._unsafeUnwrap();
    expect(lio.batches[0]).toBe(`${CAP1_TPG}/acls/${INITIATOR} set auth userid=user-cap1 password=RotatedPass222\n/ saveconfig savefile=${SAVE}\nexit\n`);
  });
});

describe("LioHelper ACLs", () => {
  it("allowInitiator creates the ACL, maps LUN 0 and sets CHAP; returns 0; is idempotent", async () => {
    const lio = new FakeLio();
    const helper = helperOn(lio.runner);
    (await helper.createExport({ volumeId: "1111", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    expect((await helper.allowInitiator("1111", INITIATOR, CHAP, ctx))._unsafeUnwrap()).toBe(0);
    expect(lio.batches[1]).toBe(
      [
        `${TPG}/acls create wwn=${INITIATOR} add_mapped_luns=false`,
        `${TPG}/acls/${INITIATOR} create mapped_lun=0 tpg_lun_or_backstore=0`,
        `${TPG}/acls/${INITIATOR} set auth userid=user-1111 password=SecretPass1111`,
        `/ saveconfig savefile=${SAVE}`,
        "exit",
        "",
      ].join("\n"),
    );
    lio.runner.clearCalls();
    expect((await helper.allowInitiator("1111", INITIATOR, CHAP, ctx))._unsafeUnwrap()).toBe(0);
    expect(lio.runner.commands()).toEqual([["cat", "--", SAVE]]);
  });

  it("lower-cases the initiator IQN like LIO does", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    expect((await helperOn(lio.runner).allowInitiator("cap1", "iqn.2026-11.io.volkit:LAB-Initiator", CAP1_CHAP, ctx))._unsafeUnwrap()).toBe(0);
    expect(lio.batches).toEqual([]);
  });

  it("allowInitiator needs an export, and CHAP when the target requires it", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    const h = helperOn(lio.runner);
    expect((await h.allowInitiator("cap2", INITIATOR, undefined, ctx))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    expect((await h.allowInitiator("cap1", "iqn.2000-01.com.example:other", undefined, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(lio.batches).toEqual([]);
  });

  it("denyInitiator deletes one ACL, or all of them, and nothing when none match", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    const h = helperOn(lio.runner);
    (await h.denyInitiator("cap1", "iqn.2000-01.com.example:absent", ctx))._unsafeUnwrap();
    expect(lio.batches).toEqual([]);
    (await h.denyInitiator("cap1", undefined, ctx))._unsafeUnwrap();
    expect(lio.batches).toEqual([`${CAP1_TPG}/acls delete wwn=${INITIATOR}\n/ saveconfig savefile=${SAVE}\nexit\n`]);
    expect(lio.state.targets.find((t) => t.wwn === CAP1)?.tpgs[0]?.node_acls).toEqual([]);
  });
});

describe("LioHelper.removeExport / getExport", () => {
  it("deletes target and backstore in one batch; succeeds when nothing exists", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    const h = helperOn(lio.runner);
    (await h.removeExport("cap1", ctx))._unsafeUnwrap();
    expect(lio.batches).toEqual([`/iscsi delete wwn=${CAP1}\n/backstores/block delete name=volume-cap1\n/ saveconfig savefile=${SAVE}\nexit\n`]);
    (await h.removeExport("cap1", ctx))._unsafeUnwrap();
    expect(lio.batches).toHaveLength(1);
    expect((await h.getExport("cap1", ctx))._unsafeUnwrap()).toBeUndefined();
  });

  it("getExport reports the live portals (configured ones first, in config order) and LUN 0; a target without the LUN is no export", async () => {
    const lio = new FakeLio();
    lio.load(fixture("saveconfig-acl.json"));
    const h = helperOn(lio.runner, { portals: ["10.9.9.9:3260", "127.0.0.1:3260"] });
    // the captured TPG lists 127.0.0.2 before 127.0.0.1 (configfs order)
    expect((await h.getExport("cap1", ctx))._unsafeUnwrap()).toEqual({
      iqn: CAP1,
      portals: ["127.0.0.1:3260", "127.0.0.2:3260"],
      lun: 0,
      providerLocation: `127.0.0.1:3260;127.0.0.2:3260,1 ${CAP1} 0`,
      initiators: ["iqn.2026-11.io.volkit:lab-initiator"], // the ACLs of the captured TPG
    });
    expect((await h.getExport("cap2", ctx))._unsafeUnwrap()).toBeUndefined();
    expect((await h.getExport("9999", ctx))._unsafeUnwrap()).toBeUndefined();
    expect(lio.runner.commandsOf("targetcli")).toEqual([]);
  });

  it("a host without a save file has no exports", async () => {
    const lio = new FakeLio();
    expect((await helperOn(lio.runner).getExport("1111", ctx))._unsafeUnwrap()).toBeUndefined();
  });

  it("refreshSize needs no command (the kernel reads the block device size live)", async () => {
    const runner = new FakeRunner();
    (await helperOn(runner).refreshSize({ volumeId: "1111", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(runner.calls).toEqual([]);
  });
});

describe("LioHelper validation, secrets, locking, errors", () => {
  it.each([
    ["volume id with '_'", { volumeId: "a_b", devicePath: DEV }],
    ["volume id with a slash", { volumeId: "a/b", devicePath: DEV }],
    ["device path with a space", { volumeId: "1111", devicePath: "/dev/a b" }],
    ["device path with '..'", { volumeId: "1111", devicePath: "/dev/../etc/passwd" }],
    ["device path with a newline (a second targetcli command)", { volumeId: "1111", devicePath: "/dev/sda\n/iscsi delete wwn=x" }],
    ["CHAP secret with a space", { volumeId: "1111", devicePath: DEV, chap: { username: "u", password: "two words here" } }],
  ])("rejects a %s before any command", async (_what, request) => {
    const runner = new FakeRunner();
    expect((await helperOn(runner).createExport(request, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
  });

  it("rejects bad initiator IQNs and CHAP in allowInitiator before any command", async () => {
    const runner = new FakeRunner();
    const h = helperOn(runner);
    expect((await h.allowInitiator("1111", "iqn.x", CHAP, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await h.allowInitiator("1111", INITIATOR, { username: "u", password: "short" }, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await h.denyInitiator("1111", "nope", ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
  });

  it("keeps CHAP secrets out of argv, redactArgv output and error messages", async () => {
    const lio = new FakeLio();
    const h = helperOn(lio.runner);
    (await h.createExport({ volumeId: "1111", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    (await h.allowInitiator("1111", INITIATOR, CHAP, ctx))._unsafeUnwrap();
    const argvs = JSON.stringify(lio.runner.calls.map((c) => redactArgv(c.argv, c.secrets)));
    expect(argvs).not.toContain(CHAP.password);
    const withSecret = lio.runner.calls.filter((c) => String(c.stdin ?? "").includes(CHAP.password));
    expect(withSecret.length).toBeGreaterThan(0);
    expect(withSecret.every((c) => c.secrets?.includes(CHAP.password))).toBe(true);
    lio.failLines = /set auth/;
    const other = "iqn.2000-01.com.example:other";
    const e = (await h.allowInitiator("1111", other, { username: "u2", password: "OtherSecret999" }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("EXPORT_FAILED");
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain("OtherSecret999");
  });

  it("parse errors of the save file never quote it (it holds every ACL's secret)", async () => {
    const runner = new FakeRunner().on(["cat"], { stdout: '{"targets": "SecretPass1111"' });
    const e = (await helperOn(runner).getExport("1111", ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("PARSE_ERROR");
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain("SecretPass1111");
  });

  it("serializes all LIO calls: two concurrent creates never run targetcli at the same time", async () => {
    const lio = new FakeLio();
    let active = 0;
    let peak = 0;
    const runner: CommandRunner = {
      description: "counting",
      run: (spec) => {
        active++;
        peak = Math.max(peak, active);
        return lio.runner.run(spec).andThen((o) => okAsync(o)).andTee(() => active--).orTee(() => active--);
      },
    };
    const h = helperOn(runner);
    const rs = await Promise.all(["1111", "2222", "3333"].map((id) => h.createExport({ volumeId: id, devicePath: `/dev/vg/volume-${id}` }, ctx)));
    expect(rs.every((r) => r.isOk())).toBe(true);
    expect(peak).toBe(1);
    expect(lio.state.targets).toHaveLength(3);
  });

  it("maps targetcli's D-Bus failure to BACKEND_UNAVAILABLE", async () => {
    const runner = new FakeRunner()
      .on(["test"], {})
      .on(["targetcli"], { exitCode: 255, stderr: "g-io-error-quark: Could not connect: No such file or directory (39)\n" });
    const e = (await helperOn(runner).check(ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.message).toMatch(/dbus-daemon --system/);
    expect(runner.commands()).toEqual([["targetcli", "ls", "/", "1"]]);
  });

  // Issue 14, defect 8: on a freshly booted host the fabric directory appears only when targetcli
  // (rtslib) first starts, so it is looked for after targetcli ran, never before.
  it("check passes on a fresh host: the iSCSI fabric appears when targetcli starts", async () => {
    const fabric = { present: false };
    const runner = new FakeRunner()
      .on(["test", "-d", "/sys/kernel/config/target"], {})
      .on(["test", "-d", "/sys/kernel/config/target/iscsi"], () => ({ exitCode: fabric.present ? 0 : 1 }))
      .on(["targetcli"], () => {
        fabric.present = true; // rtslib's mkdir of the fabric
        return { stdout: "o- / ...\n" };
      });
    (await helperOn(runner).check(ctx))._unsafeUnwrap();
    expect(runner.commands()).toEqual([["targetcli", "ls", "/", "1"], ["test", "-d", "/sys/kernel/config/target/iscsi"]]);
  });

  it("check names the fix for what is really missing: configfs and the target core, or the fabric module", async () => {
    const noCore = new FakeRunner().on(["targetcli"], { exitCode: 1, stderr: "No such file or directory: '/sys/kernel/config/target'\n" }).on(["test"], { exitCode: 1 });
    const core = (await helperOn(noCore).check(ctx))._unsafeUnwrapErr();
    expect(core.code).toBe("BACKEND_UNAVAILABLE");
    expect(core.message).toMatch(/mount -t configfs configfs \/sys\/kernel\/config.*modprobe target_core_mod/);
    const noFabric = new FakeRunner().on(["targetcli"], {}).on(["test", "-d", "/sys/kernel/config/target/iscsi"], { exitCode: 1 }).on(["test"], {});
    const fabric = (await helperOn(noFabric).check(ctx))._unsafeUnwrapErr();
    expect(fabric.code).toBe("BACKEND_UNAVAILABLE");
    expect(fabric.message).toMatch(/modprobe iscsi_target_mod/);
    expect(fabric.message).not.toMatch(/configfs configfs/);
  });
});

describe("createLioHelper", () => {
  it("validates portals (IP only) and the save file path", () => {
    const r = new FakeRunner();
    expect(createLioHelper({ helper: "lio", portals: ["storage.example.com:3260"] }, r)._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createLioHelper({ helper: "lio", lioSaveFile: "/etc/target/my config.json" }, r)._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createLioHelper({ helper: "lio", portals: ["10.0.0.1", "[fd00::1]:3260"] }, r)._unsafeUnwrap().kind).toBe("lio");
  });
});
