import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { waitFor } from "../../host/wait.js";
import { COPY_SPEED, HEALTH_NORMAL, OBJECT_TYPE, RUNNING_STATUS, type CopySpeed } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import { ArrayDescriptionSchema, ArrayIdSchema, ArrayNameSchema, RestApi, check, type Created } from "./ipsan-rest.js";
import { SnapshotSchema, type SnapshotInfo } from "./ipsan-types.js";

/** Snapshots (`/snapshot`): create, activate, stop, delete, rollback. */
export class SnapshotApi extends RestApi {
  /**
   * `POST /snapshot {TYPE 27, NAME, PARENTTYPE 11, PARENTID, DESCRIPTION}`. The snapshot is not
   * yet a point in time: {@link activate} takes it. A name that exists on the same LUN is returned
   * with `created: false` (a retried create); on another LUN it is `SNAPSHOT_EXISTS`.
   */
  create(input: { name: string; lunId: string; description?: string }, ctx: OperationContext): ResultAsync<Created<SnapshotInfo>, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema, lunId: ArrayIdSchema, description: ArrayDescriptionSchema.default("") }).strict();
    return check(schema, input, "snapshot").andThen((spec) =>
      this.one(
        { method: "POST", path: "/snapshot", body: { TYPE: String(OBJECT_TYPE.snapshot), NAME: spec.name, PARENTTYPE: String(OBJECT_TYPE.lun), PARENTID: spec.lunId, DESCRIPTION: spec.description }, kind: "snapshot" },
        SnapshotSchema,
        "snapshot",
        ctx,
      )
        .map((value) => ({ value, created: true }))
        .orElse((e) => {
          if (!isArrayError(e, "OBJECT_NAME_ALREADY_EXIST", "MESSAGE_TIMEOUT")) return errAsync(e);
          return this.findByName(spec.name, ctx).andThen((existing) => {
            if (!existing) return errAsync(e);
            return existing.lunId === spec.lunId
              ? okAsync({ value: existing, created: false })
              : errAsync(new VolkitError("SNAPSHOT_EXISTS", `snapshot ${spec.name} already exists on another LUN`, { source: "ipsan", details: { ...e.details, snapshotId: existing.id } }));
          });
        }),
    );
  }

  /** `POST /snapshot/activate {SNAPSHOTLIST: [ids]}`: takes the point-in-time copies. */
  activate(ids: readonly string[], ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(z.array(ArrayIdSchema).min(1), ids, "snapshot ids").andThen((list) =>
      this.act({ method: "POST", path: "/snapshot/activate", body: { SNAPSHOTLIST: list }, kind: "snapshot" }, ctx).map(() => undefined),
    );
  }

  /** `PUT /snapshot/stop {ID}`: deactivates (what Cinder does before a delete). Stopping a stopped snapshot succeeds. */
  stop(id: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "snapshot id").andThen((sid) =>
      this.act({ method: "PUT", path: "/snapshot/stop", body: { ID: sid }, kind: "snapshot" }, ctx, ["SNAPSHOT_NOT_ACTIVATED"]).map(() => undefined),
    );
  }

  /** `DELETE /snapshot/<id>`; a missing snapshot succeeds (returns false). */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "snapshot id").andThen((sid) =>
      this.act({ method: "DELETE", path: `/snapshot/${sid}`, body: { TYPE: String(OBJECT_TYPE.snapshot), ID: sid }, kind: "snapshot" }, ctx, ["SNAPSHOT_NOT_EXIST", "OBJECT_NOT_EXIST"]),
    );
  }

  /** `GET /snapshot/<id>`; `SNAPSHOT_NOT_FOUND` when missing. */
  get(id: string, ctx: OperationContext): ResultAsync<SnapshotInfo, VolkitError> {
    return check(ArrayIdSchema, id, "snapshot id").andThen((sid) => this.one({ method: "GET", path: `/snapshot/${sid}`, kind: "snapshot" }, SnapshotSchema, "snapshot", ctx));
  }

  /** Like {@link get}, undefined when missing. */
  find(id: string, ctx: OperationContext): ResultAsync<SnapshotInfo | undefined, VolkitError> {
    return this.get(id, ctx).orElse((e) => (e.code === "SNAPSHOT_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
  }

  /** The snapshot of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<SnapshotInfo | undefined, VolkitError> {
    return this.byName("/snapshot", name, SnapshotSchema, "snapshot", ctx);
  }

  /** Every snapshot (paged), or those of one LUN (`filter=PARENTID::<id>`). */
  list(ctx: OperationContext, options: { lunId?: string } = {}): ResultAsync<SnapshotInfo[], VolkitError> {
    if (options.lunId === undefined) return this.all("/snapshot", SnapshotSchema, "snapshot", ctx);
    return check(ArrayIdSchema, options.lunId, "LUN id").andThen((lunId) =>
      this.all("/snapshot", SnapshotSchema, "snapshot", ctx, `filter=PARENTID::${lunId}&`).map((items) => items.filter((s) => s.lunId === lunId)),
    );
  }

  /** `PUT /snapshot/<id> {NAME?, DESCRIPTION?}`. */
  update(id: string, changes: { name?: string; description?: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema.optional(), description: ArrayDescriptionSchema.optional() }).strict();
    return check(ArrayIdSchema, id, "snapshot id").andThen((sid) =>
      check(schema, changes, "snapshot changes").andThen((c) =>
        this.act({ method: "PUT", path: `/snapshot/${sid}`, body: { ...(c.name === undefined ? {} : { NAME: c.name }), ...(c.description === undefined ? {} : { DESCRIPTION: c.description }) }, kind: "snapshot" }, ctx).map(() => undefined),
      ),
    );
  }

  /** `PUT /snapshot/rollback {ID, ROLLBACKSPEED}`: starts writing the snapshot back onto its LUN. */
  rollback(id: string, speed: CopySpeed, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "snapshot id").andThen((sid) =>
      this.act({ method: "PUT", path: "/snapshot/rollback", body: { ID: sid, ROLLBACKSPEED: COPY_SPEED[speed] }, kind: "snapshot" }, ctx).map(() => undefined),
    );
  }

  /** `PUT /snapshot/cancelrollback {ID}`. */
  cancelRollback(id: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "snapshot id").andThen((sid) => this.act({ method: "PUT", path: "/snapshot/cancelrollback", body: { ID: sid }, kind: "snapshot" }, ctx).map(() => undefined));
  }

  /**
   * Waits for a rollback to end: done when `ROLLBACKRATE` is 100 or `ROLLBACKENDTIME` is set (the
   * test of Huawei's driver); a snapshot whose health is not normal fails the wait.
   */
  waitRollback(id: string, timeoutMs: number, ctx: OperationContext, onProgress?: (percent: number) => void): ResultAsync<SnapshotInfo, VolkitError> {
    return waitFor(
      () =>
        this.get(id, ctx).andThen((s) => {
          if (s.healthStatus !== HEALTH_NORMAL) return errAsync(new VolkitError("INVALID_STATE", `snapshot ${id} is not healthy during rollback`, { source: "ipsan", details: { snapshotId: id, healthStatus: s.healthStatus } }));
          const rate = Number(s.rollbackRate || "0");
          onProgress?.(rate);
          const done = s.runningStatus !== RUNNING_STATUS.snapshotRollingBack && (rate === 100 || (s.rollbackEndTime !== "" && s.rollbackEndTime !== "-1"));
          return okAsync(done ? s : undefined);
        }),
      { timeoutMs, signal: ctx.signal, minDelayMs: 100, maxDelayMs: 2_000, onTimeout: () => new VolkitError("TIMEOUT", `rollback of snapshot ${id} did not end within ${timeoutMs} ms`, { source: "ipsan" }) },
    );
  }
}
