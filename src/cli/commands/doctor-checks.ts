import type { Argv } from "../../exec/runner.js";

/**
 * What `volkit doctor` looks for on this host: each tool volkit runs, the Debian package that
 * ships it, and the service it needs running, with the fix for each. The tool is found by running
 * it through the command runner (so a root helper or an SSH runner checks the host it drives);
 * any exit status but "not found" means it is installed.
 */

/** Areas a check belongs to (`doctor --only lvm,iscsi`). */
export const DOCTOR_AREAS = ["lvm", "tgt", "lio", "iscsi", "multipath", "nfs", "qemu", "ceph", "xfs"] as const;
/** An area. */
export type DoctorArea = (typeof DOCTOR_AREAS)[number];

/** A daemon a tool needs. */
export interface ServiceNeed {
  /** systemd unit (`iscsid`). */
  readonly unit: string;
  /** Process name looked for without systemd (`pgrep -x`). */
  readonly process: string;
}

/** A kernel facility a tool needs, seen as a path under /sys. */
export interface KernelNeed {
  /** Path whose presence means it is there (`/sys/kernel/config/target`). */
  readonly path: string;
  /** What it is. */
  readonly what: string;
  /** The command that provides it. */
  readonly fix: string;
}

/** One check. */
export interface DoctorCheck {
  /** Stable id (`iscsiadm`). */
  readonly id: string;
  /** Area. */
  readonly area: DoctorArea;
  /** Command probed: the tool with a harmless flag (version or help). */
  readonly probe: Argv;
  /** Debian package shipping it. */
  readonly package: string;
  /** What volkit uses it for. */
  readonly neededFor: string;
  /** A daemon that must run. */
  readonly service?: ServiceNeed;
  /** A kernel facility that must be present. */
  readonly kernel?: KernelNeed;
}

/** Every check, in the order they are printed. */
export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  { id: "lvm", area: "lvm", probe: ["lvm", "version"], package: "lvm2", neededFor: "LVM backends (lvcreate, lvs, thin pools)" },
  { id: "tgtadm", area: "tgt", probe: ["tgtadm", "--version"], package: "tgt", neededFor: "LVM backends exporting through tgt (target.helper: tgt)", service: { unit: "tgt", process: "tgtd" } },
  {
    id: "targetcli",
    area: "lio",
    probe: ["targetcli", "--version"],
    package: "targetcli-fb",
    neededFor: "LVM backends exporting through LIO (target.helper: lio)",
    kernel: { path: "/sys/kernel/config/target", what: "the LIO target core in configfs", fix: "modprobe target_core_mod" },
  },
  { id: "iscsiadm", area: "iscsi", probe: ["iscsiadm", "--version"], package: "open-iscsi", neededFor: "attaching iSCSI volumes on this host", service: { unit: "iscsid", process: "iscsid" } },
  {
    id: "multipathd",
    area: "multipath",
    probe: ["multipath", "-h"],
    package: "multipath-tools",
    neededFor: "multipath attaches (host.connectors.iscsi.multipath: true)",
    service: { unit: "multipathd", process: "multipathd" },
  },
  { id: "mount.nfs", area: "nfs", probe: ["mount.nfs", "-V"], package: "nfs-common", neededFor: "NFS backends and attaching NFS volumes" },
  { id: "qemu-img", area: "qemu", probe: ["qemu-img", "--version"], package: "qemu-utils", neededFor: "NFS volumes (qcow2), image conversion (volkit image convert)" },
  { id: "ceph", area: "ceph", probe: ["ceph", "--version"], package: "ceph-common", neededFor: "RBD backends (cluster status, capacity)" },
  {
    id: "rbd",
    area: "ceph",
    probe: ["rbd", "--version"],
    package: "ceph-common",
    neededFor: "RBD backends and mapping RBD images on this host",
    kernel: { path: "/sys/bus/rbd", what: "the kernel RBD client", fix: "modprobe rbd" },
  },
  { id: "xfs_io", area: "xfs", probe: ["xfs_io", "-V"], package: "xfsprogs", neededFor: "backups of sparse files (SEEK_DATA/SEEK_HOLE probes)" },
];

/** The apt and service commands that fix a check's findings. */
export function fixesFor(check: DoctorCheck, finding: { readonly installed: boolean; readonly serviceRunning?: boolean | undefined; readonly kernelPresent?: boolean | undefined; readonly systemd: boolean }): string[] {
  const fixes: string[] = [];
  if (!finding.installed) fixes.push(`apt-get install -y ${check.package}`);
  if (check.service && (!finding.installed || finding.serviceRunning === false)) {
    fixes.push(finding.systemd ? `systemctl enable --now ${check.service.unit}` : `start ${check.service.process} (no systemd here: run it under your init system)`);
  }
  if (check.kernel && finding.kernelPresent === false) fixes.push(check.kernel.fix);
  return fixes;
}
