import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { OBJECT_TYPE } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import { ArrayIdSchema, ArrayNameSchema, RestApi, check } from "./ipsan-rest.js";
import { IdOnlySchema, QosSchema, type QosInfo } from "./ipsan-types.js";

const Limit = z.number().int().min(1).max(1_000_000_000);

/**
 * A QoS policy's limits. `IOTYPE`: `read` 0, `write` 1, `readWrite` 2. Upper limits (max IOPS,
 * max bandwidth in MB/s) and lower limits (min IOPS, min bandwidth, latency in ms) cannot be mixed
 * in one policy (the array's rule, which Cinder checks too); at least one limit is required.
 */
export const QosLimitsSchema = z
  .object({
    ioType: z.enum(["read", "write", "readWrite"]).default("readWrite").meta({ title: "I/O type", description: "Which I/O the limits apply to: read, write or both (the array's IOTYPE 0, 1, 2)." }),
    maxIops: Limit.optional().meta({ title: "Max IOPS", description: "Upper limit of I/O operations per second (MAXIOPS)." }),
    maxBandwidthMBps: Limit.optional().meta({ title: "Max bandwidth (MB/s)", description: "Upper limit of bandwidth in MB/s (MAXBANDWIDTH)." }),
    minIops: Limit.optional().meta({ title: "Min IOPS", description: "Guaranteed I/O operations per second (MINIOPS); not with upper limits." }),
    minBandwidthMBps: Limit.optional().meta({ title: "Min bandwidth (MB/s)", description: "Guaranteed bandwidth in MB/s (MINBANDWIDTH); not with upper limits." }),
    latencyMs: Limit.optional().meta({ title: "Latency (ms)", description: "Target latency in ms (LATENCY); not with upper limits." }),
  })
  .strict()
  .refine((q) => [q.maxIops, q.maxBandwidthMBps, q.minIops, q.minBandwidthMBps, q.latencyMs].some((v) => v !== undefined), "needs at least one limit")
  .refine(
    (q) => !((q.maxIops !== undefined || q.maxBandwidthMBps !== undefined) && (q.minIops !== undefined || q.minBandwidthMBps !== undefined || q.latencyMs !== undefined)),
    "upper limits (max*) and lower limits (min*, latency) cannot be mixed",
  );

/** QoS limits as a caller writes them. */
export type QosLimitsInput = z.input<typeof QosLimitsSchema>;

const IO_TYPE = { read: "0", write: "1", readWrite: "2" } as const;

