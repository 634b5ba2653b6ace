import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { sql, type Kysely } from "kysely";
import { VolkitError } from "../../core/errors.js";
import type { AttachmentRecord, AttachmentRecordInput } from "../records/attachment-record.js";
import type { VolumeRecord, VolumeRecordInput } from "../records/volume-record.js";
import {
  LIVE_ATTACH_STATUSES,
  VOLUME_RULES,
  VolumeStatusSchema,
  resolveAttachFinal,
  resolveFinal,
  startConditions,
  type AttachStatus,
  type StartConditions,
  type StartOptions,
  type VolumeOperation,
  type VolumeStatus,
} from "../state-machine.js";
import { run } from "./db-errors.js";
import { KyselyTable, nextRevision, nowValue, type LooseDb, type TableContext } from "./kysely-table.js";
import type { Row } from "./row-codec.js";
import type { AttachmentChange, AttachmentPatch, BeginOptions, Expectation, FinishOptions, Transition, VolumePatch, VolumeTable } from "./store.js";
import { VOLUMES } from "./table-specs.js";
import { explainLostStart, startWhere } from "./volume-conditions.js";
import { withVolumeLock } from "./volume-lock.js";

/** Where a volume lives: what a migration's swap exchanges between the source and its temporary target. */
const LOCATION_COLUMNS = ["backend", "pool", "availability_zone", "provider_location", "provider_auth", "provider_id"] as const;

/** An attachment change, validated and encoded before the transaction starts. */
type EncodedChange =
  | { readonly kind: "insert"; readonly id: string; readonly row: Row }
  | { readonly kind: "update"; readonly id: string; readonly row: Row; readonly attachStatus: AttachStatus | undefined }
  | { readonly kind: "remove"; readonly id: string };

/** What a locked transaction hands back: the row, or nothing when the condition did not hold. */
interface Locked {
  readonly row: Row | undefined;
}

/** Volumes over Kysely: records plus the conditional transitions of `VOLUME_RULES`. */
export class KyselyVolumeTable extends KyselyTable<VolumeRecord, VolumeRecordInput, VolumePatch, VolumeStatus> implements VolumeTable {
  readonly #attachments: KyselyTable<AttachmentRecord, AttachmentRecordInput, AttachmentPatch, AttachStatus>;

  constructor(ctx: TableContext, attachments: KyselyTable<AttachmentRecord, AttachmentRecordInput, AttachmentPatch, AttachStatus>) {
    super(ctx, VOLUMES, ["previousStatus", "attachStatus"]);
    this.#attachments = attachments;
  }

