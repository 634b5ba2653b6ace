import { z } from "zod";

/**
 * Back-end QoS: the limits a storage back end (an array's QoS policy, librbd's image settings)
 * enforces for one volume, handed to the driver on the volume spec (`VolumeSpec.qos`) when a
 * volume is created, cloned or managed. The volume service derives them from the QoS specs of the
 * volume's type whose consumer is `back-end` or `both` (Cinder's keys mapped by
 * {@link BACKEND_QOS_KEYS}, per-GB keys already scaled to the volume's size). Front-end QoS (the
 * hypervisor's `<iotune>`) travels in the connection info instead.
 */

const Limit = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Back-end QoS limits, per second; at least one. */
export const BackendQosSchema = z
  .strictObject({
    /** Total (read + write) I/O operations per second. */
    totalIopsSec: Limit.optional(),
    /** Read I/O operations per second. */
    readIopsSec: Limit.optional(),
    /** Write I/O operations per second. */
    writeIopsSec: Limit.optional(),
    /** Total (read + write) bytes per second. */
    totalBytesSec: Limit.optional(),
    /** Read bytes per second. */
    readBytesSec: Limit.optional(),
    /** Write bytes per second. */
    writeBytesSec: Limit.optional(),
  })
  .refine((q) => Object.values(q).some((v) => v !== undefined), "needs at least one limit");
/** Back-end QoS limits (parsed). */
export type BackendQos = z.output<typeof BackendQosSchema>;
/** Back-end QoS limits as written. */
export type BackendQosInput = z.input<typeof BackendQosSchema>;

/** Cinder's QoS spec keys → the typed fields of {@link BackendQos}. */
export const BACKEND_QOS_KEYS = {
  total_iops_sec: "totalIopsSec",
  read_iops_sec: "readIopsSec",
  write_iops_sec: "writeIopsSec",
  total_bytes_sec: "totalBytesSec",
  read_bytes_sec: "readBytesSec",
  write_bytes_sec: "writeBytesSec",
} as const satisfies Record<string, keyof BackendQos>;
