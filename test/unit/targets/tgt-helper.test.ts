import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../../src/core/context.js";
import { redactArgv } from "../../../src/exec/runner.js";
import { FakeRunner } from "../../../src/testing/fake-runner.js";
import { TargetConfigSchema, type TargetConfig } from "../../../src/targets/target-helper.js";
import { TgtHelper, createTgtHelper } from "../../../src/targets/tgt/tgt-helper.js";
import { FakeTgt } from "./fake-tgt.js";

const ctx = backgroundContext("test", "test");
const IQN = "iqn.2010-10.org.openstack:volume-aaaa";
const DEV = "/var/lib/volkit/devs/vol-a.img";
const FILE = "/var/lib/volkit/tgt-volumes/volume-aaaa";
const TMP = "/var/lib/volkit/tgt-volumes/.volume-aaaa.tmp";
const CHAP = { username: "user-aaaa", password: "SecretAAAA1234" };
const SHOW = ["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target"];
const FILE_TEXT = `<target ${IQN}>\n  backing-store ${DEV}\n  driver iscsi\n  incominguser user-aaaa SecretAAAA1234\n  write-cache on\n</target>\n`;
const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/tgt/${name}`, import.meta.url), "utf8");

function helperOn(runner: FakeRunner, config: TargetConfig = {}, controlPort?: number): TgtHelper {
  return new TgtHelper(TargetConfigSchema.parse({ portals: ["10.0.0.5:3260", "10.0.1.5"], ...config }), runner, controlPort === undefined ? {} : { controlPort });
}

function everything(sim: FakeTgt): string {
  return JSON.stringify(sim.calls.map((c) => redactArgv(c.argv, c.secrets)));
}

describe("TgtHelper.createExport", () => {
  it("runs exactly: show, read file, accounts, atomic 0600 write, tgt-admin --update, verify", async () => {
    const sim = new FakeTgt();
    const exp = (await helperOn(sim.runner).createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(sim.commands()).toEqual([
      SHOW,
      ["cat", "--", FILE],
      ["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "account"],
      ["install", "-D", "-m", "0600", "/dev/null", TMP],
      ["dd", `of=${TMP}`, "status=none"],
      ["mv", "-f", "--", TMP, FILE],
      ["tgt-admin", "--conf", FILE, "--update", IQN],
      SHOW,
    ]);
    expect(sim.calls[4]?.stdin).toBe(FILE_TEXT);
    expect(sim.files.get(FILE)).toEqual({ content: FILE_TEXT, mode: "0600" });
    expect(exp).toEqual({
      iqn: IQN,
      portals: ["10.0.0.5:3260", "10.0.1.5:3260"],
      lun: 1,
      tid: 1,
      providerLocation: `10.0.0.5:3260;10.0.1.5:3260,1 ${IQN} 1`,
      initiators: [],
    });
  });

  it("passes ctx.signal and the control port to every command", async () => {
    const sim = new FakeTgt();
    (await helperOn(sim.runner, {}, 4717).createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(sim.calls.every((c) => c.signal === ctx.signal)).toBe(true);
    for (const argv of sim.commands().filter((a) => a[0] === "tgtadm" || a[0] === "tgt-admin")) expect(argv.slice(1, 3)).toEqual(["-C", "4717"]);
  });

  it("is idempotent: a second create runs only the two reads and returns the same export", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    const first = (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    sim.runner.clearCalls();
    const second = (await helper.ensureExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(second).toEqual(first);
    expect(sim.commands()).toEqual([SHOW, ["cat", "--", FILE]]);
    expect(sim.targets).toHaveLength(1);
  });

  it("only rewrites the file when tgtd is right but the file was lost", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    sim.files.clear();
    sim.runner.clearCalls();
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(sim.commands().map((a) => a[0])).toEqual(["tgtadm", "cat", "install", "dd", "mv"]);
  });

  it("re-adds LUN 1 when tgt-admin silently skipped the backing store", async () => {
    const sim = new FakeTgt();
    sim.skipBackingStores.add(DEV);
    const exp = (await helperOn(sim.runner).createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    expect(exp.lun).toBe(1);
    expect(sim.commands().slice(-3)).toEqual([
      SHOW,
      ["tgtadm", "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", DEV],
      SHOW,
    ]);
    expect(sim.target(IQN)?.lun1).toBe(DEV);
  });

  it("re-adds LUN 1 with the write cache off when configured so", async () => {
    const sim = new FakeTgt();
    sim.skipBackingStores.add(DEV);
    (await helperOn(sim.runner, { writeCache: false }).createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(sim.commands()).toContainEqual([
      "tgtadm", "--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1",
      "--params", "mode_page=8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0",
    ]);
    expect(sim.files.get(FILE)?.content).toContain("write-cache off");
  });

  it("rolls back (file removed, nothing left in tgtd) when tgt-admin --update fails", async () => {
    const sim = new FakeTgt();
    sim.failNextUpdate = {
      exitCode: 22,
      stdout: `Command:\n\ttgtadm -C 0 --lld iscsi --mode account --op new --user=user-aaaa --password=${CHAP.password}\nexited with code: 22.\n`,
      stderr: "tgtadm: this account already exists\n",
    };
    const e = (await helperOn(sim.runner).createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(sim.files.has(FILE)).toBe(false);
    expect(sim.files.size).toBe(0);
    expect(sim.targets).toEqual([]);
    expect(sim.commands().slice(-4)).toEqual([
      ["tgt-admin", "--delete", IQN, "--force"],
      SHOW,
      ["tgtadm", "--lld", "iscsi", "--mode", "account", "--op", "delete", "--user", "user-aaaa"],
      ["rm", "-f", "--", FILE],
    ]);
    expect(JSON.stringify(e)).not.toContain(CHAP.password);
    expect(e.message).not.toContain(CHAP.password);
  });

  it("rolls back when verification fails (LUN 1 cannot be re-added)", async () => {
    const sim = new FakeTgt();
    sim.skipBackingStores.add(DEV);
    sim.runner.once((a) => a.includes("logicalunit") && a.includes("new"), { exitCode: 22, stderr: "tgtadm: invalid request\n" });
    const e = (await helperOn(sim.runner).createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("COMMAND_FAILED");
    expect(sim.targets).toEqual([]);
    expect(sim.files.size).toBe(0);
  });

  it("puts a changed CHAP secret into tgtd (tgt-admin alone would keep the old password) without opening the target", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    sim.runner.clearCalls();
    const changed = { username: "user-aaaa", password: "NewSecret56789" };
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: changed }, ctx))._unsafeUnwrap();
    const cmds = sim.commands();
    const unbind = cmds.findIndex((a) => a.includes("unbind"));
    const del = cmds.findIndex((a) => a.includes("account") && a.includes("delete"));
    expect(cmds[unbind]).toEqual(["tgtadm", "--lld", "iscsi", "--op", "unbind", "--mode", "target", "--tid", "1", "--initiator-address", "ALL"]);
    expect(unbind).toBeLessThan(del);
    expect(sim.accounts.get("user-aaaa")).toBe("NewSecret56789");
    expect(sim.target(IQN)?.tid).toBe(1);
    expect(sim.target(IQN)?.acl).toEqual(["ALL"]);
  });

  it("refuses to change a target that has sessions (VOLUME_BUSY), changing nothing", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    sim.target(IQN)?.sessions.push("iqn.1993-08.org.debian:01:host");
    sim.runner.clearCalls();
    const e = (await helper.createExport({ volumeId: "aaaa", devicePath: "/dev/vg/other", chap: CHAP }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("VOLUME_BUSY");
    expect(e.message).toContain("1 session(s)");
    expect(sim.commands()).toEqual([SHOW, ["cat", "--", FILE]]);
  });

  it("rejects a CHAP user that another target already uses (tgt accounts are global)", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    sim.runner.clearCalls();
    const e = (await helper.createExport({ volumeId: "bbbb", devicePath: "/dev/vg/b", chap: CHAP }, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(sim.targets).toHaveLength(1);
    // nothing changed, and above all the other target keeps its account (deleting it would open it)
    expect(sim.commands()).toEqual([SHOW, ["cat", "--", "/var/lib/volkit/tgt-volumes/volume-bbbb"]]);
    expect(sim.target(IQN)?.accounts).toEqual(["user-aaaa"]);
  });

  it("serializes concurrent creates so tgt-admin never picks the same tid twice", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    const results = await Promise.all(["a1", "a2", "a3"].map((id) => helper.createExport({ volumeId: id, devicePath: `/dev/vg/volume-${id}` }, ctx)));
    expect(results.map((r) => r._unsafeUnwrap().tid)).toEqual([1, 2, 3]);
  });
});

describe("TgtHelper validation and secrets", () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ["volume id with a slash", { volumeId: "../etc", devicePath: DEV }],
    ["volume id starting with '-'", { volumeId: "-rf", devicePath: DEV }],
    ["relative device path", { volumeId: "aaaa", devicePath: "dev/sda" }],
    ["device path with '..'", { volumeId: "aaaa", devicePath: "/dev/../etc/shadow" }],
    ["device path with a space", { volumeId: "aaaa", devicePath: "/dev/my disk" }],
    ["device path with a newline", { volumeId: "aaaa", devicePath: "/dev/sda\n</target>" }],
    ["device path with '#'", { volumeId: "aaaa", devicePath: "/dev/sda#x" }],
    ["short CHAP secret", { volumeId: "aaaa", devicePath: DEV, chap: { username: "u", password: "short" } }],
    ["CHAP secret with a space", { volumeId: "aaaa", devicePath: DEV, chap: { username: "u", password: "has a space 123" } }],
  ];
  it.each(bad)("rejects a %s before any command", async (_what, request) => {
    const runner = new FakeRunner();
    const e = (await helperOn(runner).createExport(request as never, ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
  });

  it("rejects a bad initiator IQN and a bad volume id in every operation before any command", async () => {
    const runner = new FakeRunner();
    const h = helperOn(runner);
    expect((await h.allowInitiator("aaaa", "not an iqn", undefined, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await h.denyInitiator("aaaa", "iqn.bad", ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await h.removeExport("a b", ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await h.getExport("", ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect((await h.refreshSize({ volumeId: "aaaa", devicePath: "x" }, ctx))._unsafeUnwrapErr().code).toBe("INVALID_ARGUMENT");
    expect(runner.calls).toEqual([]);
  });

  it("never puts the CHAP secret in argv (it travels on stdin) nor in redactArgv output or errors", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: { username: "user-aaaa", password: "Rotated0987654" } }, ctx))._unsafeUnwrap();
    expect(JSON.stringify(sim.commands())).not.toContain(CHAP.password);
    expect(everything(sim)).not.toContain("Rotated0987654");
    for (const c of sim.calls.filter((x) => typeof x.stdin === "string" && x.stdin.includes("incominguser"))) {
      expect(c.secrets?.length).toBe(1);
    }
    sim.runner.once(["dd"], { exitCode: 1, stderr: `dd: error writing: incominguser user-aaaa ${CHAP.password}` });
    sim.files.clear();
    const e = (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrapErr();
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain(CHAP.password);
  });
});

describe("TgtHelper.removeExport", () => {
  it("deletes the target (force), its now-unused account, then the file", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV, chap: CHAP }, ctx))._unsafeUnwrap();
    sim.runner.clearCalls();
    (await helper.removeExport("aaaa", ctx))._unsafeUnwrap();
    expect(sim.commands()).toEqual([
      SHOW,
      ["tgt-admin", "--delete", IQN, "--force"],
      SHOW,
      ["tgtadm", "--lld", "iscsi", "--mode", "account", "--op", "delete", "--user", "user-aaaa"],
      ["rm", "-f", "--", FILE],
    ]);
    expect(sim.targets).toEqual([]);
    expect(sim.accounts.size).toBe(0);
    expect(sim.files.size).toBe(0);
  });

  it("succeeds when there is nothing to remove", async () => {
    const sim = new FakeTgt();
    (await helperOn(sim.runner).removeExport("gone", ctx))._unsafeUnwrap();
    expect(sim.commands()).toEqual([SHOW, ["rm", "-f", "--", "/var/lib/volkit/tgt-volumes/volume-gone"]]);
  });

  it("fails with EXPORT_FAILED if the target survives tgt-admin --delete", async () => {
    const runner = new FakeRunner().on(["tgtadm"], { stdout: fixture("show-target-chap.txt") }).on(["tgt-admin"], {});
    const e = (await helperOn(runner).removeExport("aaaa", ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("EXPORT_FAILED");
  });
});

describe("TgtHelper queries and no-ops", () => {
  it("getExport parses the real show output; a target without LUN 1 is no export", async () => {
    const runner = new FakeRunner().on(["tgtadm"], { stdout: fixture("show-target-multi.txt") });
    const h = helperOn(runner);
    expect((await h.getExport("bbbb", ctx))._unsafeUnwrap()).toMatchObject({ iqn: "iqn.2010-10.org.openstack:volume-bbbb", tid: 2, lun: 1, initiators: [] });
    // The initiators with a live session (I_T nexus) are who uses the export: tgt has no ACLs.
    expect((await h.getExport("aaaa", ctx))._unsafeUnwrap()?.initiators).toEqual(["iqn.2008-11.org.linux-kvm"]);
    expect((await h.getExport("cccc", ctx))._unsafeUnwrap()).toBeUndefined();
    expect((await h.getExport("zzzz", ctx))._unsafeUnwrap()).toBeUndefined();
  });

  it("allowInitiator returns LUN 1 and denyInitiator succeeds, both without commands", async () => {
    const runner = new FakeRunner();
    const h = helperOn(runner);
    expect((await h.allowInitiator("aaaa", "iqn.1993-08.org.debian:01:host", CHAP, ctx))._unsafeUnwrap()).toBe(1);
    (await h.denyInitiator("aaaa", undefined, ctx))._unsafeUnwrap();
    expect(runner.calls).toEqual([]);
  });

  it("check maps an unreachable tgtd to BACKEND_UNAVAILABLE", async () => {
    const runner = new FakeRunner().on(["tgtadm"], { exitCode: 107, stderr: "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected\n" });
    const e = (await helperOn(runner).check(ctx))._unsafeUnwrapErr();
    expect(e.code).toBe("BACKEND_UNAVAILABLE");
    expect(e.transient).toBe(true);
    const ok = new FakeRunner().on(["tgtadm"], { stdout: fixture("show-sys.txt") });
    (await helperOn(ok).check(ctx))._unsafeUnwrap();
  });
});

describe("TgtHelper.refreshSize", () => {
  it("re-creates LUN 1 in place (sessions and tid stay)", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    sim.target(IQN)?.sessions.push("iqn.1993-08.org.debian:01:host");
    sim.runner.clearCalls();
    (await helper.refreshSize({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(sim.commands()).toEqual([
      SHOW,
      ["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "1"],
      ["tgtadm", "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", DEV],
    ]);
    expect(sim.target(IQN)?.sessions).toHaveLength(1);
  });

  it("retries while tgt says the LUN is still active", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    sim.runner.once((a) => a.includes("logicalunit") && a.includes("delete"), { exitCode: 22, stderr: "tgtadm: this logical unit is still active\n" });
    (await helper.refreshSize({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(sim.commands().filter((a) => a.includes("logicalunit") && a.includes("delete"))).toHaveLength(2);
  });

  it("does nothing for a volume that is not exported, and refuses a different device", async () => {
    const sim = new FakeTgt();
    const helper = helperOn(sim.runner);
    (await helper.refreshSize({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect(sim.commands()).toEqual([SHOW]);
    (await helper.createExport({ volumeId: "aaaa", devicePath: DEV }, ctx))._unsafeUnwrap();
    expect((await helper.refreshSize({ volumeId: "aaaa", devicePath: "/dev/vg/other" }, ctx))._unsafeUnwrapErr().code).toBe("INVALID_STATE");
  });
});

describe("createTgtHelper", () => {
  it("validates config and options", () => {
    expect(createTgtHelper({ portals: [] }, new FakeRunner())._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createTgtHelper({}, new FakeRunner(), { controlPort: 40000 })._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect(createTgtHelper({}, new FakeRunner(), { controlPort: 4717 })._unsafeUnwrap().kind).toBe("tgt");
  });
});
