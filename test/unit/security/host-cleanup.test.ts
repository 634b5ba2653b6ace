/**
 * Hostile input to `host cleanup`: the items a caller hands back to `runHostCleanup` (a plan it
 * may have edited, or one that never came from a plan) and the operation options. A refusal is a
 * typed `INVALID_ARGUMENT` before the first command (not even the re-scan's `findmnt`) and before
 * any sysfs write; an item naming something the scan does not find removes nothing.
 */
import { errAsync, okAsync } from "neverthrow";
import { afterEach, describe, expect, it } from "vitest";
import type { ConnectorSource } from "../../../src/connectors/connector.js";
import { VolkitError } from "../../../src/core/errors.js";
import { EventBus, silentLogger } from "../../../src/core/events.js";
import { planHostCleanup, runHostCleanup, type HostCleanupDeps } from "../../../src/service/host-cleanup/host-cleanup.js";
import { FakeIscsiHost } from "../connectors/fake-iscsi-host.js";
import { MiB, P1 } from "../connectors/helpers.js";
import { HOSTILE_TEXT, expectRefusal, refused, type Hostile } from "./hostile.js";

const LIO_IQN = "iqn.2010-10.org.openstack:volume-vol-2";

let host: FakeIscsiHost;
afterEach(() => host.cleanup());

/** A host with one unclaimed LUN of a volkit target (residue a real plan lists). */
function world(): HostCleanupDeps {
  host = new FakeIscsiHost();
  host.addTarget(LIO_IQN, [P1], { 0: { wwid: "naa.6001405000000000000000000000b000", sizeBytes: 64 * MiB } });
  host.preLogin(LIO_IQN, P1, [0]);
  host.fake.on(["findmnt"], { exitCode: 1 });
  const connector = host.connector();
  const source: ConnectorSource = { connector: (p) => (p === "iscsi" ? okAsync(connector) : errAsync(new VolkitError("NOT_SUPPORTED", `no ${p} connector`))) };
  return {
    fs: host.fs,
    runner: host.runner,
    host: source,
    hostName: "node-1",
    backends: [{ config: { driver: "lvm", volumeGroup: "vg", target: { helper: "lio" } } }],
    attachments: () => okAsync([]),
    mountPointBase: "/var/lib/volkit/mnt",
    logger: silentLogger,
    events: new EventBus(),
  };
}

const ITEM = { kind: "scsi-device", name: "/dev/sda", reason: "unclaimed", removal: "iscsi-disconnect", unit: `iscsi:${LIO_IQN}:lun0` };

/** Whole item lists that are not lists of items. */
const HOSTILE_LISTS: readonly Hostile[] = [
  ["null", null],
  ["a string", "iscsi:all"],
  ["an object", { 0: ITEM, length: 1 }],
  ["10 001 items", Array.from({ length: 10_001 }, () => ITEM)],
];

/** One field of an otherwise valid item replaced. */
const HOSTILE_ITEMS: readonly Hostile[] = [
  ["null item", null],
  ["an unknown kind", { ...ITEM, kind: "lvm-volume" }],
  ["an unknown removal", { ...ITEM, removal: "rm -rf" }],
  ["a unit that is not a string", { ...ITEM, unit: 7 }],
  ["an empty unit", { ...ITEM, unit: "" }],
  ["a 10 KB unit", { ...ITEM, unit: `iscsi:${"a".repeat(10 * 1024)}` }],
  ["an extra field", { ...ITEM, command: ["rm", "-rf", "/"] }],
  ...HOSTILE_TEXT.filter(([, v]) => typeof v === "string" && v !== "").flatMap(([label, v]): Hostile[] => [
    [`unit with ${label}`, { ...ITEM, unit: `iscsi:${LIO_IQN}:lun0${v as string}` }],
    [`name with ${label}`, { ...ITEM, name: `/dev/sda${v as string}` }],
    [`reason with ${label}`, { ...ITEM, reason: `x${v as string}` }],
  ]),
];

const HOSTILE_OPTIONS: readonly Hostile[] = [
  ["a NaN deadline", { deadline: Number.NaN }],
  ["a string deadline", { deadline: "soon" }],
  ["an invalid Date", { deadline: new Date("nope") }],
  ["a signal that is not one", { signal: { aborted: false } }],
  ["not an object", 5],
];

function expectUntouched(label: string): void {
  expect(host.fake.commands(), `${label}: commands ran`).toEqual([]);
  expect(host.tree.writes, `${label}: sysfs written`).toEqual([]);
  expect(host.disks(), `${label}: a disk went`).toHaveLength(1);
  expect(host.sessions.size, `${label}: a session went`).toBe(1);
}

describe("host cleanup refuses hostile items and options before anything runs", () => {
  it.each([...HOSTILE_LISTS, ...HOSTILE_ITEMS.map(([l, v]): Hostile => [l, [v]])])("items: %s", async (label, items) => {
    const deps = world();
    const error = await refused(() => runHostCleanup(deps, items as never));
    expectRefusal(error, ["INVALID_ARGUMENT"]);
    expectUntouched(label);
  });

  it.each(HOSTILE_OPTIONS)("options of the run: %s", async (label, options) => {
    const deps = world();
    const error = await refused(() => runHostCleanup(deps, [ITEM] as never, options as never));
    expectRefusal(error, ["INVALID_ARGUMENT"]);
    expectUntouched(label);
  });

  it.each(HOSTILE_OPTIONS)("options of the plan: %s", async (label, options) => {
    const deps = world();
    const error = await refused(() => planHostCleanup(deps, options as never));
    expectRefusal(error, ["INVALID_ARGUMENT"]);
    expectUntouched(label);
  });

  it("a well-formed item naming what the scan does not find is skipped and removes nothing", async () => {
    const deps = world();
    const forged = { ...ITEM, unit: "iscsi:iqn.2005-01.com.example:other-system:lun0", name: "/dev/sda" };
    const report = (await runHostCleanup(deps, [forged] as never))._unsafeUnwrap();
    expect(report).toEqual({ removed: [], failed: [], skipped: [forged] });
    expect(host.fake.commands()).toEqual([expect.arrayContaining(["findmnt"]), ["iscsiadm", "-m", "node"]]); // the re-scan only
    expect(host.tree.writes).toEqual([]);
    expect(host.disks()).toHaveLength(1);
  });
});