  /** Validates an attachment change for volume `id` before anything is written. */
  #encodeChange(id: string, change: AttachmentChange | undefined): Result<EncodedChange | undefined, VolkitError> {
    if (change === undefined) return ok(undefined);
    if ("insert" in change) {
      return this.#attachments.encodeInput(change.insert).andThen(({ record, row }) =>
        record.volumeId === id
          ? ok({ kind: "insert" as const, id: record.id, row })
          : err(new VolkitError("INVALID_ARGUMENT", `attachment ${record.id} belongs to volume ${record.volumeId}, not ${id}`, { source: "store" })),
      );
    }
    if ("update" in change) {
      return this.#attachments.encodePatch(change.patch).map((row) => ({ kind: "update" as const, id: change.update, row, attachStatus: change.attachStatus }));
    }
    return ok({ kind: "remove" as const, id: change.remove });
  }

  /** Writes a validated attachment change inside the volume's transaction; throws to roll back. */
  async #applyChange(trx: Kysely<LooseDb>, volumeId: string, change: EncodedChange): Promise<void> {
    const { dialect } = this.ctx;
    if (change.kind === "insert") {
      await trx.insertInto("attachments").values(change.row).execute();
      return;
    }
    if (change.kind === "remove") {
      await trx.deleteFrom("attachments").where("id", "=", change.id).where("volume_id", "=", volumeId).execute();
      return;
    }
    const set: Row = { ...change.row, revision: nextRevision, updated_at: nowValue(dialect) };
    if (change.attachStatus !== undefined) {
      set.attach_status = change.attachStatus;
      if (change.attachStatus === "attached" && set.attached_at === undefined) set.attached_at = nowValue(dialect);
      if (change.attachStatus === "detached" && set.detached_at === undefined) set.detached_at = nowValue(dialect);
    }
    const updated = await trx.updateTable("attachments").set(set).where("id", "=", change.id).where("volume_id", "=", volumeId).returning("id").executeTakeFirst();
    if (updated === undefined) throw this.#attachments.notFound(change.id);
  }

  /** Builds the `won`/`lost` outcome of a locked start or finish. */
  #outcome(id: string, locked: Locked, explain: () => Promise<string>): ResultAsync<Transition<VolumeRecord>, VolkitError> {
    const row = locked.row;
    if (row !== undefined) return okAsync(row).andThen((r) => this.decode(r).map((record): Transition<VolumeRecord> => ({ won: true, record })));
    return this.find(id).andThen((current) =>
      run({ spec: VOLUMES, key: id, action: "explain" }, explain).map((reason) => ({ won: false as const, current, reason })),
    );
  }

  /** {@inheritDoc VolumeTable.begin} */
  begin(id: string, op: VolumeOperation, options: BeginOptions = {}): ResultAsync<Transition<VolumeRecord>, VolkitError> {
    const conditions = startConditions(op, options);
    if (conditions.isErr()) return errAsync(conditions.error);
    const c = conditions.value;
    const patch = this.encodePatch(options.patch);
    if (patch.isErr()) return errAsync(patch.error);
    const change = this.#encodeChange(id, options.attachment);
    if (change.isErr()) return errAsync(change.error);
    const { db, dialect } = this.ctx;
    const set: Row = { ...patch.value, revision: nextRevision, updated_at: nowValue(dialect) };
    if (c.transient !== null) {
      set.status = c.transient;
      set.previous_status = sql.ref("status");
    }
    const attach = VOLUME_RULES[op].attach;
    if (attach !== undefined) set.attach_status = attach.transient;
    return run({ spec: VOLUMES, key: id, action: `begin volume ${op} on` }, () =>
      withVolumeLock(db, dialect, id, async (trx): Promise<Locked> => {
        const row = await trx.updateTable("volumes").set(set).where("volumes.id", "=", id).where(startWhere(c, dialect)).returningAll().executeTakeFirst();
        if (row !== undefined && change.value !== undefined) await this.#applyChange(trx, id, change.value);
        return { row };
      }),
    ).andThen((locked) => this.#outcome(id, locked, () => this.#explain(id, c, options)));
  }

  async #explain(id: string, c: StartConditions, options: StartOptions): Promise<string> {
    const current = await this.find(id);
    return explainLostStart(this.ctx.db, current.isOk() ? current.value : undefined, c, options);
  }

  /** {@inheritDoc VolumeTable.finish} */
  finish(id: string, op: VolumeOperation, outcome: "success" | "failure", options: FinishOptions = {}): ResultAsync<Transition<VolumeRecord>, VolkitError> {
    const rule = VOLUME_RULES[op];
    const transient = rule.transient;
    // An operation that only checked the status (a snapshot of the volume) has nothing to end.
    if (transient === null) return this.get(id).map((record): Transition<VolumeRecord> => ({ won: true, record }));
    const patch = this.encodePatch(options.patch);
    if (patch.isErr()) return errAsync(patch.error);
    const change = this.#encodeChange(id, options.attachment);
    if (change.isErr()) return errAsync(change.error);
    const { db, dialect } = this.ctx;
    return run({ spec: VOLUMES, key: id, action: `finish volume ${op} on` }, () =>
      withVolumeLock(db, dialect, id, async (trx): Promise<Locked> => {
        const claimed = await trx
          .updateTable("volumes")
          .set({ revision: nextRevision, updated_at: nowValue(dialect) })
          .where("id", "=", id)
          .where("status", "=", transient)
          .returningAll()
          .executeTakeFirst();
        if (claimed === undefined) return { row: undefined };
        if (change.value !== undefined) await this.#applyChange(trx, id, change.value);
        const attached = await trx.selectFrom("attachments").select("id").where("volume_id", "=", id).where("attach_status", "=", "attached").limit(1).executeTakeFirst();
        const previous = VolumeStatusSchema.safeParse(claimed.previous_status);
        const final = resolveFinal(op, outcome, { previousStatus: previous.success ? previous.data : undefined, hasAttached: attached !== undefined });
        if (final === "removed") {
          // Finished attachments go with the volume; a force delete takes every attachment record.
          let attachments = trx.deleteFrom("attachments").where("volume_id", "=", id);
          if (op !== "forceDelete") attachments = attachments.where("attach_status", "not in", [...LIVE_ATTACH_STATUSES]);
          await attachments.execute();
          return { row: await trx.deleteFrom("volumes").where("id", "=", id).returningAll().executeTakeFirst() };
        }
        // The operation is over: its task goes with the transient status.
        const set: Row = { task: null, ...patch.value, status: final, previous_status: null };
        const attachFinal = resolveAttachFinal(op, outcome, attached !== undefined);
        if (attachFinal !== undefined) set.attach_status = attachFinal;
        if (options.statusReason !== undefined) set.status_reason = options.statusReason;
        else if (outcome === "success") set.status_reason = null;
        return { row: await trx.updateTable("volumes").set(set).where("id", "=", id).returningAll().executeTakeFirst() };
      }),
    ).andThen((locked) => this.#outcome(id, locked, () => Promise.resolve(`${op} can only finish while the volume is ${transient}`)));
  }

  /** {@inheritDoc VolumeTable.swapLocation} */
  swapLocation(sourceId: string, targetId: string, patch?: VolumePatch): ResultAsync<{ readonly source: VolumeRecord; readonly target: VolumeRecord }, VolkitError> {
    const extra = this.encodePatch(patch);
    if (extra.isErr()) return errAsync(extra.error);
    const { db, dialect } = this.ctx;
    const marker = `target:${sourceId}`;
    return run({ spec: VOLUMES, key: sourceId, action: "swap the location of" }, () =>
      withVolumeLock(db, dialect, sourceId, async (trx): Promise<{ source: Row; target: Row } | string> => {
        const source = await trx.selectFrom("volumes").selectAll().where("id", "=", sourceId).executeTakeFirst();
        const target = await trx.selectFrom("volumes").selectAll().where("id", "=", targetId).executeTakeFirst();
        if (source === undefined || target === undefined) return `volume ${source === undefined ? sourceId : targetId} does not exist`;
        if (source.status !== "maintenance" || target.migration_status !== marker) {
          return `volume ${sourceId} is ${String(source.status)} (needs maintenance) and ${targetId} has migration status ${String(target.migration_status)} (needs ${marker})`;
        }
        const now = nowValue(dialect);
        const take = (row: Row): Row => Object.fromEntries(LOCATION_COLUMNS.map((c) => [c, row[c] ?? null]));
        const sourceSet: Row = { ...take(target), ...extra.value, revision: nextRevision, updated_at: now };
        const targetSet: Row = { ...take(source), revision: nextRevision, updated_at: now };
        const s = await trx.updateTable("volumes").set(sourceSet).where("id", "=", sourceId).returningAll().executeTakeFirstOrThrow();
        const t = await trx.updateTable("volumes").set(targetSet).where("id", "=", targetId).returningAll().executeTakeFirstOrThrow();
        return { source: s, target: t };
      }),
    ).andThen((out) => {
      if (typeof out === "string") return errAsync(new VolkitError("INVALID_STATE", `cannot swap the location of volume ${sourceId}: ${out}`, { source: "store", details: { sourceId, targetId } }));
      return this.decode(out.source).andThen((source) => this.decode(out.target).map((target) => ({ source, target })));
    });
  }

  /** {@inheritDoc VolumeTable.resetStatus} */
  resetStatus(
    id: string,
    status: VolumeStatus,
    options: { readonly attachStatus?: AttachStatus; readonly expect?: Expectation<VolumeStatus>; readonly statusReason?: string } = {},
  ): ResultAsync<Transition<VolumeRecord>, VolkitError> {
    const parsed = VolumeStatusSchema.safeParse(status);
    if (!parsed.success) return errAsync(new VolkitError("INVALID_ARGUMENT", `not a volume status: ${String(status)}`, { source: "store" }));
    const set: Row = { status, previous_status: null, status_reason: options.statusReason ?? null, task: null };
    if (options.attachStatus !== undefined) set.attach_status = options.attachStatus;
    const conditions: [string, "=" | "in", unknown][] = [];
    if (options.expect?.revision !== undefined) conditions.push(["revision", "=", options.expect.revision]);
    if (options.expect?.status !== undefined) conditions.push(["status", "in", [...options.expect.status]]);
    return this.updateRow(this.ctx.db, id, set, conditions).andThen((row) =>
      row === undefined ? this.lost<VolumeRecord>(id, options.expect ?? {}) : this.decode(row).map((record) => ({ won: true as const, record })),
    );
  }
}
