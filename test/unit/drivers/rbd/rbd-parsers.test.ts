import { describe, expect, it } from "vitest";
import {
  parseCephDf,
  parseCephMonDump,
  parseRbdNamespaces,
  parseCtime,
  parseRbdChildren,
  parseRbdConfig,
  parseRbdDeviceList,
  parseRbdDiff,
  parseRbdDu,
  parseRbdInfo,
  parseRbdLongList,
  parseRbdNames,
  parseRbdSnapshots,
  parseRbdStatus,
  parseRbdTrash,
} from "../../../../src/drivers/rbd/rbd-parsers.js";
import { stdoutOf } from "./captures.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe("rbd JSON parsers (Ceph 16.2.15 output, test/fixtures/rbd)", () => {
  it("parses rbd info of an image: sizes, layout, features, ctime timestamps", () => {
    const info = parseRbdInfo(stdoutOf("info-image"))._unsafeUnwrap();
    expect(info).toMatchObject({
      name: "base",
      sizeBytes: GiB,
      objectCount: 256,
      order: 22,
      objectSizeBytes: 4 * MiB,
      snapshotCount: 2,
      format: 2,
      features: ["layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten"],
      flags: [],
    });
    // Image ids are hex of varying length (the creating client's instance id, then random digits).
    expect(info.id).toMatch(/^[0-9a-f]{8,}$/);
    expect(info.blockNamePrefix).toBe(`rbd_data.${info.id}`);
    expect(info.parent).toBeUndefined();
    expect(info.createdAt?.getUTCFullYear()).toBeGreaterThanOrEqual(2024);
    expect(info.createdAt?.getTime()).toBe(parseCtime((JSON.parse(stdoutOf("info-image")) as { create_timestamp: string }).create_timestamp)?.getTime());
  });

  it("parses a snapshot's info with its protected flag sent as the string \"true\"", () => {
    expect(parseRbdInfo(stdoutOf("info-snapshot"))._unsafeUnwrap()).toMatchObject({ name: "base", protected: true });
  });

  it("parses a clone's parent (real boolean trash flag) and the same clone after its parent went to the trash", () => {
    const base = parseRbdInfo(stdoutOf("info-image"))._unsafeUnwrap();
    const clone = parseRbdInfo(stdoutOf("info-clone"))._unsafeUnwrap();
    expect(clone.parent).toEqual({ pool: "volumes", namespace: "", image: "base", id: base.id, snapshot: "s1", inTrash: false, overlapBytes: GiB });
    expect(parseRbdInfo(stdoutOf("info-clone-parent-in-trash"))._unsafeUnwrap().parent).toMatchObject({ image: "base", inTrash: true });
  });

  it("parses a data pool, a 1 MiB object size and chosen features", () => {
    expect(parseRbdInfo(stdoutOf("info-layout"))._unsafeUnwrap()).toMatchObject({
      dataPool: "volumes-data",
      objectSizeBytes: MiB,
      order: 20,
      objectCount: 64,
      features: ["layering", "exclusive-lock", "data-pool"],
    });
  });

  it("parses rbd ls (names) and an empty pool", () => {
    expect(parseRbdNames(stdoutOf("ls"))._unsafeUnwrap()).toEqual(["base", "c1", "layout"]);
    expect(parseRbdNames(stdoutOf("ls-empty"))._unsafeUnwrap()).toEqual([]);
  });

  it("parses rbd ls -l: images, snapshots with string booleans, a clone's parent", () => {
    const rows = parseRbdLongList(stdoutOf("ls-long"))._unsafeUnwrap();
    expect(rows.map((r) => `${r.image}${r.snapshot ? `@${r.snapshot}` : ""}`)).toEqual(["base", "base@s1", "base@s2", "c1", "layout"]);
    expect(rows[1]).toMatchObject({ snapshot: "s1", protected: true, sizeBytes: GiB });
    expect(rows[2]).toMatchObject({ snapshot: "s2", protected: false });
    expect(rows[3]?.parent).toEqual({ pool: "volumes", namespace: "", image: "base", snapshot: "s1" });
  });

  it("parses rbd du: provisioned vs used per image and snapshot, pool totals", () => {
    const image = parseRbdDu(stdoutOf("du-image"))._unsafeUnwrap();
    expect(image.images.map((i) => [i.snapshot ?? "(head)", i.usedBytes])).toEqual([
      ["s1", 8 * MiB],
      ["s2", 4 * MiB],
      ["(head)", 4 * MiB],
    ]);
    expect(image.totalUsedBytes).toBeUndefined();
    const pool = parseRbdDu(stdoutOf("du-pool"))._unsafeUnwrap();
    // Provisioned counts image heads only (base, c1, layout); used counts snapshots too.
    expect(pool.totalProvisionedBytes).toBe(2 * GiB + 64 * MiB);
    expect(pool.totalUsedBytes).toBe(pool.images.reduce((n, i) => n + i.usedBytes, 0));
  });

  it("parses rbd snap ls with protected flags and timestamps", () => {
    const snaps = parseRbdSnapshots(stdoutOf("snap-ls"))._unsafeUnwrap();
    expect(snaps.map((s) => [s.name, s.protected, s.sizeBytes])).toEqual([
      ["s1", true, GiB],
      ["s2", false, GiB],
    ]);
    expect(snaps[0]?.createdAt).toBeInstanceOf(Date);
    expect(parseRbdSnapshots(stdoutOf("snap-ls-empty"))._unsafeUnwrap()).toEqual([]);
    expect(parseRbdSnapshots(stdoutOf("snap-ls-after-purge"))._unsafeUnwrap().map((s) => s.name)).toEqual(["s1"]);
  });

  it("parses rbd children", () => {
    expect(parseRbdChildren(stdoutOf("children"))._unsafeUnwrap()).toEqual([{ pool: "volumes", namespace: "", image: "c1", inTrash: false }]);
    expect(parseRbdChildren(stdoutOf("children-none"))._unsafeUnwrap()).toEqual([]);
  });

  it("parses rbd trash ls -l", () => {
    const [entry] = parseRbdTrash(stdoutOf("trash-ls"))._unsafeUnwrap();
    expect(entry).toMatchObject({ name: "base", source: "USER" });
    expect(entry?.id).toBe(parseRbdInfo(stdoutOf("info-image"))._unsafeUnwrap().id);
    expect(entry?.deletedAt).toBeInstanceOf(Date);
    expect(entry?.status).toMatch(/^expired at /);
    expect(parseRbdTrash(stdoutOf("trash-ls-empty"))._unsafeUnwrap()).toEqual([]);
  });

  it("parses rbd status: no watchers, then the one of a qemu-io holding the image open", () => {
    expect(parseRbdStatus(stdoutOf("status-idle"))._unsafeUnwrap()).toEqual({ watchers: [] });
    const [watcher] = parseRbdStatus(stdoutOf("status-watched"))._unsafeUnwrap().watchers;
    expect(watcher?.address).toMatch(/^127\.0\.0\.1:0\/\d+$/);
    expect(watcher?.clientId).toBeGreaterThan(0);
  });

  it("parses rbd status of an image the kernel client has mapped (its watch cookie is beyond safe integers)", () => {
    const raw = stdoutOf("kernel-status-mapped");
    expect(Number((/"cookie":(\d+)/.exec(raw) ?? [])[1])).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    const { watchers } = parseRbdStatus(raw)._unsafeUnwrap();
    expect(watchers).toEqual([{ address: expect.stringMatching(/^127\.0\.0\.1:0\/\d+$/) as unknown, clientId: expect.any(Number) as unknown }]);
  });

  it("parses rbd diff extents with string exists flags", () => {
    expect(parseRbdDiff(stdoutOf("diff-all"))._unsafeUnwrap()).toEqual([
      { offset: 0, length: MiB, exists: true },
      { offset: 8 * MiB, length: 4096, exists: true },
      { offset: 16 * MiB, length: 65536, exists: true },
      { offset: 32 * MiB, length: 4 * MiB, exists: true },
    ]);
    expect(parseRbdDiff(stdoutOf("diff-from-snap"))._unsafeUnwrap().map((e) => e.offset)).toEqual([16 * MiB, 32 * MiB]);
    expect(parseRbdDiff(stdoutOf("diff-whole-object"))._unsafeUnwrap()).toEqual([{ offset: 16 * MiB, length: 4 * MiB, exists: true }]);
  });

  it("parses rbd config image list and finds the image-level QoS overrides", () => {
    const entries = parseRbdConfig(stdoutOf("config-image-list"))._unsafeUnwrap();
    expect(entries.filter((e) => e.source === "image")).toEqual([
      { name: "rbd_qos_bps_limit", value: "10485760", source: "image" },
      { name: "rbd_qos_iops_limit", value: "500", source: "image" },
    ]);
    expect(entries.length).toBeGreaterThan(50);
  });

  it("parses an empty rbd device list", () => {
    expect(parseRbdDeviceList(stdoutOf("device-list-empty"))._unsafeUnwrap()).toEqual([]);
  });

  it("parses ceph df: cluster totals and per-pool max_avail", () => {
    const df = parseCephDf(stdoutOf("ceph-df"))._unsafeUnwrap();
    expect(df.totalBytes).toBe(10 * GiB);
    expect(df.totalAvailBytes).toBeLessThan(df.totalBytes);
    expect(df.totalUsedBytes + df.totalAvailBytes).toBe(df.totalBytes);
    const volumes = df.pools.find((p) => p.name === "volumes");
    expect(volumes?.maxAvailBytes).toBeGreaterThan(9 * GiB);
    expect(volumes?.storedBytes).toBeGreaterThan(4 * MiB);
    expect(df.pools.map((p) => p.name)).toEqual(expect.arrayContaining(["volumes", "volumes-data", "other"]));
  });

  it("parses ceph df detail with each pool's quota (0 = none)", () => {
    const df = parseCephDf(stdoutOf("ceph-df-detail"))._unsafeUnwrap();
    expect(df.pools.find((p) => p.name === "volumes")).toMatchObject({ quotaBytes: 100 * GiB, quotaObjects: 0 });
    expect(df.pools.find((p) => p.name === "other")).toMatchObject({ quotaBytes: 0 });
    expect(parseCephDf(stdoutOf("ceph-df"))._unsafeUnwrap().pools[0]).not.toHaveProperty("quotaBytes");
  });

  it("parses ceph mon dump: the fsid and each monitor's msgr2 and legacy address", () => {
    const map = parseCephMonDump(stdoutOf("mon-dump"))._unsafeUnwrap();
    expect(map.fsid).toMatch(/^[0-9a-f-]{36}$/);
    expect(map.monitors).toHaveLength(1);
    expect(map.monitors[0]).toMatchObject({ rank: 0, name: "a" });
    expect(map.monitors[0]?.v2).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(map.monitors[0]?.v1).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(map.monitors[0]?.v1).not.toBe(map.monitors[0]?.v2);
  });

  it("parses rbd namespace ls", () => {
    expect(parseRbdNamespaces(stdoutOf("namespace-ls"))._unsafeUnwrap()).toEqual([]);
    expect(parseRbdNamespaces('[{"name":"tenant-a"}]')._unsafeUnwrap()).toEqual(["tenant-a"]);
  });

  it("parses rbd info by id of an image in the trash", () => {
    expect(parseRbdInfo(stdoutOf("info-by-id"))._unsafeUnwrap()).toMatchObject({ name: "base", snapshotCount: 1 });
    expect(parseRbdSnapshots(stdoutOf("snap-ls-by-id"))._unsafeUnwrap().map((s) => [s.name, s.protected])).toEqual([["s1", true]]);
  });

  it("parses ceph df before the manager's first report as zeros and no pools (stats not ready)", () => {
    expect(parseCephDf(stdoutOf("ceph-df-before-mgr"))._unsafeUnwrap()).toMatchObject({ totalBytes: 0, pools: [] });
  });

  it("returns PARSE_ERROR without quoting the input", () => {
    const notJson = parseRbdInfo("rbd: AQBsecretlookingkey== is not json");
    expect(notJson._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
    expect(notJson._unsafeUnwrapErr().message).not.toContain("AQB");
    const wrongShape = parseRbdSnapshots('[{"id":1,"name":"s","size":"big"}]');
    expect(wrongShape._unsafeUnwrapErr().message).toMatch(/rbd snap ls.*0\.size/);
    expect(parseRbdSnapshots('[{"id":1,"name":"s","size":1,"timestamp":"yesterday"}]')._unsafeUnwrapErr().code).toBe("PARSE_ERROR");
  });

  it("reads ctime text as UTC and ISO text as is", () => {
    expect(parseCtime("Tue Dec  1 16:15:08 2026")?.toISOString()).toBe("2026-12-01T16:15:08.000Z");
    expect(parseCtime("Wed Jan 14 09:05:00 2026")?.toISOString()).toBe("2026-01-14T09:05:00.000Z");
    expect(parseCtime("2026-12-01T16:14:52.698823Z")?.toISOString()).toBe("2026-12-01T16:14:52.698Z");
    expect(parseCtime("Tue Foo  1 16:15:08 2026")).toBeUndefined();
    expect(parseCtime("")).toBeUndefined();
  });
});
