import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from "kysely";
import {
  DELETABLE_SNAPSHOT_STATUSES,
  IDLE_MIGRATION_STATUSES,
  LIVE_ATTACH_STATUSES,
  AttachStatusSchema,
  SnapshotStatusSchema,
  canStart,
  describeStart,
  type StartConditions,
  type StartOptions,
  type VolumeGuard,
} from "../state-machine.js";
import type { VolumeRecord } from "../records/volume-record.js";
import type { LooseDb } from "./kysely-table.js";
import { encodeValue } from "./row-codec.js";
import type { StoreDialect } from "./store.js";

/**
 * The state machine's start conditions as SQL: `status IN (…) OR (status IN (…) AND multiattach)`,
 * and each guard as a subquery on the same statement, so the check and the change are one step.
 */

type Eb = ExpressionBuilder<LooseDb, string>;

function guardSql(eb: Eb, guard: VolumeGuard): Expression<SqlBool> {
  switch (guard) {
    case "noSnapshots":
      return eb.not(eb.exists(eb.selectFrom("snapshots").select(sql.lit(1).as("one")).whereRef("snapshots.volume_id", "=", "volumes.id")));
    case "deletableSnapshots":
      return eb.not(
        eb.exists(
          eb
            .selectFrom("snapshots")
            .select(sql.lit(1).as("one"))
            .whereRef("snapshots.volume_id", "=", "volumes.id")
            .where("snapshots.status", "not in", [...DELETABLE_SNAPSHOT_STATUSES]),
        ),
      );
    case "noLiveAttachments":
      return eb.not(
        eb.exists(
          eb
            .selectFrom("attachments")
            .select(sql.lit(1).as("one"))
            .whereRef("attachments.volume_id", "=", "volumes.id")
            .where("attachments.attach_status", "in", [...LIVE_ATTACH_STATUSES]),
        ),
      );
    case "migrationIdle":
      return eb.or([eb("volumes.migration_status", "is", null), eb("volumes.migration_status", "in", [...IDLE_MIGRATION_STATUSES])]);
  }
}

/** The `WHERE` of a start: allowed status (multiattach where required) and every guard. */
export function startWhere(c: StartConditions, dialect: StoreDialect): (eb: Eb) => Expression<SqlBool> {
  return (eb) => {
    const parts: Expression<SqlBool>[] = [];
    if (c.statuses !== "any") {
      const allowed: Expression<SqlBool>[] = [];
      if (c.statuses.length > 0) allowed.push(eb("volumes.status", "in", [...c.statuses]));
      if (c.multiattachStatuses.length > 0) {
        allowed.push(eb.and([eb("volumes.status", "in", [...c.multiattachStatuses]), eb("volumes.multiattach", "=", encodeValue("bool", true, dialect))]));
      }
      // eb.or([]) is false: no allowed status means the start never wins.
      parts.push(eb.or(allowed));
    }
    for (const g of c.guards) parts.push(guardSql(eb, g));
    return eb.and(parts);
  };
}

/**
 * Why a start lost: re-reads the volume's snapshots and attachments and runs the same rule in
 * TypeScript. When the rule now passes, the volume changed between the statement and this read.
 */
export async function explainLostStart(db: Kysely<LooseDb>, volume: VolumeRecord | undefined, c: StartConditions, options: StartOptions): Promise<string> {
  if (volume === undefined) return "the volume does not exist";
  const snapshots = await db.selectFrom("snapshots").select("status").where("volume_id", "=", volume.id).execute();
  const attachments = await db.selectFrom("attachments").select("attach_status").where("volume_id", "=", volume.id).execute();
  const facts = {
    status: volume.status,
    multiattach: volume.multiattach,
    migrationStatus: volume.migrationStatus,
    snapshotStatuses: snapshots.flatMap((s) => {
      const p = SnapshotStatusSchema.safeParse(s.status);
      return p.success ? [p.data] : [];
    }),
    attachmentStatuses: attachments.flatMap((a) => {
      const p = AttachStatusSchema.safeParse(a.attach_status);
      return p.success ? [p.data] : [];
    }),
  };
  const verdict = canStart(c.op, facts, options);
  if (verdict.isErr()) return verdict.error.message;
  return `volume ${volume.id} changed concurrently (${c.op} needs ${describeStart(c)}; it is now ${volume.status})`;
}
