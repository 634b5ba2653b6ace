import { describe, expect, it } from "vitest";
import { ISCSIADM_EXIT, classifyIscsiadmError } from "../../../src/connectors/iscsi/iscsi-errors.js";
import { isMultipathdFailure, parseInitiatorName, parseIscsiadmSessions, parseMultipathdMaps, parseNodeRecords, parseSendTargets } from "../../../src/connectors/iscsi/iscsi-parsers.js";
import { commandFailed } from "../../../src/exec/runner.js";
import { fixture } from "./fake-iscsi-host.js";

/** stdout of the n-th record of a raw capture file. */
function rawStdout(file: string, n = 0): string {
  const records = fixture(`raw/${file}`).split(/^## /m).slice(1);
  const m = /# stdout:\n([\s\S]*?)# stderr:\n/.exec(records[n] ?? "");
  return m?.[1] ?? "";
}

describe("iSCSI parsers on captured outputs", () => {
  it("reads the lab's initiator name (comments skipped) and rejects a file without one", () => {
    expect(parseInitiatorName(fixture("initiatorname.iscsi"))._unsafeUnwrap()).toBe("iqn.2026-11.io.volkit:lab-initiator");
    expect(parseInitiatorName("## only a comment\n")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseInitiatorName("InitiatorName=not an iqn\n").isErr()).toBe(true);
  });

  it("parses sendtargets discovery of LIO (two portals) and tgt", () => {
    expect(parseSendTargets(rawStdout("discovery.txt", 0))._unsafeUnwrap()).toEqual([
      { portal: "127.0.0.1:3260", tpgt: 1, iqn: "iqn.2010-10.org.openstack:volume-cap1" },
      { portal: "127.0.0.2:3260", tpgt: 1, iqn: "iqn.2010-10.org.openstack:volume-cap1" },
    ]);
    expect(parseSendTargets(rawStdout("discovery.txt", 1))._unsafeUnwrap()).toEqual([{ portal: "127.0.0.1:3261", tpgt: 1, iqn: "iqn.2010-10.org.openstack:shared-cap" }]);
    expect(parseSendTargets("garbage line\n").isErr()).toBe(true);
  });

  it("parses iscsiadm -m node (records made without discovery: tpgt -1 printed as 4294967295)", () => {
    expect(parseNodeRecords(fixture("iscsiadm-node.txt"))._unsafeUnwrap()).toEqual([
      { portal: "127.0.0.1:3260", tpgt: 4294967295, iqn: "iqn.2010-10.org.openstack:volume-cap1" },
      { portal: "127.0.0.2:3260", tpgt: 4294967295, iqn: "iqn.2010-10.org.openstack:volume-cap1" },
    ]);
    expect(parseNodeRecords("")._unsafeUnwrap()).toEqual([]);
    const bad = parseNodeRecords("# BEGIN RECORD 2.1.8\n")._unsafeUnwrapErr();
    expect(bad.message).toContain("iscsiadm -m node output");
  });

  it("parses iscsiadm -m session", () => {
    expect(parseIscsiadmSessions(fixture("iscsiadm-session.txt"))._unsafeUnwrap()).toEqual([
      { transport: "tcp", id: 3, portal: "127.0.0.1:3260", tpgt: 1, iqn: "iqn.2010-10.org.openstack:volume-cap1" },
      { transport: "tcp", id: 4, portal: "127.0.0.2:3260", tpgt: 1, iqn: "iqn.2010-10.org.openstack:volume-cap1" },
    ]);
    expect(parseIscsiadmSessions("")._unsafeUnwrap()).toEqual([]);
  });

  it("parses multipathd show maps json (map, dm name, every path's states)", () => {
    const maps = parseMultipathdMaps(fixture("multipathd-show-maps.json"))._unsafeUnwrap();
    expect(maps).toEqual([
      {
        name: "36001405cd392699b3044eb2b6a99fd8c",
        wwid: "36001405cd392699b3044eb2b6a99fd8c",
        dm: "dm-3",
        paths: [
          { dev: "sda", dmState: "active", devState: "running", checkerState: "ready" },
          { dev: "sdb", dmState: "active", devState: "running", checkerState: "ready" },
        ],
      },
    ]);
    expect(parseMultipathdMaps(rawStdout("multipathd-maps-none.txt"))._unsafeUnwrap()).toEqual([]);
    expect(parseMultipathdMaps("{not json").isErr()).toBe(true);
  });

  it("recognises multipathd's 'fail' reply", () => {
    expect(isMultipathdFailure(rawStdout("multipathd-add-path.txt", 2))).toBe(true);
    expect(isMultipathdFailure(rawStdout("multipathd-add-path.txt", 0))).toBe(false);
  });
});

describe("iscsiadm exit-code table", () => {
  const spec = { argv: ["iscsiadm", "-m", "node", "-T", "iqn.2010-10.org.openstack:v", "-p", "127.0.0.1:3260", "--login"] as const };
  const where = { op: "login", target: "iqn.2010-10.org.openstack:v", portal: "127.0.0.1:3260" };
  it.each([
    [ISCSIADM_EXIT.LOGIN_AUTH_FAILED, "AUTH_FAILED", false],
    [ISCSIADM_EXIT.FATAL_LOGIN, "LOGIN_FAILED", false],
    [ISCSIADM_EXIT.TRANSPORT_TIMEOUT, "LOGIN_FAILED", false],
    [ISCSIADM_EXIT.NODE_DB, "COMMAND_FAILED", true],
    // A dead iscsid is usually back within seconds: transient, for the caller's retry policy.
    [ISCSIADM_EXIT.ISCSID_NOT_CONNECTED, "BACKEND_UNAVAILABLE", true],
    [ISCSIADM_EXIT.ISCSID_COMM, "BACKEND_UNAVAILABLE", true],
    [99, "COMMAND_FAILED", false],
  ] as const)("exit %i → %s (transient %s)", (exit, code, transient) => {
    const e = classifyIscsiadmError(commandFailed(spec, exit, "iscsiadm: something"), where);
    expect(e.code).toBe(code);
    expect(e.transient).toBe(transient);
    expect(e.details).toMatchObject({ exitCode: exit, target: where.target, portal: where.portal });
  });

  it("says which target and portal rejected CHAP, with the captured stderr kept", () => {
    const stderr = /# stderr:\n([\s\S]*?)\n\n/.exec(fixture("raw/login-auth-failed.txt").split(/^## /m)[2] ?? "")?.[1] ?? "";
    const e = classifyIscsiadmError(commandFailed(spec, 24, stderr), where);
    expect(e.message).toBe("CHAP rejected by target iqn.2010-10.org.openstack:v at 127.0.0.1:3260 (iscsiadm exit 24: authorization failure)");
    expect(e.details.stderr).toContain("authorization failure");
  });
});
