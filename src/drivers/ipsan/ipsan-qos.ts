import { type Result, type ResultAsync, err, errAsync, ok, okAsync } from "neverthrow";
import type { BackendQos } from "../../core/backend-qos.js";
import { rollbackContext, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { VolumeSpec } from "../../core/records.js";
import type { IpsanClient } from "./ipsan-client.js";
import type { ParsedIpsanConfig } from "./ipsan-config.js";
import { RUNNING_STATUS } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import { isOwnedGroupName, qosNameOf } from "./ipsan-names.js";
import type { QosLimitsInput } from "./ipsan-qos-api.js";
import type { LunInfo } from "./ipsan-types.js";

const MiB = 1024 * 1024;

/**
 * Back-end QoS (`VolumeSpec.qos`) as one array policy: the array's policy has one I/O type, so
 * total limits become a `readWrite` policy, read-only or write-only limits a `read` or `write`
 * one; bytes per second become whole MB/s (rounded down, at least 1). Limits of two I/O types at
 * once are refused (`INVALID_ARGUMENT`): one policy cannot hold them.
 */
export function policyLimits(qos: BackendQos): Result<QosLimitsInput, VolkitError> {
  const groups = [
    { ioType: "readWrite" as const, iops: qos.totalIopsSec, bytes: qos.totalBytesSec },
    { ioType: "read" as const, iops: qos.readIopsSec, bytes: qos.readBytesSec },
    { ioType: "write" as const, iops: qos.writeIopsSec, bytes: qos.writeBytesSec },
  ].filter((g) => g.iops !== undefined || g.bytes !== undefined);
  const [only, ...more] = groups;
  if (only === undefined || more.length > 0) {
    return err(
      new VolkitError("INVALID_ARGUMENT", `an IP-SAN QoS policy has one I/O type: give total, read or write limits, not ${groups.map((g) => g.ioType).join(" and ")}`, {
        source: "ipsan",
        details: { ioTypes: groups.map((g) => g.ioType) },
      }),
    );
  }
  return ok({
    ioType: only.ioType,
    ...(only.iops === undefined ? {} : { maxIops: Math.min(only.iops, 1_000_000_000) }),
    ...(only.bytes === undefined ? {} : { maxBandwidthMBps: Math.min(Math.max(1, Math.floor(only.bytes / MiB)), 1_000_000_000) }),
  });
}

/**
 * Back-end QoS the way Cinder's SmartQos does it: each volume with back-end QoS (its spec's `qos`, or
 * its type's entry in the driver's `qosSpecs`) gets a policy of its own (`OpenStack_<lun id>_volkit`), activated; deleting the volume takes it out and
 * deletes the policy once empty. Policies volkit did not make are never deleted.
 */
export class IpsanQos {
  readonly #client: IpsanClient;
  readonly #config: ParsedIpsanConfig;

  /** @param client - the REST client; @param config - the driver's parsed config (its `qosSpecs`). */
  constructor(client: IpsanClient, config: ParsedIpsanConfig) {
    this.#client = client;
    this.#config = config;
  }

  /**
   * The limits of a volume: its spec's back-end QoS when given (the volume service's, from the
   * type's QoS specs), else its type's entry in the driver's `qosSpecs`, else none.
   * `INVALID_ARGUMENT` for back-end QoS one policy cannot hold.
   */
  limitsFor(spec: Pick<VolumeSpec, "volumeType" | "qos">): Result<QosLimitsInput | undefined, VolkitError> {
    if (spec.qos !== undefined) return policyLimits(spec.qos);
    return ok(spec.volumeType === undefined ? undefined : this.#config.qosSpecs[spec.volumeType]);
  }

  /**
   * Puts `lun` in a policy with its type's limits and activates it. Safe to repeat: a LUN already in
   * a policy keeps it (activated if an earlier attempt stopped before activating), and a policy of
   * the deterministic name left by a crashed attempt is reused. A failed activation takes the LUN
   * out again.
   */
  apply(lun: LunInfo, spec: Pick<VolumeSpec, "volumeType" | "qos">, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const resolved = this.limitsFor(spec);
    if (resolved.isErr()) return errAsync(resolved.error);
    const limits = resolved.value;
    if (limits === undefined) return okAsync(undefined);
    const qos = this.#client.qos;
    const existing: ResultAsync<string | undefined, VolkitError> =
      lun.qosId === "" ? okAsync(undefined) : qos.find(lun.qosId, ctx).map((p) => (p ? p.id : undefined));
    return existing.andThen((id) => {
      if (id !== undefined) return this.#activate(id, lun.id, ctx);
      const name = qosNameOf(lun.id);
      return qos
        .create({ name, lunIds: [lun.id], limits }, ctx)
        .orElse((e) => {
          if (!isArrayError(e, "OBJECT_NAME_ALREADY_EXIST")) return errAsync(e);
          return qos.list(ctx).andThen((all) => {
            const found = all.find((p) => p.name === name);
            return found ? qos.addLun(found.id, lun.id, ctx).map(() => found.id) : errAsync(e);
          });
        })
        .andThen((created) => this.#activate(created, lun.id, ctx));
    });
  }

  /**
   * Takes `lun` out of its policy (the array refuses to delete a LUN in one). A policy volkit made
   * is deactivated and deleted when it becomes empty; another's only loses the LUN.
   */
  remove(lun: LunInfo, ctx: OperationContext): ResultAsync<void, VolkitError> {
    if (lun.qosId === "") return okAsync(undefined);
    const qos = this.#client.qos;
    return qos.find(lun.qosId, ctx).andThen((policy) => {
      if (!policy) return okAsync(undefined);
      if (isOwnedGroupName(policy.name, "qos")) return qos.removeLun(policy.id, lun.id, ctx);
      return qos.setLuns(
        policy.id,
        policy.lunIds.filter((l) => l !== lun.id),
        ctx,
      );
    });
  }

  #activate(id: string, lunId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const qos = this.#client.qos;
    return qos.find(id, ctx).andThen((policy) => {
      if (policy?.runningStatus === RUNNING_STATUS.qosActive) return okAsync(undefined);
      return qos.activate(id, true, ctx).orElse((e) =>
        // Cinder's SmartQos.add: a policy that cannot be activated is taken apart again.
        qos
          .removeLun(id, lunId, rollbackContext(ctx))
          .orElse(() => okAsync(undefined))
          .andThen(() => errAsync(e)),
      );
    });
  }
}
