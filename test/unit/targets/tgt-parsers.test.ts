import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { classifyTgtadmFailure, parseTgtAccounts, parseTgtSystem, parseTgtTargets } from "../../../src/targets/tgt/tgt-parsers.js";

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/tgt/${name}`, import.meta.url), "utf8");

describe("parseTgtTargets (real tgt 1.0.85 output)", () => {
  it("parses empty output as no targets", () => {
    expect(parseTgtTargets(fixture("show-target-empty.txt"))._unsafeUnwrap()).toEqual([]);
  });

  it("parses one CHAP target with its controller LUN 0 and volume LUN 1", () => {
    const [t, ...rest] = parseTgtTargets(fixture("show-target-chap.txt"))._unsafeUnwrap();
    expect(rest).toEqual([]);
    expect(t).toMatchObject({ tid: 1, iqn: "iqn.2010-10.org.openstack:volume-aaaa", driver: "iscsi", state: "ready", sessions: [] });
    expect(t?.luns).toEqual([
      { lun: 0, type: "controller", sizeMb: 0, blockSize: 1, online: true, readonly: false, backingStoreType: "null", backingStorePath: undefined },
      { lun: 1, type: "disk", sizeMb: 67, blockSize: 512, online: true, readonly: false, backingStoreType: "rdwr", backingStorePath: "/var/lib/volkit/devs/vol-a.img" },
    ]);
    expect(t?.accounts).toEqual([{ user: "user-aaaa", outgoing: false }]);
    expect(t?.acl).toEqual(["ALL"]);
  });

  it("parses sessions, targets without CHAP, and targets missing LUN 1", () => {
    const targets = parseTgtTargets(fixture("show-target-multi.txt"))._unsafeUnwrap();
    expect(targets.map((t) => [t.tid, t.iqn.split(":")[1]])).toEqual([
      [1, "volume-aaaa"],
      [2, "volume-bbbb"],
      [3, "volume-cccc"],
      [4, "volume-dddd"],
    ]);
    const [a, b, c, d] = targets;
    expect(a?.sessions).toEqual([{ nexus: 1, initiator: "iqn.2008-11.org.linux-kvm", connections: [{ cid: 0, address: "127.0.0.1" }] }]);
    expect(b?.accounts).toEqual([]);
    expect(b?.luns.find((l) => l.lun === 1)?.sizeMb).toBe(134);
    expect(c?.luns.map((l) => l.lun)).toEqual([0]);
    expect(c?.accounts).toEqual([{ user: "user-cccc", outgoing: false }]);
    expect(d?.luns.map((l) => l.lun)).toEqual([0]);
    expect(targets.every((t) => t.acl.join() === "ALL")).toBe(true);
  });

  it("recognizes outgoing accounts and initiator ACLs", () => {
    const text = [
      "Target 7: iqn.2001-04.com.example:disk",
      "    System information:",
      "        Driver: iscsi",
      "        State: ready",
      "    I_T nexus information:",
      "    LUN information:",
      "    Account information:",
      "        in-user",
      "        out-user (outgoing)",
      "    ACL information:",
      "        192.168.0.0/24",
      "        iqn.1993-08.org.debian:01:abc",
      "",
    ].join("\n");
    const [t] = parseTgtTargets(text)._unsafeUnwrap();
    expect(t?.accounts).toEqual([{ user: "in-user", outgoing: false }, { user: "out-user", outgoing: true }]);
    expect(t?.acl).toEqual(["192.168.0.0/24", "iqn.1993-08.org.debian:01:abc"]);
  });

  it("rejects text that is not tgtadm output", () => {
    const r = parseTgtTargets("tgtadm: invalid request\n");
    expect(r._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseTgtTargets("    LUN information:\n")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });
});

describe("parseTgtAccounts / parseTgtSystem", () => {
  it("lists accounts", () => {
    expect(parseTgtAccounts(fixture("show-account.txt"))._unsafeUnwrap()).toEqual(["user-cccc", "user-aaaa"]);
    expect(parseTgtAccounts("Account list:\n")._unsafeUnwrap()).toEqual([]);
  });

  it("reads daemon and LLD state", () => {
    expect(parseTgtSystem(fixture("show-sys.txt"))._unsafeUnwrap()).toEqual({ state: "ready", llds: { iscsi: "ready", iser: "error" } });
    expect(parseTgtSystem("")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });
});

describe("classifyTgtadmFailure (real messages)", () => {
  const rows = fixture("tgtadm-errors.tsv").trim().split("\n").map((l) => l.split("\t"));
  const expected = ["no-target", "no-lun", "lun-exists", "target-exists", "no-account", "account-exists", "target-active", "daemon-unreachable"];
  it.each(rows.map((r, i) => [r[1], Number(r[0]), r[2] ?? "", expected[i]] as const))("%s", (_cmd, code, stderr, want) => {
    expect(classifyTgtadmFailure(stderr, code)).toBe(want);
  });
});
