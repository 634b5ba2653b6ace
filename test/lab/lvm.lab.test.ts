import { wrapDriver } from "../../src/drivers/backend.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VolumeBackend } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { GiB } from "../../src/drivers/base.js";
import type { Snapshot, Volume } from "../../src/core/records.js";
import { deviceSize, lab, must, lvPhysicalOffset, lvsRows, pattern, readAt, sha256, uid, vgsRow, writeAt } from "./helpers.js";

const MiB = 1024 * 1024;

// The same lifecycle runs against a thick VG (lvmType default) and a thin one (lvmType thin).
for (const mode of ["thick", "thin"] as const) {
  describe(`LVM driver on real lvm2 (${mode})`, () => {
    const vg = mode === "thick" ? lab.vgThick : lab.vgThin;
    let backend: VolumeBackend;
    const dev = (v: { id: string }): string => `/dev/${vg}/volume-${v.id}`;
    const cleanup: (() => Promise<unknown>)[] = [];

    beforeAll(async () => {
      // Lifecycle deletes zero only the first 64 MiB (emulated I/O is slow); the wipe test below
      // uses a full-wipe backend and checks every written extent on the PV.
      backend = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: vg, lvmType: mode === "thick" ? "default" : "thin", volumeClear: "zero", volumeClearSizeMiB: 64 })._unsafeUnwrap());
      await must(backend.setup());
    });

    afterAll(async () => {
      for (const fn of cleanup.reverse()) await fn();
    });

    /**
     * Free space is reported rounded down to 0.01 GiB (never more than lvcreate will grant).
     * `slack`: the error of `exact` itself (a thin pool's data_percent has two decimals).
     */
    const expectFreeRoundedDown = (reported: unknown, exact: number, slack = 0): void => {
      expect(typeof reported).toBe("number");
      expect(reported as number).toBeLessThanOrEqual(exact + slack);
      expect(reported as number).toBeGreaterThan(exact - 0.01 - slack);
    };

    it("reports stats that match vgs/lvs", async () => {
      const stats = await must(backend.getVolumeStats());
      const pool = stats.pools[0];
      expect(pool).toBeDefined();
      if (mode === "thick") {
        const row = vgsRow(vg);
        expect(stats.totalCapacityGiB).toBeCloseTo(Number(row.vg_size) / GiB, 2);
        expectFreeRoundedDown(stats.freeCapacityGiB, Number(row.vg_free) / GiB);
        expect(pool?.thickProvisioningSupport).toBe(true);
      } else {
        const poolRow = lvsRows(vg).get(`${vg}-pool`);
        expect(poolRow?.lv_attr?.[0]).toBe("t");
        const total = Number(poolRow?.lv_size) / GiB;
        expect(stats.totalCapacityGiB).toBeCloseTo(total, 2);
        expectFreeRoundedDown(stats.freeCapacityGiB, total - (total * Number(poolRow?.data_percent)) / 100, total * 0.00005);
        expect(pool?.thinProvisioningSupport).toBe(true);
      }
    });

    it("keeps data correct through snapshot, from-snapshot with grow, clone, revert, extend and delete", async () => {
      const a: Volume = await must(backend.createVolume({ id: uid("a"), sizeGiB: 1 }));
      cleanup.push(async () => await backend.deleteVolume(a));
      expect(deviceSize(dev(a))).toBe(GiB);
      // Retrying a create is detected, not a second LV.
      expect((await backend.createVolume({ id: a.id, sizeGiB: 1 }))._unsafeUnwrapErr().code).toBe("VOLUME_EXISTS");

      const p1 = pattern(4 * MiB);
      writeAt(dev(a), 0, p1.data);
      writeAt(dev(a), 900 * MiB, p1.data);
      expect(sha256(readAt(dev(a), 0, 4 * MiB))).toBe(p1.sha);

      const s1: Snapshot = await must(backend.createSnapshot({ id: uid("s"), volumeId: a.id, volumeSizeGiB: 1 }, a));
      cleanup.push(async () => await backend.deleteSnapshot(s1));
      // Retrying the snapshot returns the same one.
      expect((await backend.createSnapshot({ id: s1.id, volumeId: a.id, volumeSizeGiB: 1 }, a)).isOk()).toBe(true);

      const p2 = pattern(4 * MiB);
      writeAt(dev(a), 0, p2.data);

      // Deleting a volume with snapshots is refused and changes nothing.
      const busy = await backend.deleteVolume(a);
      expect(busy._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
      expect(sha256(readAt(dev(a), 0, 4 * MiB))).toBe(p2.sha);

      const b = await must(backend.createVolumeFromSnapshot({ id: uid("b"), sizeGiB: 2 }, s1));
      cleanup.push(async () => await backend.deleteVolume(b));
      expect(deviceSize(dev(b))).toBe(2 * GiB);
      expect(sha256(readAt(dev(b), 0, 4 * MiB))).toBe(p1.sha);
      expect(sha256(readAt(dev(b), 900 * MiB, 4 * MiB))).toBe(p1.sha);

      const c = await must(backend.createClonedVolume({ id: uid("c"), sizeGiB: 1 }, a));
      cleanup.push(async () => await backend.deleteVolume(c));
      expect(sha256(readAt(dev(c), 0, 4 * MiB))).toBe(p2.sha);
      expect(sha256(readAt(dev(c), 900 * MiB, 4 * MiB))).toBe(p1.sha);

      await must(backend.revertToSnapshot(a, s1));
      expect(sha256(readAt(dev(a), 0, 4 * MiB))).toBe(p1.sha);
      // The snapshot survives the revert and still holds the old data.
      expect(lvsRows(vg).has(`_snapshot-${s1.id}`)).toBe(true);

      const grown = await must(backend.extendVolume(a, 2));
      expect(grown.sizeGiB).toBe(2);
      expect(deviceSize(dev(a))).toBe(2 * GiB);
      expect(sha256(readAt(dev(a), 0, 4 * MiB))).toBe(p1.sha);
      // Extending again to the same size is a no-op success.
      expect((await backend.extendVolume(grown, 2)).isOk()).toBe(true);

      await must(backend.deleteSnapshot(s1));
      await must(backend.deleteSnapshot(s1)); // retry-safe
      expect(lvsRows(vg).has(`_snapshot-${s1.id}`)).toBe(false);

      for (const v of [c, b, grown]) {
        await must(backend.deleteVolume(v));
        await must(backend.deleteVolume(v)); // deleting a missing volume succeeds
        expect(lvsRows(vg).has(`volume-${v.id}`)).toBe(false);
      }
    });

    if (mode === "thin") {
      it("reverts a thin volume that was extended after the snapshot, keeping the new size", async () => {
        const v = await must(backend.createVolume({ id: uid("r"), sizeGiB: 1 }));
        cleanup.push(async () => await backend.deleteVolume(v));
        const p = pattern(MiB);
        writeAt(dev(v), 0, p.data);
        const s = await must(backend.createSnapshot({ id: uid("s"), volumeId: v.id, volumeSizeGiB: 1 }, v));
        writeAt(dev(v), 0, pattern(MiB).data);
        const big = await must(backend.extendVolume(v, 2));
        await must(backend.revertToSnapshot(big, s));
        expect(deviceSize(dev(v))).toBe(2 * GiB);
        expect(sha256(readAt(dev(v), 0, MiB))).toBe(p.sha);
        // The snapshot still blocks deleting the volume after the LV was swapped.
        expect((await backend.deleteVolume(big))._unsafeUnwrapErr().code).toBe("VOLUME_BUSY");
        await must(backend.deleteSnapshot(s));
        await must(backend.deleteVolume(big));
      });

      it("keeps a thin clone thin", async () => {
        const v = await must(backend.createVolume({ id: uid("t"), sizeGiB: 1 }));
        cleanup.push(async () => await backend.deleteVolume(v));
        writeAt(dev(v), 0, pattern(8 * MiB).data);
        const c = await must(backend.createClonedVolume({ id: uid("tc"), sizeGiB: 1 }, v));
        cleanup.push(async () => await backend.deleteVolume(c));
        const row = lvsRows(vg).get(`volume-${c.id}`);
        // A thin snapshot shares blocks: the clone owns far less than its 1 GiB.
        expect(Number(row?.data_percent)).toBeLessThan(5);
        await must(backend.deleteVolume(c));
        await must(backend.deleteVolume(v));
      });
    }

    if (mode === "thick") {
      it("zeroes a thick volume's extents on delete", async () => {
        const fullWipe = wrapDriver(createLvmDriver({ driver: "lvm", volumeGroup: vg, lvmType: "default", volumeClear: "zero" })._unsafeUnwrap());
        const v = await must(fullWipe.createVolume({ id: uid("w"), sizeGiB: 1 }));
        cleanup.push(async () => await fullWipe.deleteVolume(v));
        const p = pattern(2 * MiB);
        writeAt(dev(v), 0, p.data);
        writeAt(dev(v), 1000 * MiB, p.data);
        // Where those bytes live on the PV itself (the LV may span several segments).
        const at0 = lvPhysicalOffset(vg, `volume-${v.id}`, 0);
        const at1000 = lvPhysicalOffset(vg, `volume-${v.id}`, 1000 * MiB);
        expect(sha256(readAt(at0.pv, at0.offset, 2 * MiB))).toBe(p.sha);
        expect(sha256(readAt(at1000.pv, at1000.offset, 2 * MiB))).toBe(p.sha);
        await must(fullWipe.deleteVolume(v));
        const zeros = Buffer.alloc(2 * MiB);
        expect(readAt(at0.pv, at0.offset, 2 * MiB).equals(zeros)).toBe(true);
        expect(readAt(at1000.pv, at1000.offset, 2 * MiB).equals(zeros)).toBe(true);
      });

      it("refuses a volume larger than the free space with INSUFFICIENT_CAPACITY and creates nothing", async () => {
        const before = lvsRows(vg).size;
        const r = await backend.createVolume({ id: uid("x"), sizeGiB: 4096 });
        expect(r._unsafeUnwrapErr().code).toBe("INSUFFICIENT_CAPACITY");
        expect(lvsRows(vg).size).toBe(before);
      });
    }
  });
}
