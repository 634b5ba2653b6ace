import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { waitFor } from "../../host/wait.js";
import { CLONE_PAIR_STATUS, COPY_SPEED, HEALTH_NORMAL, OBJECT_TYPE, RUNNING_STATUS, type CopySpeed } from "./ipsan-constants.js";
import { ArrayIdSchema, ArrayNameSchema, RestApi, check } from "./ipsan-rest.js";
import { ClonePairSchema, IdOnlySchema, LunCopySchema, type ClonePairInfo, type LunCopyInfo } from "./ipsan-types.js";

/** Polling bounds of the copy waits. */
const POLL = { minDelayMs: 100, maxDelayMs: 2_000 } as const;

/**
 * LUN copy tasks (`/luncopy`, `/LUNCOPY`): a full copy of a LUN or snapshot into another LUN, the
 * way Cinder makes a volume from a snapshot and a clone (through a temporary snapshot).
 */
export class LunCopyApi extends RestApi {
  /**
   * `POST /luncopy {TYPE 219, NAME, DESCRIPTION, COPYSPEED, LUNCOPYTYPE "1", SOURCELUN, TARGETLUN}`
   * where the LUN fields are `INVALID;<id>;INVALID;INVALID;INVALID`. The source may be a LUN or a
   * snapshot id (they share one id space on the array). Returns the task id.
   */
  create(input: { name: string; sourceId: string; targetId: string; speed: CopySpeed }, ctx: OperationContext): ResultAsync<string, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema, sourceId: ArrayIdSchema, targetId: ArrayIdSchema, speed: z.enum(["low", "medium", "high", "highest"]) }).strict();
    return check(schema, input, "LUN copy").andThen((spec) =>
      this.one(
        {
          method: "POST",
          path: "/luncopy",
          body: {
            TYPE: OBJECT_TYPE.lunCopy,
            NAME: spec.name,
            DESCRIPTION: spec.name,
            COPYSPEED: String(COPY_SPEED[spec.speed]),
            LUNCOPYTYPE: "1",
            SOURCELUN: `INVALID;${spec.sourceId};INVALID;INVALID;INVALID`,
            TARGETLUN: `INVALID;${spec.targetId};INVALID;INVALID;INVALID`,
          },
          kind: "lunCopy",
        },
        IdOnlySchema,
        "LUN copy",
        ctx,
      ),
    );
  }

  /** `PUT /LUNCOPY/start {TYPE 219, ID}`. */
  start(id: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "LUN copy id").andThen((cid) =>
      this.act({ method: "PUT", path: "/LUNCOPY/start", body: { TYPE: String(OBJECT_TYPE.lunCopy), ID: cid }, kind: "lunCopy" }, ctx).map(() => undefined),
    );
  }

  /** `PUT /LUNCOPY/stop {ID}`; a stopped or completed copy succeeds. */
  stop(id: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "LUN copy id").andThen((cid) =>
      this.act({ method: "PUT", path: "/LUNCOPY/stop", body: { ID: cid }, kind: "lunCopy" }, ctx, ["LUNCOPY_ALREADY_STOPPED", "LUNCOPY_COMPLETED"]).map(() => undefined),
    );
  }

  /** `GET /LUNCOPY/<id>`. */
  get(id: string, ctx: OperationContext): ResultAsync<LunCopyInfo, VolkitError> {
    return check(ArrayIdSchema, id, "LUN copy id").andThen((cid) => this.one({ method: "GET", path: `/LUNCOPY/${cid}`, kind: "lunCopy" }, LunCopySchema, "LUN copy", ctx));
  }

  /** Every LUN copy task (paged). */
  list(ctx: OperationContext): ResultAsync<LunCopyInfo[], VolkitError> {
    return this.all("/LUNCOPY", LunCopySchema, "lunCopy", ctx);
  }

  /** `DELETE /LUNCOPY/<id>`; a missing task succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "LUN copy id").andThen((cid) =>
      this.act({ method: "DELETE", path: `/LUNCOPY/${cid}`, kind: "lunCopy" }, ctx, ["LUNCOPY_NOT_EXIST", "LUNCOPY_NOT_EXIST_CSI", "OBJECT_NOT_EXIST"]),
    );
  }

  /**
   * Polls the task until `RUNNINGSTATUS` 40 (complete), reporting `COPYPROGRESS`; a health other
   * than normal ends the wait with `COMMAND_FAILED` (the copy broke on the array).
   */
  waitComplete(id: string, timeoutMs: number, ctx: OperationContext, onProgress?: (percent: number) => void): ResultAsync<LunCopyInfo, VolkitError> {
    return waitFor(
      () =>
        this.get(id, ctx).andThen((copy) => {
          if (copy.healthStatus !== HEALTH_NORMAL) {
            return errAsync(new VolkitError("COMMAND_FAILED", `LUN copy ${id} failed on the array (HEALTHSTATUS ${copy.healthStatus}, RUNNINGSTATUS ${copy.runningStatus})`, { source: "ipsan", details: { lunCopyId: id, healthStatus: copy.healthStatus, runningStatus: copy.runningStatus } }));
          }
          onProgress?.(copy.progress);
          return okAsync(copy.runningStatus === RUNNING_STATUS.lunCopyComplete ? copy : undefined);
        }),
      { timeoutMs, signal: ctx.signal, ...POLL, onTimeout: () => new VolkitError("TIMEOUT", `LUN copy ${id} did not complete within ${timeoutMs} ms`, { source: "ipsan", details: { lunCopyId: id } }) },
    );
  }
}

