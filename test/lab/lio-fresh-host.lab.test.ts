/**
 * Issue 14, defect 8: on a freshly booted host with configfs mounted and `iscsi_target_mod` loaded,
 * LIO's iSCSI fabric directory (`/sys/kernel/config/target/iscsi`) exists only after targetcli
 * (rtslib) first starts. The lab guest is such a host: its init loads the modules and mounts
 * configfs but no longer creates the directory. This test makes sure the directory is absent
 * (an earlier test file of the same boot may have made it: it is removed then, which configfs
 * allows only while no target exists), then drives the LVM driver with the LIO helper from
 * `createVolume` to data read back through an iSCSI login with CHAP. Runs INSIDE the lab guest:
 *
 *   npx tsx lab/run.ts -- npx vitest run --project lab test/lab/lio-fresh-host.lab.test.ts
 */
import { existsSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIscsiConnector } from "../../src/connectors/iscsi/index.js";
import type { AttachedDevice, ConnectionInfo, Volume } from "../../src/core/records.js";
import { wrapDriver, type VolumeBackend } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { lab, must, pattern, readAt, sh, sha256, uid, writeAt } from "./helpers.js";

const CORE = "/sys/kernel/config/target";
const FABRIC = `${CORE}/iscsi`;
const MiB = 1024 * 1024;
const LIO_PORTALS = lab.portals.map((p) => `${p}:${lab.lioPort}`);
const WAIT = { deviceMs: 90_000, mapMs: 90_000, removeMs: 90_000 };
const cleanup: (() => Promise<unknown>)[] = [];

/** Makes this boot a fresh host again: no iSCSI fabric in configfs (only possible with no target). */
function removeFabric(): void {
  if (!existsSync(FABRIC)) return;
  const targets = readdirSync(FABRIC).filter((n) => n.startsWith("iqn.") || n.startsWith("eui.") || n.startsWith("naa."));
  if (targets.length > 0) throw new Error(`an earlier test left LIO targets (${targets.join(", ")}): the fabric cannot be removed to simulate a fresh host`);
  sh(["rmdir", FABRIC]);
}

beforeAll(() => {
  removeFabric();
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) {
    try {
      await fn();
    } catch (e) {
      console.error("cleanup:", e);
    }
  }
});

describe("LIO on a freshly booted host (issue 14, defect 8)", () => {
  it("has configfs and the modules, but no iSCSI fabric directory before targetcli starts", () => {
    expect(existsSync(CORE)).toBe(true);
    expect(existsSync("/sys/module/iscsi_target_mod")).toBe(true);
    expect(existsSync(FABRIC)).toBe(false);
  });

  it("the LVM driver with the LIO helper creates, exports and serves a volume: data written through an iSCSI login with CHAP reads back from the LV", async () => {
    const backend: VolumeBackend = wrapDriver(
      createLvmDriver({ driver: "lvm", volumeGroup: lab.vgThick, lvmType: "default", volumeClear: "none", target: { helper: "lio", portals: LIO_PORTALS, chap: true } })._unsafeUnwrap(),
    );
    // initialize (the LIO check) and setup run before this first write: they refused it before the fix.
    const created = await must(backend.createVolume({ id: uid("f"), sizeGiB: 1 }));
    cleanup.push(async () => {
      await must(backend.removeExport(created));
      await must(backend.deleteVolume(created));
    });
    expect(existsSync(FABRIC)).toBe(true); // made by targetcli (rtslib), as on any host

    const connector = createIscsiConnector({ multipath: false, timeouts: WAIT })._unsafeUnwrap();
    const host = await must(connector.getHostProperties());
    const volume: Volume = await must(backend.createExport(created, host));
    expect(volume.providerAuth).toMatch(/^CHAP \S+ \S+$/);
    expect(readdirSync(FABRIC)).toContain(`iqn.2010-10.org.openstack:volume-${created.id}`);
    const info: ConnectionInfo = await must(backend.initializeConnection(volume, host));
    expect(info).toMatchObject({ type: "iscsi", authMethod: "CHAP" });

    const device: AttachedDevice = await must(connector.connectVolume(info, { deadline: Date.now() + 240_000 }));
    cleanup.push(async () => connector.disconnectVolume(info, device, { force: true, ignoreErrors: true }));
    const data = pattern(4 * MiB);
    writeAt(device.path, 8 * MiB, data.data);
    const report = await must(connector.disconnectVolume(info, device, { deadline: Date.now() + 240_000 }));
    expect(report.leftBehind.filter((l) => !l.expected)).toEqual([]);
    // Read back from the LV itself: the bytes went through LIO to the volume.
    expect(sha256(readAt(`/dev/${lab.vgThick}/volume-${created.id}`, 8 * MiB, 4 * MiB))).toBe(data.sha);
  });
});
