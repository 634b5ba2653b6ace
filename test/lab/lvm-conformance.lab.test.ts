import { wrapDriver } from "../../src/drivers/backend.js";
import { createLvmDriver } from "../../src/drivers/lvm/index.js";
import { describeVolumeDriverConformance } from "../../src/testing/conformance.js";
import { lab, readAt, writeAt } from "./helpers.js";

// The exported conformance suite (volkit/testing) against the real LVM driver: thin volumes in the
// lab's thin VG, exported through the real tgtd with CHAP, data checked through the LV devices.
describeVolumeDriverConformance({
  name: "LVM driver (thin, tgt export) on real lvm2",
  create: () =>
    wrapDriver(createLvmDriver({
      driver: "lvm",
      volumeGroup: lab.vgThin,
      lvmType: "thin",
      target: { helper: "tgt", portals: [`127.0.0.1:${lab.tgtPort}`], chap: true, volumesDir: lab.tgtVolumesDir },
    })._unsafeUnwrap()),
  host: { host: "lab", initiator: lab.initiator, multipath: false },
  io: {
    write: (volume, data) => Promise.resolve(writeAt(`/dev/${lab.vgThin}/volume-${volume.id}`, 0, data)),
    read: (volume, bytes) => Promise.resolve(readAt(`/dev/${lab.vgThin}/volume-${volume.id}`, 0, bytes)),
  },
  timeoutMs: 300_000,
});
