/**
 * libvirt disk XML for two attachments, from the connection info a driver returns and the device
 * a host connector attached: an iSCSI multipath volume (the dm device, io native, QoS) and an NFS
 * qcow2 volume (the file, io threads). Then one refused combination, to show the typed error.
 *
 * Runs on any machine, nothing is contacted or attached:
 *   npx tsx examples/libvirt-xml.ts
 */
import type { AttachedDevice } from "../src/core/records.js";
import type { ConnectionInfo } from "../src/core/records.js";
import { buildDiskXml, DISK_RULES, guestDiskByIdPath, resolveDisk, type DiskRule } from "../src/libvirt/index.js";

const volumeId = "3e9d0a6e-8b5e-4a0e-9a0e-0b1c2d3e4f50";
const iqn = `iqn.2010-10.org.openstack:volume-${volumeId}`;

/** What an iSCSI driver's initializeConnection returns for a multipath host (CHAP on). */
const iscsi: ConnectionInfo = {
  type: "iscsi",
  volumeId,
  accessMode: "rw",
  encrypted: false,
  targetDiscovered: false,
  targetIqn: iqn,
  targetPortal: "127.0.0.1:3260",
  targetLun: 1,
  targetPortals: ["127.0.0.1:3260", "127.0.0.2:3260"],
  targetIqns: [iqn, iqn],
  targetLuns: [1, 1],
  authMethod: "CHAP",
  authUsername: "volkit-user",
  authPassword: "example-only-password",
  discard: true,
  qosSpecs: { total_bytes_sec: 100 * 1024 * 1024, read_iops_sec: 2000, write_iops_sec: 1000 },
};

/** What the iSCSI connector's connectVolume hands back: the multipath map over two paths. */
const multipath: AttachedDevice = {
  type: "block",
  path: "/dev/dm-3",
  scsiWwn: "360014051f2c1c8d7e0a44f3b9a1c2d3e",
  multipathId: "360014051f2c1c8d7e0a44f3b9a1c2d3e",
  paths: ["/dev/sdb", "/dev/sdc"],
};

/** What the NFS driver returns for a qcow2 volume file, and where the NFS connector mounted it. */
const nfs: ConnectionInfo = {
  type: "nfs",
  volumeId,
  accessMode: "rw",
  encrypted: false,
  export: "127.0.0.1:/srv/nfs/cinder",
  name: `volume-${volumeId}`,
  format: "qcow2",
};
const nfsFile: AttachedDevice = { type: "file", path: `/var/lib/volkit/mnt/0c5a1c6e2f9c4a7f8f1b0d3e2a4c6b8d/volume-${volumeId}`, paths: [], format: "qcow2" };

function show(title: string, xml: ReturnType<typeof buildDiskXml>): boolean {
  console.log(`--- ${title}`);
  if (xml.isErr()) {
    const rule = xml.error.details.rule as DiskRule | undefined;
    console.log(`${xml.error.code} (${rule ?? "field check"}): ${xml.error.message}`);
    if (rule !== undefined) console.log(`libvirt/QEMU side: ${DISK_RULES[rule].enforcedBy.join(", ")}`);
    return false;
  }
  console.log(xml.value);
  return true;
}

const target = { dev: "vdb", bus: "virtio" } as const;
const okIscsi = show("iSCSI multipath, host mode", buildDiskXml({ connection: iscsi, device: multipath, options: { target } }));
const disk = resolveDisk({ connection: iscsi, device: multipath, options: { target } });
if (disk.isOk() && disk.value.serial !== undefined) console.log(`the guest finds it at ${guestDiskByIdPath(disk.value.serial, "virtio")}\n`);
const okNfs = show("NFS qcow2, host mode", buildDiskXml({ connection: nfs, device: nfsFile, options: { target: { dev: "vdc", bus: "virtio" } } }));
const refused = !show("refused: io native with cache writeback", buildDiskXml({ connection: iscsi, device: multipath, options: { target, driver: { cache: "writeback", io: "native" } } }));

process.exitCode = okIscsi && okNfs && refused ? 0 : 1;
