import { z } from "zod";
import { DisplayNameSchema, RecordIdSchema, RecordMetaFields } from "./record-fields.js";

/** An extra spec key: Cinder's `key`, `scope:key` or `capabilities:scope:key`. */
export const ExtraSpecKeySchema = z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*$/, "must be an extra spec key like capabilities:disk_type").max(255);

/**
 * A volume type (Cinder's `volume_types` with `volume_type_extra_specs`): its extra specs route
 * volumes to pools (`volume_backend_name`, capability requirements with Cinder's operators,
 * `provisioning:type`, `multiattach`), and it may link QoS specs. Storage tiers are just types.
 *
 * @example
 * ```ts
 * VolumeTypeRecordSchema.parse({ id: "t-ssd", name: "ssd", extraSpecs: { disk_type: "<in> ssd", "provisioning:type": "thin" } });
 * ```
 */
export const VolumeTypeRecordSchema = z.object({
  /** Stable id. */
  id: RecordIdSchema,
  /** Unique name. */
  name: DisplayNameSchema.min(1),
  /** Description. */
  description: z.string().max(1024).optional(),
  /** Extra specs, values as Cinder writes them (`"<is> True"`, `">= 100"`, `"thin"`). */
  extraSpecs: z.record(ExtraSpecKeySchema, z.string().max(1024)).default({}),
  /** Linked QoS specs. */
  qosSpecsId: RecordIdSchema.optional(),
  /** Whether every project may use it. */
  isPublic: z.boolean().default(true),
  ...RecordMetaFields,
});
/** A volume type (parsed). */
export type VolumeTypeRecord = z.output<typeof VolumeTypeRecordSchema>;
/** A volume type as a caller writes it. */
export type VolumeTypeRecordInput = z.input<typeof VolumeTypeRecordSchema>;

/** Who applies QoS specs: the hypervisor (`front-end`), the array (`back-end`), or both. */
export const QosConsumerSchema = z.enum(["front-end", "back-end", "both"]);
/** A QoS consumer. */
export type QosConsumer = z.output<typeof QosConsumerSchema>;

/**
 * QoS specs (Cinder's `quality_of_service_specs`): front-end keys become libvirt `<iotune>`
 * (`total_iops_sec`, `read_bytes_sec_max`, `total_iops_sec_per_gb`…), back-end keys go to the driver.
 *
 * @example
 * ```ts
 * QosSpecsRecordSchema.parse({ id: "q-1", name: "gold", consumer: "front-end", specs: { total_iops_sec_per_gb: 10 } });
 * ```
 */
export const QosSpecsRecordSchema = z.object({
  /** Stable id. */
  id: RecordIdSchema,
  /** Unique name. */
  name: DisplayNameSchema.min(1),
  /** Who applies them. */
  consumer: QosConsumerSchema.default("back-end"),
  /** Key/values; numbers for limits, strings for vendor keys. */
  specs: z.record(z.string().regex(/^[A-Za-z0-9_:.-]{1,255}$/, "must be a QoS key"), z.union([z.number().finite(), z.string().max(1024)])).default({}),
  ...RecordMetaFields,
});
/** QoS specs (parsed). */
export type QosSpecsRecord = z.output<typeof QosSpecsRecordSchema>;
/** QoS specs as a caller writes them. */
export type QosSpecsRecordInput = z.input<typeof QosSpecsRecordSchema>;
