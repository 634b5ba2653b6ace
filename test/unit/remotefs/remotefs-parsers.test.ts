import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classifyMountError, isBusy, isNotMounted, isStaleHandle, parseFindmnt, parseStatfs } from "../../../src/remotefs/remotefs-parsers.js";

const FIXTURES = join(import.meta.dirname, "../../fixtures/nfs");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

describe("parseFindmnt", () => {
  it("reads a captured list (host tmpfs standing in for a share)", () => {
    const mounts = parseFindmnt(fx("findmnt-host-tmpfs.json"))._unsafeUnwrap();
    expect(mounts).toHaveLength(1);
    expect(mounts[0]).toMatchObject({ source: "volkit-capture", fstype: "tmpfs" });
    expect(mounts[0]?.target).toMatch(/^\/tmp\/volkit-nfs-capture\.[^/]+\/share$/);
  });

  it("reads a captured lab mount table with an NFS 4.1 mount", () => {
    const mounts = parseFindmnt(fx("findmnt-lab-nfs.json"))._unsafeUnwrap();
    // The capture script's own mount (other NFS mounts in the table belong to earlier lab runs).
    const ours = mounts.filter((m) => /^\/tmp\/volkit-nfs-capture\.[^/]+\/mp$/.test(m.target));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ source: "127.0.0.1:/srv/nfs/share1", fstype: "nfs4" });
    expect(ours[0]?.options).toContain("vers=4.1");
    expect(ours[0]?.options).toContain("hard");
    expect(mounts.some((m) => m.target === "/")).toBe(true);
  });

  it("flattens the tree form and treats empty output (exit 1) as no mounts", () => {
    const tree = JSON.stringify({ filesystems: [{ target: "/", source: "/dev/vda", fstype: "ext4", options: "rw", children: [{ target: "/m/x", source: "h:/e", fstype: "nfs", options: "rw,vers=3" }] }] });
    expect(parseFindmnt(tree)._unsafeUnwrap().map((m) => m.target)).toEqual(["/", "/m/x"]);
    expect(parseFindmnt("")._unsafeUnwrap()).toEqual([]);
  });

  it("fails with PARSE_ERROR on anything else", () => {
    expect(parseFindmnt("TARGET SOURCE\n/ /dev/vda")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseFindmnt('{"filesystems": 3}')._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });
});

describe("parseStatfs", () => {
  it("reads captured stat -f output of tmpfs and of an NFS mount", () => {
    expect(parseStatfs(fx("statfs-tmpfs.txt"))._unsafeUnwrap()).toEqual({ blockSize: 4096, totalBytes: 1073741824, availableBytes: 1073741824 });
    const nfs = parseStatfs(fx("statfs-nfs.txt"))._unsafeUnwrap();
    expect(nfs.totalBytes).toBeGreaterThan(0);
    expect(nfs.availableBytes).toBeLessThanOrEqual(nfs.totalBytes);
  });

  it("fails with PARSE_ERROR on unexpected text", () => {
    expect(parseStatfs("4096 abc 1")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });
});

describe("error text classification (captured)", () => {
  it("recognises a stale handle from stat", () => {
    expect(isStaleHandle(fx("statfs-stale-v3.stderr"))).toBe(true);
    expect(isStaleHandle(fx("statfs-missing.stderr"))).toBe(false);
    // A withdrawn export (exportfs -u) is refused, not stale: mounting again would not help.
    expect(isStaleHandle(fx("statfs-unexported.stderr"))).toBe(false);
  });

  it("classifies mount failures", () => {
    expect(classifyMountError(fx("mount-no-helper.stderr"))).toBe("no-helper");
    expect(classifyMountError(fx("mount-version-unsupported.stderr"))).toBe("version");
    expect(classifyMountError(fx("mount-refused.stderr"))).toBe("unreachable");
    expect(classifyMountError(fx("mount-not-root.stderr"))).toBe("permission");
    expect(classifyMountError(fx("mount-no-export.stderr"))).toBe("refused");
    if (existsSync(join(FIXTURES, "mount-already-mounted.stderr")) && !fx("mount-already-mounted.stderr").startsWith("exit 0")) {
      expect(classifyMountError(fx("mount-already-mounted.stderr"))).toBe("busy");
    }
  });

  it("recognises umount's not-mounted and busy", () => {
    expect(isNotMounted(fx("umount-not-mounted.stderr"))).toBe(true);
    expect(isBusy(fx("umount-busy.stderr"))).toBe(true);
    expect(isBusy(fx("umount-not-mounted.stderr"))).toBe(false);
  });
});
