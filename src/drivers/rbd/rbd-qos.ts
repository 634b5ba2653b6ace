import { type ResultAsync, okAsync } from "neverthrow";
import type { BackendQos } from "../../core/backend-qos.js";
import type { OperationContext } from "../../core/context.js";
import type { VolumeSpec } from "../../core/records.js";
import type { VolkitError } from "../../core/errors.js";
import type { ImageRef, RbdQos } from "./rbd-names.js";
import type { RbdPool } from "./rbd-pool.js";

/**
 * Back-end QoS: the volume spec's `qos` (the volume service resolves it from the type's QoS specs),
 * else the RBD driver's config, which maps a type name to its limits
 * (`qosSpecs: { gold: { iopsLimit: 5000 } }`). Every volume created, cloned or managed gets them
 * as image settings (`rbd config image set … rbd_qos_*`), which every librbd client (QEMU,
 * qemu-img, rbd-nbd) enforces. The kernel client (krbd) does not.
 *
 * Clones inherit their parent's image settings (librbd copies the image metadata), so a clone gets
 * its own type's limits and loses the source's, whenever any QoS is configured.
 */

/** The limits configured for `volumeType`, or undefined. */
export function qosOfType(pool: RbdPool, volumeType: string | undefined): RbdQos | undefined {
  if (volumeType === undefined) return undefined;
  const qos = pool.config.qosSpecs[volumeType];
  return qos !== undefined && Object.keys(qos).length > 0 ? qos : undefined;
}

/** Back-end QoS (`VolumeSpec.qos`, the volume service's) as librbd's image limits. */
export function rbdQosOf(qos: BackendQos): RbdQos {
  const out: Record<string, number> = {};
  const pairs: readonly [keyof BackendQos, keyof RbdQos][] = [
    ["totalIopsSec", "iopsLimit"],
    ["readIopsSec", "readIopsLimit"],
    ["writeIopsSec", "writeIopsLimit"],
    ["totalBytesSec", "bpsLimit"],
    ["readBytesSec", "readBpsLimit"],
    ["writeBytesSec", "writeBpsLimit"],
  ];
  for (const [from, to] of pairs) {
    const value = qos[from];
    if (value !== undefined) out[to] = value;
  }
  return out;
}

/** The limits of a volume: its spec's back-end QoS when given, else its type's entry in the config's `qosSpecs`. */
export function qosOfSpec(pool: RbdPool, spec: Pick<VolumeSpec, "volumeType" | "qos">): RbdQos | undefined {
  return spec.qos === undefined ? qosOfType(pool, spec.volumeType) : rbdQosOf(spec.qos);
}

/**
 * Gives the image the limits of its spec (see {@link qosOfSpec}). `inherited`: the image may carry
 * another image's settings (a clone, a managed image), which are removed first; skipped when no
 * QoS is configured at all and the spec has none (then volkit never set any on this pool's images
 * through the config).
 */
export function applyTypeQos(pool: RbdPool, ref: ImageRef, spec: Pick<VolumeSpec, "volumeType" | "qos">, inherited: boolean, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const qos = qosOfSpec(pool, spec);
  const anyConfigured = Object.keys(pool.config.qosSpecs).length > 0 || spec.qos !== undefined;
  const clear = inherited && anyConfigured ? (): ResultAsync<void, VolkitError> => pool.client.clearQos(ref, ctx) : (): ResultAsync<void, VolkitError> => okAsync(undefined);
  return ctx.phase("qos", () => clear().andThen(() => (qos === undefined ? okAsync(undefined) : pool.client.setQos(ref, qos, ctx))));
}
