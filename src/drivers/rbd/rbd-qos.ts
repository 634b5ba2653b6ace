import { type ResultAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { ImageRef, RbdQos } from "./rbd-names.js";
import type { RbdPool } from "./rbd-pool.js";

/**
 * Back-end QoS from the volume type. Cinder binds QoS specs to volume types; volkit's drivers do
 * not see volume types, so the RBD driver's config maps a type name to its limits
 * (`qosSpecs: { gold: { iopsLimit: 5000 } }`) and every volume created, cloned or managed with
 * that `volumeType` gets them as image settings (`rbd config image set … rbd_qos_*`), which every
 * librbd client (QEMU, qemu-img, rbd-nbd) enforces. The kernel client (krbd) does not.
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

/**
 * Gives the image the limits of `volumeType`. `inherited`: the image may carry another image's
 * settings (a clone, a managed image), which are removed first; skipped when no QoS is configured
 * at all (then volkit never set any).
 */
export function applyTypeQos(pool: RbdPool, ref: ImageRef, volumeType: string | undefined, inherited: boolean, ctx: OperationContext): ResultAsync<void, VolkitError> {
  const qos = qosOfType(pool, volumeType);
  const anyConfigured = Object.keys(pool.config.qosSpecs).length > 0;
  const clear = inherited && anyConfigured ? (): ResultAsync<void, VolkitError> => pool.client.clearQos(ref, ctx) : (): ResultAsync<void, VolkitError> => okAsync(undefined);
  return ctx.phase("qos", () => clear().andThen(() => (qos === undefined ? okAsync(undefined) : pool.client.setQos(ref, qos, ctx))));
}
