import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ConnectionInfoSchema, HostPropertiesSchema, VolumeSpecSchema } from "../../../src/core/records.js";
import {
  AbsolutePathSchema,
  ChapSecretSchema,
  ChapUserSchema,
  HostSchema,
  IdSchema,
  IqnSchema,
  LvmNameSchema,
  PortalSchema,
  SizeGiBSchema,
  parsePortal,
  validate,
} from "../../../src/core/validation.js";

const accepts = (schema: z.ZodType, value: unknown): boolean => schema.safeParse(value).success;

describe("IdSchema", () => {
  it.each(["0b0f3f7e-6a8e-4f7a-9c1d-2b8f8a6c1e11", "vol1", "A_b-9", "x".repeat(64)])("accepts %j", (v) => {
    expect(accepts(IdSchema, v)).toBe(true);
  });
  it.each(["", "-rf", "../x", "a/b", "a b", "a\nb", "a\0b", "_lead", ".hidden", "x".repeat(65), "é"])("rejects %j", (v) => {
    expect(accepts(IdSchema, v)).toBe(false);
  });
});

describe("LvmNameSchema", () => {
  it.each(["volume-1", "vg_0", "a.b+c", "_snap", "x".repeat(127)])("accepts %j", (v) => {
    expect(accepts(LvmNameSchema, v)).toBe(true);
  });
  it.each(["", "-x", ".", "..", "a b", "a/b", "a\nb", "x".repeat(128)])("rejects %j", (v) => {
    expect(accepts(LvmNameSchema, v)).toBe(false);
  });
});

describe("IqnSchema", () => {
  it.each(["iqn.2010-10.org.openstack:volume-00000001", "iqn.1994-05.com.redhat:abc123", "iqn.2003-01.org.linux-iscsi.host.x8664:sn.1234", "eui.0123456789ABCDEF"])(
    "accepts %j",
    (v) => expect(accepts(IqnSchema, v)).toBe(true),
  );
  it.each(["", "iqn.2010.org.x", "IQN.2010-10.org.x", "iqn.2010-10.Org.x", "iqn.2010-10.org.x:has space", "iqn.2010-10.org.x:a;b", "eui.123", "-iqn.2010-10.org.x", `iqn.2010-10.org.x:${"a".repeat(220)}`])(
    "rejects %j",
    (v) => expect(accepts(IqnSchema, v)).toBe(false),
  );
});

describe("HostSchema", () => {
  it.each(["10.0.0.1", "fe80::1", "2001:db8::42", "storage-1.example.com", "localhost"])("accepts %j", (v) => expect(accepts(HostSchema, v)).toBe(true));
  it.each(["", "-oProxyCommand=x", "a b", "host_name", "a..b", "[fe80::1]", "10.0.0.1:3260"])("rejects %j", (v) => expect(accepts(HostSchema, v)).toBe(false));
});

describe("PortalSchema / parsePortal", () => {
  it.each([
    ["10.0.0.1:3260", "10.0.0.1:3260"],
    ["10.0.0.1", "10.0.0.1:3260"],
    ["10.0.0.1:3261", "10.0.0.1:3261"],
    ["[fe80::1]:3261", "[fe80::1]:3261"],
    ["[2001:db8::1]", "[2001:db8::1]:3260"],
    ["san.example.com:860", "san.example.com:860"],
  ])("normalizes %j to %j", (input, expected) => {
    expect(PortalSchema.parse(input)).toBe(expected);
  });

  it.each(["", ":3260", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:123456", "fe80::1", "[fe80::1", "a b:3260", "10.0.0.1:3260\n", "[zz::1]:3260", "-h:3260"])("rejects %j", (v) => {
    expect(accepts(PortalSchema, v)).toBe(false);
  });

  it("parsePortal splits host and port (3260 by default)", () => {
    expect(parsePortal("[fe80::2]:3262")).toEqual({ host: "fe80::2", port: 3262 });
    expect(parsePortal("10.1.2.3")).toEqual({ host: "10.1.2.3", port: 3260 });
    expect(parsePortal("10.1.2.3:99999")).toBeUndefined();
  });
});

describe("SizeGiBSchema", () => {
  it.each([1, 2, 1024, 64 * 1024 * 1024])("accepts %j", (v) => expect(accepts(SizeGiBSchema, v)).toBe(true));
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "1", 64 * 1024 * 1024 + 1, null])("rejects %j", (v) => expect(accepts(SizeGiBSchema, v)).toBe(false));
});

describe("AbsolutePathSchema", () => {
  it.each(["/", "/dev/vg0/volume-1", "/mnt/with space/file", "/a/..b/c", "/a/b../c"])("accepts %j", (v) => expect(accepts(AbsolutePathSchema, v)).toBe(true));
  it.each(["", "relative/path", "./x", "/a/../b", "/a/..", "/..", "/a\0b", "/a\nb", "/a\rb", "-/x", `/${"a".repeat(4096)}`])("rejects %j", (v) => {
    expect(accepts(AbsolutePathSchema, v)).toBe(false);
  });
});

