import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { z } from "zod";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { waitFor } from "../../host/wait.js";
import { ALLOC_TYPE, COPY_SPEED, HEALTH_NORMAL, OBJECT_TYPE, RUNNING_STATUS, SECTORS_PER_GIB, type CopySpeed } from "./ipsan-constants.js";
import { isArrayError } from "./ipsan-errors.js";
import { ArrayDescriptionSchema, ArrayIdSchema, ArrayNameSchema, RestApi, check, type Created } from "./ipsan-rest.js";
import { LunSchema, PoolSchema, SystemSchema, type LunInfo, type PoolInfo, type SystemInfo } from "./ipsan-types.js";

/** Whole GiB to the array's 512-byte sectors. */
export function gibToSectors(gib: number): number {
  return gib * SECTORS_PER_GIB;
}

/** A LUN capacity in sectors: a positive whole number of sectors, at most 64 PiB. */
export const CapacitySectorsSchema = z.number().int().min(1).max(64 * 1024 ** 5 / 512);

/** What {@link LunApi.create} needs. */
export const CreateLunSchema = z
  .object({
    /** LUN name (≤ 31 characters): derive it deterministically so a retried create finds it. */
    name: ArrayNameSchema,
    /** Storage pool id. */
    poolId: ArrayIdSchema,
    /** Size in 512-byte sectors. */
    capacitySectors: CapacitySectorsSchema,
    /** Thick (`ALLOCTYPE` 0) or thin (1). */
    allocType: z.enum(["thick", "thin"]),
    /** Free text (Cinder stores the volume name). */
    description: ArrayDescriptionSchema.default(""),
  })
  .strict();

/** Input of {@link LunApi.create}. */
export type CreateLunInput = z.input<typeof CreateLunSchema>;

/** LUNs (`/lun`), Dorado clone LUNs (`ISCLONE`) and the readiness wait. */
export class LunApi extends RestApi {
  /**
   * `POST /lun {TYPE 11, NAME, PARENTTYPE 216, PARENTID, ALLOCTYPE, CAPACITY, DESCRIPTION}`. When
   * the name exists (or the array timed out creating it), the LUN of that name is read back: an
   * identical one (same pool, capacity, type) is returned with `created: false`, anything else is
   * `VOLUME_EXISTS`.
   */
  create(input: CreateLunInput, ctx: OperationContext): ResultAsync<Created<LunInfo>, VolkitError> {
    return check(CreateLunSchema, input, "LUN").andThen((spec) => {
      const body = {
        TYPE: String(OBJECT_TYPE.lun),
        NAME: spec.name,
        PARENTTYPE: String(OBJECT_TYPE.pool),
        PARENTID: spec.poolId,
        DESCRIPTION: spec.description,
        ALLOCTYPE: ALLOC_TYPE[spec.allocType],
        CAPACITY: spec.capacitySectors,
      };
      return this.one({ method: "POST", path: "/lun", body, kind: "lun" }, LunSchema, "LUN", ctx)
        .map((value) => ({ value, created: true }))
        .orElse((e) => {
          if (!isArrayError(e, "OBJECT_NAME_ALREADY_EXIST", "MESSAGE_TIMEOUT")) return errAsync(e);
          return this.findByName(spec.name, ctx).andThen((existing) => {
            if (!existing) return errAsync(e);
            const same = existing.poolId === spec.poolId && existing.capacitySectors === spec.capacitySectors && existing.allocType === spec.allocType;
            return same
              ? okAsync({ value: existing, created: false })
              : errAsync(new VolkitError("VOLUME_EXISTS", `LUN ${spec.name} already exists with another pool, size or type`, { source: "ipsan", details: { ...e.details, lunId: existing.id } }));
          });
        });
    });
  }

