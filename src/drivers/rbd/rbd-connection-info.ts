import type { ConnectionInfoInput, HostProperties } from "../../core/records.js";
import type { ParsedRbdConfig } from "./rbd-config.js";
import type { ImageRef } from "./rbd-names.js";
import type { CephMonMap } from "./rbd-parsers.js";

/**
 * The monitor addresses clients get (`host:port`, one per monitor): the legacy (msgr1) address
 * where the monitor has one, else its msgr2 address. Cinder hands out the same (`mon dump`'s
 * `addr`): QEMU's librbd tries both protocols on an address, and the kernel client's default
 * `ms_mode=legacy` speaks msgr1 only.
 */
export function monitorsForClients(map: CephMonMap): string[] {
  return map.monitors.map((m) => m.v1 ?? m.v2).filter((a): a is string => a !== undefined);
}

/**
 * The `rbd` connection info of an image: everything QEMU (libvirt `<disk type='network'>`) or the
 * kernel connector needs, with the libvirt secret or the attaching host's keyring as the
 * credentials. The key itself only with `exposeKey`.
 */
export function rbdConnectionInfo(config: ParsedRbdConfig, ref: ImageRef, volumeId: string, monitors: readonly string[], host: HostProperties): ConnectionInfoInput {
  return {
    type: "rbd",
    volumeId,
    accessMode: host.readOnly ? "ro" : "rw",
    pool: ref.pool,
    ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
    image: ref.image,
    monitors: [...monitors],
    clusterName: config.clusterName ?? "ceph",
    authEnabled: true,
    clientId: config.clientId,
    ...(config.libvirtSecretUuid === undefined ? {} : { secretUuid: config.libvirtSecretUuid }),
    ...(config.libvirtSecretUsage === undefined ? {} : { secretUsage: config.libvirtSecretUsage }),
    ...(config.hostKeyringPath === undefined ? {} : { keyringPath: config.hostKeyringPath }),
    ...(config.exposeKey && config.key !== undefined ? { key: config.key } : {}),
    discard: true,
  };
}
