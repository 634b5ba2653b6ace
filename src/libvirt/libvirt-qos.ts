import { err, ok, type Result } from "neverthrow";
import type { VolkitError } from "../core/errors.js";
import type { QosSpecs } from "../core/records.js";
import { IOTUNE_FIELDS, IOTUNE_MAX_VALUE, type IoTune, type IoTuneField } from "./libvirt-options.js";
import { ruleError } from "./libvirt-rules.js";

/**
 * Cinder front-end QoS → `<iotune>`, and QEMU's throttling rules checked up front.
 */

/**
 * Picks the front-end QoS keys libvirt understands out of Cinder's `qos_specs`, as nova does
 * (`total_bytes_sec`, `read_iops_sec`, `*_max`, `*_max_length`, `size_iops_sec`…). Other keys
 * (back-end or vendor keys, `*_per_gb` before Cinder resolved them) are ignored. Values are not
 * checked here; {@link checkIoTune} does that.
 *
 * @example
 * ```ts
 * iotuneFromQosSpecs({ total_bytes_sec: 1048576, read_iops_sec: 100, consumer_key: 1 });
 * // { totalBytesSec: 1048576, readIopsSec: 100 }
 * ```
 */
export function iotuneFromQosSpecs(qos: QosSpecs | undefined): IoTune {
  const out: IoTune = {};
  if (qos === undefined) return out;
  for (const [field, key] of IOTUNE_FIELDS) {
    const value = qos[key];
    if (value !== undefined) out[field] = value;
  }
  return out;
}

const DIRECTIONS = ["total", "read", "write"] as const;
const METRICS = ["Bytes", "Iops"] as const;

const xmlName = (field: IoTuneField): string => IOTUNE_FIELDS.find(([f]) => f === field)?.[1] ?? field;

/**
 * Drops zero (unlimited) fields and checks the rules libvirt and QEMU apply to throttling:
 * whole numbers up to 1e15; `total_*` excludes `read_*`/`write_*` of the same kind; a `*_max`
 * burst needs its base limit and cannot be lower; a `*_max_length` above 1 needs its `*_max`;
 * `size_iops_sec` needs an iops limit. Returns the normalized limits (undefined when none remain).
 *
 * @example
 * ```ts
 * checkIoTune({ totalBytesSec: 100, readBytesSec: 10 }); // Err: rule iotune-total-vs-rw
 * ```
 */
export function checkIoTune(iotune: { readonly [K in IoTuneField]?: number | undefined }): Result<IoTune | undefined, VolkitError> {
  const t: IoTune = {};
  for (const [field] of IOTUNE_FIELDS) {
    const value = iotune[field];
    if (value === undefined || value === 0) continue;
    if (!Number.isSafeInteger(value) || value < 0 || value > IOTUNE_MAX_VALUE) {
      return err(ruleError("iotune-value", `iotune ${xmlName(field)} must be a whole number from 0 to 1e15 (QEMU's limit), got ${value}`, { field: xmlName(field) }));
    }
    t[field] = value;
  }
  for (const metric of METRICS) {
    for (const suffix of ["", "Max", "MaxLength"] as const) {
      const total = `total${metric}Sec${suffix}` as IoTuneField;
      const read = `read${metric}Sec${suffix}` as IoTuneField;
      const write = `write${metric}Sec${suffix}` as IoTuneField;
      if (t[total] !== undefined && (t[read] !== undefined || t[write] !== undefined)) {
        const other = t[read] !== undefined ? read : write;
        return err(
          ruleError("iotune-total-vs-rw", `iotune ${xmlName(total)} cannot be combined with ${xmlName(other)}: libvirt allows either a total limit or read/write limits of the same kind`, {
            fields: [xmlName(total), xmlName(other)],
          }),
        );
      }
    }
    for (const dir of DIRECTIONS) {
      const base = `${dir}${metric}Sec` as IoTuneField;
      const max = `${dir}${metric}SecMax` as IoTuneField;
      const length = `${dir}${metric}SecMaxLength` as IoTuneField;
      const b = t[base];
      const m = t[max];
      const l = t[length];
      if (m !== undefined && b === undefined) {
        return err(ruleError("iotune-max-needs-base", `iotune ${xmlName(max)} needs ${xmlName(base)}: QEMU refuses a burst without its base limit`, { fields: [xmlName(max), xmlName(base)] }));
      }
      if (m !== undefined && b !== undefined && m < b) {
        return err(ruleError("iotune-max-below-base", `iotune ${xmlName(max)} (${m}) cannot be lower than ${xmlName(base)} (${b})`, { fields: [xmlName(max), xmlName(base)] }));
      }
      if (l !== undefined && l > 1 && m === undefined) {
        return err(ruleError("iotune-length-needs-max", `iotune ${xmlName(length)} needs ${xmlName(max)}: QEMU refuses a burst length without a burst rate`, { fields: [xmlName(length), xmlName(max)] }));
      }
      if (l !== undefined && m !== undefined && l > IOTUNE_MAX_VALUE / m) {
        return err(ruleError("iotune-value", `iotune ${xmlName(max)} × ${xmlName(length)} exceeds QEMU's 1e15 limit`, { fields: [xmlName(max), xmlName(length)] }));
      }
    }
  }
  if (t.sizeIopsSec !== undefined && t.totalIopsSec === undefined && t.readIopsSec === undefined && t.writeIopsSec === undefined) {
    return err(ruleError("iotune-size-needs-iops", "iotune size_iops_sec needs total_iops_sec, read_iops_sec or write_iops_sec", { fields: ["size_iops_sec"] }));
  }
  return ok(Object.keys(t).length === 0 ? undefined : t);
}
