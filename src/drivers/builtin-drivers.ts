import type { z } from "zod";
import { defineDriver, loadDriverModule, type DriverDefinition } from "./driver-definition.js";
import { IpsanConfigSchema } from "./ipsan/ipsan-config.js";
import { LvmConfigSchema } from "./lvm/lvm-config.js";
import { NfsConfigSchema } from "./nfs/nfs-config.js";
import { RbdConfigSchema } from "./rbd/rbd-config.js";

/**
 * The built-in drivers as the registry knows them. Only their config schemas load with volkit;
 * each driver's code loads when the first backend of that kind is created.
 */

/** The LVM driver: thick and thin LVs exported over iSCSI (tgt or LIO), or local. */
export const lvmDriverDefinition = defineDriver({
  name: "lvm",
  title: "LVM",
  description: "Thick or thin logical volumes in one volume group, exported over iSCSI through tgt or LIO (or attached locally)",
  configSchema: LvmConfigSchema,
  defaultBackendName: (config) => `lvm-${config.volumeGroup}`,
  create: (config, deps) => loadDriverModule(() => import("./lvm/lvm-factory.js"), "LVM driver").andThen((m) => m.buildLvmDriver(config, deps)),
});

/** The NFS driver: volume files (sparse raw or qcow2) on NFS shares. */
export const nfsDriverDefinition = defineDriver({
  name: "nfs",
  title: "NFS",
  description: "Volume files (sparse raw, thick raw or qcow2) on one or more NFS shares, with qcow2 snapshot chains",
  configSchema: NfsConfigSchema,
  defaultBackendName: () => "nfs",
  create: (config, deps) => loadDriverModule(() => import("./nfs/nfs-factory.js"), "NFS driver").andThen((m) => m.buildNfsDriver(config, deps)),
});

/** The IP-SAN driver: LUNs on OceanStor-style arrays over their REST API, exported over iSCSI. */
export const ipsanDriverDefinition = defineDriver({
  name: "ipsan",
  title: "IP-SAN (OceanStor REST)",
  description: "Thin or thick LUNs on an OceanStor-style array (the REST dialect of Cinder's Huawei driver), mapped to hosts over iSCSI with CHAP and multipath",
  configSchema: IpsanConfigSchema,
  defaultBackendName: (config) => `ipsan-${config.storagePools[0] ?? "array"}`,
  create: (config, deps) => loadDriverModule(() => import("./ipsan/ipsan-factory.js"), "IP-SAN driver").andThen((m) => m.buildIpsanDriver(config, deps)),
});

/** The Ceph RBD driver: thin images in a pool, copy-on-write clones, attached by QEMU or the kernel client. */
export const rbdDriverDefinition = defineDriver({
  name: "rbd",
  title: "Ceph RBD",
  description: "Thin images in a Ceph pool with snapshots and copy-on-write clones, attached by QEMU through librbd or by the kernel rbd client",
  configSchema: RbdConfigSchema,
  defaultBackendName: (config) => `rbd-${config.pool}`,
  create: (config, deps) => loadDriverModule(() => import("./rbd/rbd-factory.js"), "RBD driver").andThen((m) => m.buildRbdDriver(config, deps)),
});

/** Every built-in driver, in the order a panel lists them. */
export const BUILTIN_DRIVERS: readonly DriverDefinition[] = [lvmDriverDefinition, nfsDriverDefinition, ipsanDriverDefinition, rbdDriverDefinition];

/** Config types of the built-in drivers, by name (the base of `DriverConfigs`). */
export interface BuiltinDriverConfigs {
  /** See `LvmConfigSchema`. */
  lvm: z.input<typeof LvmConfigSchema>;
  /** See `NfsConfigSchema`. */
  nfs: z.input<typeof NfsConfigSchema>;
  /** See `IpsanConfigSchema`. */
  ipsan: z.input<typeof IpsanConfigSchema>;
  /** See `RbdConfigSchema`. */
  rbd: z.input<typeof RbdConfigSchema>;
}