/** Clone pairs (`/clonepair`, Dorado V6 and later): a full copy of a LUN or snapshot into a LUN. */
export class ClonePairApi extends RestApi {
  /** `POST /clonepair/relation {copyRate, sourceID, targetID, isNeedSynchronize "0"}`; returns the pair id. */
  create(input: { sourceId: string; targetId: string; speed: CopySpeed }, ctx: OperationContext): ResultAsync<string, VolkitError> {
    const schema = z.object({ sourceId: ArrayIdSchema, targetId: ArrayIdSchema, speed: z.enum(["low", "medium", "high", "highest"]) }).strict();
    return check(schema, input, "clone pair").andThen((spec) =>
      this.one(
        { method: "POST", path: "/clonepair/relation", body: { copyRate: String(COPY_SPEED[spec.speed]), sourceID: spec.sourceId, targetID: spec.targetId, isNeedSynchronize: "0" }, kind: "clonePair" },
        IdOnlySchema,
        "clone pair",
        ctx,
      ),
    );
  }

  /** `PUT /clonepair/synchronize {ID, copyAction 0}`: starts the copy. */
  sync(id: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "clone pair id").andThen((pid) => this.act({ method: "PUT", path: "/clonepair/synchronize", body: { ID: pid, copyAction: 0 }, kind: "clonePair" }, ctx).map(() => undefined));
  }

  /** `PUT /clonepair/synchronize {ID, copyAction 2}`: stops the copy; a finished or idle pair succeeds. */
  stop(id: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "clone pair id").andThen((pid) =>
      this.act({ method: "PUT", path: "/clonepair/synchronize", body: { ID: pid, copyAction: 2 }, kind: "clonePair" }, ctx, ["CLONE_PAIR_SYNC_COMPLETE", "CLONE_PAIR_SYNC_NOT_EXIST", "CLONE_PAIR_NOT_EXIST"]).map(() => undefined),
    );
  }

  /** `GET /clonepair/<id>`. */
  get(id: string, ctx: OperationContext): ResultAsync<ClonePairInfo, VolkitError> {
    return check(ArrayIdSchema, id, "clone pair id").andThen((pid) => this.one({ method: "GET", path: `/clonepair/${pid}`, kind: "clonePair" }, ClonePairSchema, "clone pair", ctx));
  }

  /**
   * Every clone pair (paged `GET /clonepair`; Huawei's CSI queries the same list with
   * `filter=ID::<id>`). Used to find pairs a crashed copy left on a LUN.
   */
  list(ctx: OperationContext): ResultAsync<ClonePairInfo[], VolkitError> {
    return this.all("/clonepair", ClonePairSchema, "clonePair", ctx);
  }

  /** `DELETE /clonepair/<id> {ID, isDeleteDstLun}`; a missing pair succeeds (returns false). */
  delete(id: string, ctx: OperationContext, options: { deleteTarget?: boolean } = {}): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "clone pair id").andThen((pid) =>
      this.act({ method: "DELETE", path: `/clonepair/${pid}`, body: { ID: pid, isDeleteDstLun: options.deleteTarget ?? false }, kind: "clonePair" }, ctx, ["CLONE_PAIR_NOT_EXIST"]),
    );
  }

  /** Polls until `syncStatus` 2 (complete); a `copyStatus` other than 0 fails the wait. */
  waitSynced(id: string, timeoutMs: number, ctx: OperationContext, onProgress?: (percent: number) => void): ResultAsync<ClonePairInfo, VolkitError> {
    return waitFor(
      () =>
        this.get(id, ctx).andThen((pair) => {
          if (pair.copyStatus !== CLONE_PAIR_STATUS.healthy) {
            return errAsync(new VolkitError("COMMAND_FAILED", `clone pair ${id} is abnormal on the array (copyStatus ${pair.copyStatus})`, { source: "ipsan", details: { clonePairId: id, copyStatus: pair.copyStatus } }));
          }
          onProgress?.(pair.progress);
          return okAsync(pair.syncStatus === CLONE_PAIR_STATUS.syncComplete ? pair : undefined);
        }),
      { timeoutMs, signal: ctx.signal, ...POLL, onTimeout: () => new VolkitError("TIMEOUT", `clone pair ${id} did not finish within ${timeoutMs} ms`, { source: "ipsan", details: { clonePairId: id } }) },
    );
  }
}
