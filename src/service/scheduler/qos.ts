import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { BACKEND_QOS_KEYS, BackendQosSchema, type BackendQos } from "../../core/backend-qos.js";
import type { QosSpecs } from "../../core/records.js";
import { validate } from "../../core/validation.js";
import { iotuneFromQosSpecs } from "../../libvirt/libvirt-qos.js";
import type { IoTune } from "../../libvirt/libvirt-options.js";
import type { QosSpecsRecord } from "../records/volume-type-record.js";

/**
 * Front-end QoS specs → the limits the hypervisor applies (Cinder's `_parse_connection_options`):
 * only specs consumed by `front-end` or `both`; per-GB keys (`total_iops_sec_per_gb`…) become the
 * plain key scaled by the volume size, at least `<key>_per_gb_min`, at most `<key>_max` (which is
 * then used up as the cap, exactly as Cinder does).
 */

/** The six limits that have per-GB variants. */
const PER_GB_OPTIONS = ["read_iops_sec", "read_bytes_sec", "write_iops_sec", "write_bytes_sec", "total_iops_sec", "total_bytes_sec"] as const;

/** Python's `int()` of a spec value; undefined where it raises. */
function toInt(value: number | string): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  const s = value.trim();
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

/**
 * The front-end QoS specs for a volume of `sizeGiB` (what goes into the connection info's
 * `qosSpecs`), or undefined when the specs are not for the front end. `INVALID_ARGUMENT` when a
 * limit is not a whole number.
 *
 * @example
 * ```ts
 * resolveFrontendQos({ consumer: "front-end", specs: { total_iops_sec_per_gb: 10, total_iops_sec_per_gb_min: 200 } }, 5);
 * // Ok({ total_iops_sec: 200 })
 * ```
 */
export function resolveFrontendQos(qos: Pick<QosSpecsRecord, "consumer" | "specs"> | undefined, sizeGiB: number): Result<QosSpecs | undefined, VolkitError> {
  if (qos === undefined || (qos.consumer !== "front-end" && qos.consumer !== "both")) return ok(undefined);
  return scaledSpecs(qos.specs, sizeGiB);
}

/** QoS specs with the per-GB keys resolved for `sizeGiB` and non-numeric (vendor) keys dropped. */
function scaledSpecs(input: QosSpecsRecord["specs"], sizeGiB: number): Result<QosSpecs, VolkitError> {
  const specs: Record<string, number | string> = { ...input };
  const bad = (key: string): Result<never, VolkitError> =>
    err(new VolkitError("INVALID_ARGUMENT", `QoS spec ${key} must be a whole number`, { source: "service", details: { key } }));
  for (const option of PER_GB_OPTIONS) {
    const perGbKey = `${option}_per_gb`;
    const perGb = specs[perGbKey];
    if (perGb === undefined) continue;
    const minKey = `${perGbKey}_min`;
    const maxKey = `${option}_max`;
    const perGbValue = toInt(perGb);
    const minimum = specs[minKey] === undefined ? 0 : toInt(specs[minKey]);
    if (perGbValue === undefined) return bad(perGbKey);
    if (minimum === undefined) return bad(minKey);
    const value = Math.max(minimum, perGbValue * sizeGiB);
    const maximum = specs[maxKey] === undefined ? value : toInt(specs[maxKey]);
    if (maximum === undefined) return bad(maxKey);
    specs[option] = Math.min(value, maximum);
    delete specs[perGbKey];
    delete specs[minKey];
    delete specs[maxKey];
  }
  const out: QosSpecs = {};
  for (const [key, value] of Object.entries(specs)) {
    if (typeof value === "number") out[key] = value;
    else {
      const n = toInt(value);
      if (n === undefined) {
        // Non-numeric keys are vendor keys for the back end; the hypervisor ignores them.
        continue;
      }
      out[key] = n;
    }
  }
  return ok(out);
}

/**
 * libvirt `<iotune>` limits for a volume of `sizeGiB` under these QoS specs (empty when they are
 * not for the front end), through the libvirt module's `iotuneFromQosSpecs`.
 */
export function iotuneForVolume(qos: Pick<QosSpecsRecord, "consumer" | "specs"> | undefined, sizeGiB: number): Result<IoTune, VolkitError> {
  return resolveFrontendQos(qos, sizeGiB).map((specs) => iotuneFromQosSpecs(specs));
}

/** Whether QoS specs ask the back end for limits (consumer `back-end` or `both`, with a limit key or its per-GB form). */
export function hasBackendQos(qos: Pick<QosSpecsRecord, "consumer" | "specs"> | undefined): boolean {
  if (qos === undefined || (qos.consumer !== "back-end" && qos.consumer !== "both")) return false;
  return Object.keys(qos.specs).some((k) => k in BACKEND_QOS_KEYS || k.replace(/_per_gb(_min)?$/, "") in BACKEND_QOS_KEYS);
}

/**
 * The back-end QoS of a volume of `sizeGiB` under these QoS specs (what the driver gets as
 * `VolumeSpec.qos`), or undefined when they are not for the back end. Cinder's keys
 * (`total_iops_sec`, `read_bytes_sec`…, per-GB forms scaled as for the front end) become the typed
 * fields of `BackendQos`; 0 (unlimited) is left out; other keys are the front end's or a vendor's.
 *
 * @example
 * ```ts
 * resolveBackendQos({ consumer: "back-end", specs: { total_iops_sec: 500, read_bytes_sec: 1048576 } }, 10);
 * // Ok({ totalIopsSec: 500, readBytesSec: 1048576 })
 * ```
 */
export function resolveBackendQos(qos: Pick<QosSpecsRecord, "consumer" | "specs"> | undefined, sizeGiB: number): Result<BackendQos | undefined, VolkitError> {
  if (!hasBackendQos(qos) || qos === undefined) return ok(undefined);
  return scaledSpecs(qos.specs, sizeGiB).andThen((specs) => {
    const out: Record<string, number> = {};
    for (const [key, field] of Object.entries(BACKEND_QOS_KEYS)) {
      const value = specs[key];
      if (value !== undefined && value > 0) out[field] = value;
    }
    return Object.keys(out).length === 0 ? ok(undefined) : validate(BackendQosSchema, out, "back-end QoS");
  });
}