/** QoS policies (`/ioclass`). */
export class QosApi extends RestApi {
  /**
   * `POST /ioclass {TYPE 230, NAME, LUNLIST, CLASSTYPE "1", SCHEDULEPOLICY "2", …, IOTYPE, MAXIOPS…}`
   * (the always-on schedule Cinder uses). Returns the policy id; activate it with {@link activate}.
   */
  create(input: { name: string; lunIds: readonly string[]; limits: QosLimitsInput }, ctx: OperationContext): ResultAsync<string, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema, lunIds: z.array(ArrayIdSchema).max(64), limits: QosLimitsSchema }).strict();
    return check(schema, input, "QoS policy").andThen((spec) => {
      const l = spec.limits;
      const body: Record<string, unknown> = {
        TYPE: String(OBJECT_TYPE.qos),
        NAME: spec.name,
        LUNLIST: spec.lunIds,
        CLASSTYPE: "1",
        SCHEDULEPOLICY: "2",
        SCHEDULESTARTTIME: "1410969600",
        STARTTIME: "08:00",
        DURATION: "86400",
        CYCLESET: "[1,2,3,4,5,6,0]",
        IOTYPE: IO_TYPE[l.ioType],
        ...(l.maxIops === undefined ? {} : { MAXIOPS: String(l.maxIops) }),
        ...(l.maxBandwidthMBps === undefined ? {} : { MAXBANDWIDTH: String(l.maxBandwidthMBps) }),
        ...(l.minIops === undefined ? {} : { MINIOPS: String(l.minIops) }),
        ...(l.minBandwidthMBps === undefined ? {} : { MINBANDWIDTH: String(l.minBandwidthMBps) }),
        ...(l.latencyMs === undefined ? {} : { LATENCY: String(l.latencyMs) }),
      };
      return this.one({ method: "POST", path: "/ioclass", body, kind: "qos" }, IdOnlySchema, "QoS policy", ctx);
    });
  }

  /** `PUT /ioclass/active/<id> {TYPE 230, ID, ENABLESTATUS}`: turns the policy on or off. */
  activate(id: string, enabled: boolean, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "QoS id").andThen((qid) =>
      this.act({ method: "PUT", path: `/ioclass/active/${qid}`, body: { TYPE: OBJECT_TYPE.qos, ID: qid, ENABLESTATUS: enabled }, kind: "qos" }, ctx).map(() => undefined),
    );
  }

  /** `GET /ioclass/<id>`, undefined when it does not exist. */
  find(id: string, ctx: OperationContext): ResultAsync<QosInfo | undefined, VolkitError> {
    return check(ArrayIdSchema, id, "QoS id").andThen((qid) =>
      this.one({ method: "GET", path: `/ioclass/${qid}`, kind: "qos" }, QosSchema, "QoS policy", ctx).orElse((e) => (isArrayError(e, "OBJECT_NOT_EXIST") ? okAsync(undefined) : errAsync(e))),
    );
  }

  /** `GET /ioclass`: every policy. */
  list(ctx: OperationContext): ResultAsync<QosInfo[], VolkitError> {
    return this.many({ method: "GET", path: "/ioclass", kind: "qos" }, QosSchema, "QoS policy list", ctx);
  }

  /** `PUT /ioclass/<id> {LUNLIST}`: sets the LUNs of a policy. */
  setLuns(id: string, lunIds: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "QoS id").andThen((qid) =>
      check(z.array(ArrayIdSchema).max(64), lunIds, "LUN ids").andThen((luns) =>
        this.act({ method: "PUT", path: `/ioclass/${qid}`, body: { TYPE: OBJECT_TYPE.qos, ID: qid, LUNLIST: luns }, kind: "qos" }, ctx).map(() => undefined),
      ),
    );
  }

  /** `DELETE /ioclass/<id>`; a missing policy succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "QoS id").andThen((qid) => this.act({ method: "DELETE", path: `/ioclass/${qid}`, body: { TYPE: String(OBJECT_TYPE.qos), ID: qid }, kind: "qos" }, ctx, ["OBJECT_NOT_EXIST"]));
  }

  /** Puts a LUN in a policy (read, add, write the LUN list; at most 64 LUNs per policy). */
  addLun(id: string, lunId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, lunId, "LUN id").andThen((lid) =>
      this.find(id, ctx).andThen((policy) => {
        if (!policy) return errAsync(new VolkitError("INVALID_STATE", `QoS policy ${id} does not exist`, { source: "ipsan", details: { qosId: id } }));
        return policy.lunIds.includes(lid) ? okAsync(undefined) : this.setLuns(id, [...policy.lunIds, lid], ctx);
      }),
    );
  }

  /**
   * Takes a LUN out of its policy the way Cinder's SmartQos.remove does: the last LUN out
   * deactivates and deletes the policy, otherwise the LUN list shrinks. A missing policy succeeds.
   */
  removeLun(id: string, lunId: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.find(id, ctx).andThen((policy) => {
      if (!policy) return okAsync(undefined);
      const rest = policy.lunIds.filter((l) => l !== lunId);
      if (rest.length > 0) return this.setLuns(id, rest, ctx);
      return this.activate(id, false, ctx).andThen(() => this.delete(id, ctx)).map(() => undefined);
    });
  }
}