  /**
   * `POST /lun {NAME, CLONESOURCEID, ISCLONE: true}`: a clone LUN sharing blocks with its source
   * LUN or snapshot until split (Dorado "HyperClone"). Arrays refuse a clone deeper than their limit.
   */
  createClone(input: { name: string; sourceId: string; description?: string }, ctx: OperationContext): ResultAsync<LunInfo, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema, sourceId: ArrayIdSchema, description: ArrayDescriptionSchema.optional() }).strict();
    return check(schema, input, "clone LUN").andThen((spec) =>
      this.one(
        { method: "POST", path: "/lun", body: { NAME: spec.name, CLONESOURCEID: spec.sourceId, ISCLONE: true, ...(spec.description === undefined ? {} : { DESCRIPTION: spec.description }) }, kind: "lun" },
        LunSchema,
        "clone LUN",
        ctx,
      ),
    );
  }

  /** `PUT /lunclone_split_switch {ID, SPLITACTION 1, ISCLONE, SPLITSPEED}`: makes a clone LUN independent. */
  splitClone(id: string, speed: CopySpeed, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "LUN id").andThen((lunId) =>
      this.act({ method: "PUT", path: "/lunclone_split_switch", body: { ID: lunId, SPLITACTION: 1, ISCLONE: true, SPLITSPEED: COPY_SPEED[speed] }, kind: "lun" }, ctx, ["CLONE_PAIR_SYNC_COMPLETE"]).map(() => undefined),
    );
  }

  /**
   * Waits until a clone LUN no longer depends on its source (`ISCLONE` false) after
   * {@link splitClone}; the split runs in the background on the array.
   */
  waitSplit(id: string, timeoutMs: number, ctx: OperationContext): ResultAsync<LunInfo, VolkitError> {
    return waitFor(() => this.get(id, ctx).map((lun) => (lun.isClone ? undefined : lun)), {
      timeoutMs,
      signal: ctx.signal,
      minDelayMs: 100,
      maxDelayMs: 2_000,
      onTimeout: () => new VolkitError("TIMEOUT", `split of clone LUN ${id} did not end within ${timeoutMs} ms`, { source: "ipsan", details: { lunId: id } }),
    });
  }

  /** `GET /lun/<id>`; `VOLUME_NOT_FOUND` when it does not exist. */
  get(id: string, ctx: OperationContext): ResultAsync<LunInfo, VolkitError> {
    return check(ArrayIdSchema, id, "LUN id").andThen((lunId) => this.one({ method: "GET", path: `/lun/${lunId}`, kind: "lun" }, LunSchema, "LUN", ctx));
  }

  /** Like {@link get}, but undefined when the LUN does not exist. */
  find(id: string, ctx: OperationContext): ResultAsync<LunInfo | undefined, VolkitError> {
    return this.get(id, ctx).orElse((e) => (e.code === "VOLUME_NOT_FOUND" ? okAsync(undefined) : errAsync(e)));
  }

  /** `GET /lun?filter=NAME::<name>`: the LUN of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<LunInfo | undefined, VolkitError> {
    return this.byName("/lun", name, LunSchema, "lun", ctx);
  }

  /** Every LUN (paged), optionally only those of one pool. */
  list(ctx: OperationContext, options: { poolId?: string } = {}): ResultAsync<LunInfo[], VolkitError> {
    return this.all("/lun", LunSchema, "lun", ctx).map((luns) => (options.poolId === undefined ? luns : luns.filter((l) => l.poolId === options.poolId)));
  }

  /** `PUT /lun/expand {TYPE 11, ID, CAPACITY}`: grows the LUN to `capacitySectors` (online). */
  expand(id: string, capacitySectors: number, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return check(ArrayIdSchema, id, "LUN id").andThen((lunId) =>
      check(CapacitySectorsSchema, capacitySectors, "capacity").andThen((capacity) =>
        this.act({ method: "PUT", path: "/lun/expand", body: { TYPE: OBJECT_TYPE.lun, ID: lunId, CAPACITY: capacity }, kind: "lun" }, ctx).map(() => undefined),
      ),
    );
  }

  /**
   * `PUT /lun/<id> {NAME?, DESCRIPTION?}`: renames a LUN or changes its description (what manage
   * and unmanage of an existing LUN do).
   */
  update(id: string, changes: { name?: string; description?: string }, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const schema = z.object({ name: ArrayNameSchema.optional(), description: ArrayDescriptionSchema.optional() }).strict();
    return check(ArrayIdSchema, id, "LUN id").andThen((lunId) =>
      check(schema, changes, "LUN changes").andThen((c) => {
        const body: Record<string, unknown> = {};
        if (c.name !== undefined) body.NAME = c.name;
        if (c.description !== undefined) body.DESCRIPTION = c.description;
        return this.act({ method: "PUT", path: `/lun/${lunId}`, body, kind: "lun" }, ctx).map(() => undefined);
      }),
    );
  }

  /**
   * `DELETE /lun/<id>`. Deleting a LUN that does not exist succeeds (returns false). A mapped LUN
   * or one with snapshots is refused by the array (`VOLUME_BUSY`).
   */
  delete(id: string, ctx: OperationContext): ResultAsync<boolean, VolkitError> {
    return check(ArrayIdSchema, id, "LUN id").andThen((lunId) =>
      this.act({ method: "DELETE", path: `/lun/${lunId}`, body: { TYPE: String(OBJECT_TYPE.lun), ID: lunId }, kind: "lun" }, ctx, ["LUN_NOT_EXIST", "VOLUME_NOT_EXIST", "OBJECT_NOT_EXIST"]),
    );
  }

  /**
   * Waits until the LUN is healthy and online (`HEALTHSTATUS` 1, `RUNNINGSTATUS` 27), as Cinder
   * does after creating a LUN that will be a copy target. A faulty LUN ends the wait at once.
   */
  waitReady(id: string, timeoutMs: number, ctx: OperationContext): ResultAsync<LunInfo, VolkitError> {
    return waitFor(
      () =>
        this.get(id, ctx).andThen((lun) => {
          if (lun.healthStatus !== HEALTH_NORMAL) return errAsync(new VolkitError("INVALID_STATE", `LUN ${id} is not healthy (HEALTHSTATUS ${lun.healthStatus})`, { source: "ipsan", details: { lunId: id, healthStatus: lun.healthStatus } }));
          return okAsync(lun.runningStatus === RUNNING_STATUS.lunOnline ? lun : undefined);
        }),
      { timeoutMs, signal: ctx.signal, minDelayMs: 100, maxDelayMs: 2_000, onTimeout: () => new VolkitError("TIMEOUT", `LUN ${id} was not ready within ${timeoutMs} ms`, { source: "ipsan", details: { lunId: id } }) },
    );
  }
}

/** Storage pools (`/storagepool`). */
export class PoolApi extends RestApi {
  /** Every pool. */
  list(ctx: OperationContext): ResultAsync<PoolInfo[], VolkitError> {
    return this.many({ method: "GET", path: "/storagepool", kind: "pool" }, PoolSchema, "storage pool list", ctx);
  }

  /** The pool of that name, or undefined. */
  findByName(name: string, ctx: OperationContext): ResultAsync<PoolInfo | undefined, VolkitError> {
    return this.byName("/storagepool", name, PoolSchema, "pool", ctx);
  }
}

/** The array itself (`/system/`). */
export class SystemApi extends RestApi {
  /** `GET /system/`: serial (`ID`), model and firmware version. */
  get(ctx: OperationContext): ResultAsync<SystemInfo, VolkitError> {
    return this.one({ method: "GET", path: "/system/", kind: "system" }, SystemSchema, "system information", ctx);
  }
}
