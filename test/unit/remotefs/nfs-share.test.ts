import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ShareSpecSchema,
  buildMountOptions,
  isNfsShare,
  mergeMountOptions,
  mountPointFor,
  parseMountOptions,
  parseNfsSharesConfig,
  pinnedVersion,
} from "../../../src/remotefs/nfs-share.js";

describe("NFS share names", () => {
  it.each(["10.0.0.5:/export", "nfs.example.com:/srv/nfs/share1", "127.0.0.1:/", "filer-1:/vol/vol0/cinder"])("accepts %s", (share) => {
    expect(isNfsShare(share)).toBe(true);
  });

  it.each([
    ["no path", "10.0.0.5"],
    ["relative path", "10.0.0.5:export"],
    ["leading dash host", "-o:/export"],
    ["space in path", "10.0.0.5:/my export"],
    ["newline", "10.0.0.5:/x\n/y"],
    ["dot-dot", "10.0.0.5:/srv/../etc"],
    ["empty host", ":/export"],
    ["IPv6 literal", "[fe80::1]:/export"],
    ["invalid IPv4", "10.0.0.999:/export"],
  ])("refuses %s", (_label, share) => {
    expect(isNfsShare(share)).toBe(false);
  });
});

describe("mount options", () => {
  it("parses known NFS options with valid values", () => {
    expect(parseMountOptions("vers=4.1,timeo=600,retrans=2,hard,proto=tcp,nconnect=4")._unsafeUnwrap()).toEqual([
      { key: "vers", value: "4.1" },
      { key: "timeo", value: "600" },
      { key: "retrans", value: "2" },
      { key: "hard" },
      { key: "proto", value: "tcp" },
      { key: "nconnect", value: "4" },
    ]);
    expect(parseMountOptions("")._unsafeUnwrap()).toEqual([]);
  });

  it.each([
    ["a leading dash smuggling a flag", "-oexec", "not a mount option"],
    ["a second option after a dash", "ro,-t", "not a mount option"],
    ["a space smuggling an argument", "ro --bind", "not a mount option"],
    ["exec injected after a comma", "vers=3,exec", "refused"],
    ["suid", "nolock,suid", "refused"],
    ["soft (corrupts VM disks)", "soft,timeo=10", "corrupt"],
    ["softerr", "softerr", "refused"],
    ["bg (returns before mounting)", "bg", "refused"],
    ["an empty item", "vers=3,,hard", "not a mount option"],
    ["an unknown option", "context=system_u:object_r:nfs_t", "unknown mount option"],
    ["a bad value", "vers=5", "invalid value"],
    ["a value starting with a dash", "timeo=-1", "invalid value"],
    ["quotes", 'sec="sys"', "invalid value"],
    ["a flag given a value", "hard=1", "takes no value"],
    ["a valued option without value", "timeo", "needs a value"],
    ["both vers and nfsvers", "vers=3,nfsvers=4", "either vers or nfsvers"],
  ])("refuses %s", (_label, text, message) => {
    const r = parseMountOptions(text);
    expect(r.isErr()).toBe(true);
    expect(r._unsafeUnwrapErr()).toContain(message);
  });

  it("the share schema rejects bad options", () => {
    expect(ShareSpecSchema.safeParse({ share: "h:/e", options: "vers=3,exec" }).success).toBe(false);
    expect(ShareSpecSchema.safeParse({ share: "h:/e", options: "vers=3" }).success).toBe(true);
  });

  it("knows when the options pin a version", () => {
    expect(pinnedVersion(parseMountOptions("timeo=600")._unsafeUnwrap())).toBeUndefined();
    expect(pinnedVersion(parseMountOptions("vers=3")._unsafeUnwrap())).toBe("3");
    expect(pinnedVersion(parseMountOptions("nfsvers=4,minorversion=1")._unsafeUnwrap())).toBe("4.1");
  });

  it("builds the -o string: merged options, the version tried, hardening flags", () => {
    const global = parseMountOptions("timeo=600,retrans=2")._unsafeUnwrap();
    const share = parseMountOptions("retrans=5,nolock")._unsafeUnwrap();
    expect(buildMountOptions([global, share], "4.1")).toBe("timeo=600,retrans=5,nolock,vers=4.1,nosuid,nodev,noexec");
    // A pinned version wins over the version being tried, and a later list replaces it entirely.
    const pinned = parseMountOptions("nfsvers=4,minorversion=1")._unsafeUnwrap();
    expect(buildMountOptions([pinned, parseMountOptions("vers=3")._unsafeUnwrap()], "4.1")).toBe("vers=3,nosuid,nodev,noexec");
    expect(buildMountOptions([[{ key: "noexec" }]])).toBe("noexec,nosuid,nodev");
    expect(mergeMountOptions([global, share]).map((o) => o.key)).toEqual(["timeo", "retrans", "nolock"]);
  });
});

describe("mount points", () => {
  it("is <base>/<md5 hex of the share string>, like Cinder and nova", () => {
    const share = "192.168.1.10:/export/cinder";
    const md5 = createHash("md5").update(share).digest("hex");
    expect(mountPointFor("/var/lib/nova/mnt", share)).toBe(`/var/lib/nova/mnt/${md5}`);
    expect(mountPointFor("/var/lib/nova/mnt/", share)).toBe(`/var/lib/nova/mnt/${md5}`);
    // Python: hashlib.md5(b"127.0.0.1:/srv/nfs/share1").hexdigest()
    expect(mountPointFor("/m", "127.0.0.1:/srv/nfs/share1")).toBe(`/m/${createHash("md5").update("127.0.0.1:/srv/nfs/share1").digest("hex")}`);
  });
});

describe("Cinder nfs_shares_config text", () => {
  it("parses shares, -o options in both spellings, comments and blank lines", () => {
    const text = "# Cinder NFS shares\n\n10.0.0.5:/export\n10.0.0.6:/data -o vers=3,nolock\n  nfs.example.com:/vol1   -overs=4.1  \n";
    expect(parseNfsSharesConfig(text)._unsafeUnwrap()).toEqual([
      { share: "10.0.0.5:/export" },
      { share: "10.0.0.6:/data", options: "vers=3,nolock" },
      { share: "nfs.example.com:/vol1", options: "vers=4.1" },
    ]);
  });

  it("names each bad line: invalid share, flags other than -o, smuggled options", () => {
    const text = "10.0.0.5:/ok\nnot-a-share\n10.0.0.6:/x --bind\n10.0.0.7:/y -o exec\n10.0.0.8:/z -o vers=3 extra\n";
    const e = parseNfsSharesConfig(text)._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.message).toContain("line 2");
    expect(e.message).toContain("line 3");
    expect(e.message).toContain("line 4");
    expect(e.message).toContain("line 5");
    expect(e.message).not.toContain("line 1");
  });
});
