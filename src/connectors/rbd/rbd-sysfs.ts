import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { blockDeviceSize, orMissing } from "../../host/block-sysfs.js";
import type { HostFs } from "../../host/host-fs.js";

/**
 * The kernel RBD client's sysfs: one directory per mapping, `/sys/bus/rbd/devices/<id>/` with
 * `pool`, `pool_ns`, `name` and `current_snap` (`-` for the image itself), the block device being
 * `/dev/rbd<id>` (`/sys/block/rbd<id>`). Read through a {@link HostFs}, so tests use a fake tree
 * laid out like the lab's kernel (test/fixtures/rbd/kernel-sysfs-*.txt).
 */

const DEVICES = "/sys/bus/rbd/devices";

/** One image mapped by the kernel client. */
export interface KrbdMapping {
  /** Mapping id: the N of `/dev/rbdN`. */
  readonly id: string;
  /** Pool. */
  readonly pool: string;
  /** Namespace (empty for none). */
  readonly namespace: string;
  /** Image name. */
  readonly image: string;
  /** Snapshot mapped, or undefined for the image itself. */
  readonly snapshot: string | undefined;
  /** Its block device, `/dev/rbd<id>`. */
  readonly device: string;
}

/** The kernel name of a mapping's block device (`rbd0`). */
export const krbdDiskName = (id: string): string => `rbd${id}`;

/** The mapping id behind `/dev/rbd<N>`, or undefined for any other path. */
export function krbdIdOf(devicePath: string): string | undefined {
  return /^\/dev\/rbd(\d{1,6})$/.exec(devicePath)?.[1];
}

/** One mapping, or undefined when it is gone (also while the kernel removes it). */
export function readKrbdMapping(fs: HostFs, id: string): ResultAsync<KrbdMapping | undefined, VolkitError> {
  if (!/^\d{1,6}$/.test(id)) return okAsync(undefined);
  const attr = (name: string): ResultAsync<string | undefined, VolkitError> => orMissing(fs.readFile(`${DEVICES}/${id}/${name}`)).map((t) => t?.replace(/\n$/, ""));
  return attr("name").andThen((image) => {
    if (image === undefined) return okAsync(undefined);
    return attr("pool").andThen((pool) =>
      attr("pool_ns").andThen((namespace) =>
        attr("current_snap").map((snap) =>
          pool === undefined
            ? undefined
            : { id, pool, namespace: namespace ?? "", image, snapshot: snap === undefined || snap === "-" ? undefined : snap, device: `/dev/${krbdDiskName(id)}` },
        ),
      ),
    );
  });
}

/** Every mapping on the host (none when the rbd module is not loaded). */
export function listKrbdMappings(fs: HostFs): ResultAsync<KrbdMapping[], VolkitError> {
  return orMissing(fs.readdir(DEVICES)).andThen((ids) =>
    (ids ?? []).reduce<ResultAsync<KrbdMapping[], VolkitError>>((chain, id) => chain.andThen((all) => readKrbdMapping(fs, id).map((m) => (m === undefined ? all : [...all, m]))), okAsync([])),
  );
}

/** Size of a mapping's block device in bytes (`/sys/block/rbd<id>/size`). */
export function krbdSize(fs: HostFs, id: string): ResultAsync<number, VolkitError> {
  return blockDeviceSize(fs, krbdDiskName(id));
}

/** Makes the kernel re-read the image header now (size, features): `echo 1 > …/refresh`. */
export function refreshKrbdMapping(fs: HostFs, id: string): ResultAsync<void, VolkitError> {
  return /^\d{1,6}$/.test(id) ? fs.writeFile(`${DEVICES}/${id}/refresh`, "1") : errAsync(new VolkitError("INVALID_ARGUMENT", `not an rbd mapping id: ${id}`, { source: "rbd" }));
}