describe("CHAP schemas", () => {
  it("user: 1-255 of letters, digits, '._:@-'", () => {
    for (const v of ["user", "iqn.2010-10.org.x:init", "a@b"]) expect(accepts(ChapUserSchema, v)).toBe(true);
    for (const v of ["", "has space", "quote'", "semi;colon", "x".repeat(256)]) expect(accepts(ChapUserSchema, v)).toBe(false);
  });

  it("secret: 12-64 characters that survive tgt, LIO and iscsiadm", () => {
    for (const v of ["abcdefghijkl", "A1._~+=/-xyzQ", "x".repeat(64)]) expect(accepts(ChapSecretSchema, v)).toBe(true);
    for (const v of ["short", "abcdefghijk", "x".repeat(65), "has space 12345", "quote'12345678", "dollar$12345678", "newline\n1234567"]) {
      expect(accepts(ChapSecretSchema, v)).toBe(false);
    }
  });
});

describe("validate", () => {
  it("returns the parsed value deep-frozen", () => {
    const v = validate(VolumeSpecSchema, { id: "vol1", sizeGiB: 2, metadata: { a: "b" } }, "volume spec")._unsafeUnwrap();
    expect(v).toEqual({ id: "vol1", sizeGiB: 2, metadata: { a: "b" } });
    expect(Object.isFrozen(v)).toBe(true);
    expect(Object.isFrozen(v.metadata)).toBe(true);
  });

  it("fails with INVALID_ARGUMENT naming every bad field, or the given code", () => {
    const e = validate(VolumeSpecSchema, { id: "-rf", sizeGiB: 0 }, "volume spec")._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.source).toBe("validation");
    expect(e.message).toMatch(/^invalid volume spec: /);
    expect(e.message).toContain("id: ");
    expect(e.message).toContain("sizeGiB: ");
    const issues = e.details.issues as Array<{ path: string[]; message: string }>;
    expect(issues.map((i) => i.path)).toEqual([["id"], ["sizeGiB"]]);
    expect(validate(IdSchema, "", "thing", "INVALID_CONFIG")._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
  });

  it("names the value itself when the schema is a primitive", () => {
    expect(validate(SizeGiBSchema, 0, "new size")._unsafeUnwrapErr().message).toMatch(/^invalid new size: new size: /);
  });

  it("does not echo a rejected secret in the error", () => {
    const bad = "my secret has spaces";
    const e = validate(ChapSecretSchema, bad, "CHAP secret")._unsafeUnwrapErr();
    expect(JSON.stringify(e.toJSON())).not.toContain(bad);
  });
});

describe("shared schemas", () => {
  it("connector properties default multipath to false and validate the initiator", () => {
    expect(HostPropertiesSchema.parse({ host: "h1" })).toEqual({ host: "h1", multipath: false });
    expect(accepts(HostPropertiesSchema, { host: "h1", initiator: "not an iqn" })).toBe(false);
  });

  it("iSCSI connection info normalizes portals and applies defaults", () => {
    const info = ConnectionInfoSchema.parse({
      type: "iscsi",
      volumeId: "vol1",
      targetIqn: "iqn.2010-10.org.openstack:volume-vol1",
      targetPortal: "10.0.0.1",
      targetLun: 1,
    });
    expect(info).toMatchObject({ type: "iscsi", targetPortal: "10.0.0.1:3260", accessMode: "rw", encrypted: false, targetDiscovered: false });
  });

  it("iSCSI multipath arrays must have equal lengths", () => {
    const base = { type: "iscsi", volumeId: "vol1", targetIqn: "iqn.2010-10.org.x:t", targetPortal: "10.0.0.1:3260", targetLun: 0 };
    expect(accepts(ConnectionInfoSchema, { ...base, targetPortals: ["10.0.0.1", "10.0.0.2"], targetIqns: ["iqn.2010-10.org.x:t", "iqn.2010-10.org.x:t"], targetLuns: [0, 0] })).toBe(true);
    expect(accepts(ConnectionInfoSchema, { ...base, targetPortals: ["10.0.0.1", "10.0.0.2"], targetLuns: [0] })).toBe(false);
  });

  it("local connection info needs an absolute device path; unknown types are refused", () => {
    expect(accepts(ConnectionInfoSchema, { type: "local", volumeId: "v1", devicePath: "/dev/vg/volume-v1" })).toBe(true);
    expect(accepts(ConnectionInfoSchema, { type: "local", volumeId: "v1", devicePath: "/dev/../etc/passwd" })).toBe(false);
    expect(accepts(ConnectionInfoSchema, { type: "fc", volumeId: "v1" })).toBe(false);
  });
});
