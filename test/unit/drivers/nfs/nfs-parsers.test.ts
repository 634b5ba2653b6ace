import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatInfoFile, isImageLocked, parseDu, parseInfoFile, parseNameList, parseVolumeImage } from "../../../../src/drivers/nfs/nfs-parsers.js";
import { checkSnapshotId, isChainFile, isVolumeFile, volumeIdOfFile } from "../../../../src/drivers/nfs/nfs-names.js";

const FIXTURES = join(import.meta.dirname, "../../../fixtures/nfs");
const fx = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

describe("file names", () => {
  it("tells chain files, volume files and base images apart", () => {
    expect(isChainFile("a", "volume-a")).toBe(true);
    expect(isChainFile("a", "volume-a.s1")).toBe(true);
    expect(isChainFile("a", "volume-a.info")).toBe(false);
    expect(isChainFile("a", "volume-a.s1.revert.tmp")).toBe(false);
    expect(isChainFile("a", "volume-ab")).toBe(false);
    expect(isChainFile("a", "../volume-a")).toBe(false);
    expect(isChainFile("a", "/etc/passwd")).toBe(false);
    expect(isVolumeFile("a", "volume-a.new.tmp")).toBe(true);
    expect(isVolumeFile("a", "volume-ab")).toBe(false);
    expect(volumeIdOfFile("volume-1234-abcd")).toBe("1234-abcd");
    expect(volumeIdOfFile("volume-a.s1")).toBeUndefined();
    expect(checkSnapshotId("active").isErr()).toBe(true);
    expect(checkSnapshotId("info").isErr()).toBe(true);
    expect(checkSnapshotId("s1").isOk()).toBe(true);
  });
});

describe(".info files", () => {
  it("round-trips Cinder's format (sorted keys)", () => {
    const info = { active: "volume-a.s2", snapshots: { s2: "volume-a.s2", s1: "volume-a.s1" } };
    const text = formatInfoFile(info);
    expect(text).toBe('{\n "active": "volume-a.s2",\n "s1": "volume-a.s1",\n "s2": "volume-a.s2"\n}\n');
    expect(parseInfoFile(text, "a")._unsafeUnwrap()).toEqual(info);
  });

  it.each([
    ["not JSON", "{"],
    ["an array", "[]"],
    ["no active", '{"s1": "volume-a.s1"}'],
    ["a path outside the share", '{"active": "../../etc/shadow"}'],
    ["another volume's file", '{"active": "volume-b"}'],
    ["a non-string", '{"active": 3}'],
    ["a bad snapshot key", '{"active": "volume-a", "../x": "volume-a.s1"}'],
  ])("refuses %s with INVALID_STATE", (_label, text) => {
    expect(parseInfoFile(text, "a")._unsafeUnwrapErr().code).toBe("INVALID_STATE");
  });
});

describe("qemu-img info of volume images (captured)", () => {
  it("reads a raw base image and a qcow2 one with preallocated metadata", () => {
    expect(parseVolumeImage(fx("qemu-info-raw.json"), { name: "volume-aaaa", volumeId: "aaaa", backing: false })._unsafeUnwrap()).toEqual({ format: "raw", virtualSize: 1073741824 });
    const q = parseVolumeImage(fx("qemu-info-qcow2-prealloc.json"), { name: "volume-bbbb", volumeId: "bbbb", backing: false })._unsafeUnwrap();
    expect(q).toEqual({ format: "qcow2", virtualSize: 1073741824 });
  });

  it("reads overlays with relative backing files of the same volume", () => {
    expect(parseVolumeImage(fx("qemu-info-overlay-raw-backing.json"), { name: "volume-aaaa.s1", volumeId: "aaaa", backing: true })._unsafeUnwrap()).toEqual({
      format: "qcow2",
      virtualSize: 1073741824,
      backing: "volume-aaaa",
      backingFormat: "raw",
    });
    expect(parseVolumeImage(fx("qemu-info-overlay-qcow2-backing.json"), { name: "volume-aaaa.s2", volumeId: "aaaa", backing: true })._unsafeUnwrap()).toMatchObject({
      backing: "volume-aaaa.s1",
      backingFormat: "qcow2",
    });
  });

  it("refuses an external data file, an absolute backing path, another volume's backing, an unexpected backing", () => {
    const refuse = (file: string, expect_: Parameters<typeof parseVolumeImage>[1]) => parseVolumeImage(fx(file), expect_)._unsafeUnwrapErr();
    expect(refuse("qemu-info-data-file.json", { name: "volume-evil1", volumeId: "evil1" }).message).toContain("external data file");
    expect(refuse("qemu-info-absolute-backing.json", { name: "volume-evil2.s1", volumeId: "evil2", backing: true }).message).toContain("/etc/passwd");
    expect(refuse("qemu-info-overlay-raw-backing.json", { name: "volume-zzzz.s1", volumeId: "zzzz", backing: true }).code).toBe("INVALID_STATE");
    expect(refuse("qemu-info-overlay-raw-backing.json", { name: "volume-aaaa", volumeId: "aaaa", backing: false }).message).toContain("unexpected backing");
    expect(refuse("qemu-info-raw.json", { name: "volume-aaaa.s1", volumeId: "aaaa", backing: true }).message).toContain("without a backing file");
  });

  it("refuses formats other than raw and qcow2", () => {
    const vmdk = JSON.stringify({ format: "vmdk", "virtual-size": 1024 });
    expect(parseVolumeImage(vmdk, { name: "volume-a", volumeId: "a" })._unsafeUnwrapErr().message).toContain("vmdk");
  });
});

describe("other tool output", () => {
  it("reads du and find output (captured)", () => {
    expect(parseDu(fx("du-empty.txt"))._unsafeUnwrap()).toBe(40);
    expect(parseDu(fx("du-volumes.txt"))._unsafeUnwrap()).toBe(2148270232);
    expect(parseDu("du: cannot access")._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(parseNameList("volume-a\nvolume-a.s1\n\n")).toEqual(["volume-a", "volume-a.s1"]);
  });

  it("recognises qemu's image lock errors", () => {
    expect(isImageLocked('qemu-img: Could not open \'x\': Failed to get "write" lock\nIs another process using the image [x]?')).toBe(true);
    expect(isImageLocked('Failed to get shared "write" lock')).toBe(true);
    expect(isImageLocked(fx("qemu-info-missing.stderr"))).toBe(false);
  });
});
