import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import type { SnapshotRecord, SnapshotRecordInput } from "../records/snapshot-record.js";
import { SNAPSHOT_RULES, startConditions, type SnapshotOperation, type SnapshotStatus } from "../state-machine.js";
import { run } from "./db-errors.js";
import { KyselyStatusTable, nextRevision, nowValue, type TableContext } from "./kysely-table.js";
import type { Row } from "./row-codec.js";
import type { SnapshotPatch, SnapshotTable } from "./store.js";
import { SNAPSHOTS, VOLUMES } from "./table-specs.js";
import { explainLostStart, startWhere } from "./volume-conditions.js";
import type { KyselyVolumeTable } from "./volume-table.js";
import { withVolumeLock } from "./volume-lock.js";

/**
 * Snapshots over Kysely. Inserting one is the volume's `createSnapshot` start: in the volume's
 * transaction, a conditional update checks the volume may be snapshotted (and bumps its revision),
 * then the snapshot row is written; a delete of the volume cannot slip in between.
 */
export class KyselySnapshotTable extends KyselyStatusTable<SnapshotRecord, SnapshotRecordInput, SnapshotPatch, SnapshotStatus, SnapshotOperation> implements SnapshotTable {
  readonly #volumes: KyselyVolumeTable;

  constructor(ctx: TableContext, volumes: KyselyVolumeTable) {
    super(ctx, SNAPSHOTS, SNAPSHOT_RULES, ["volumeId"]);
    this.#volumes = volumes;
  }

  /** {@inheritDoc SnapshotTable.insert} */
  override insert(input: SnapshotRecordInput, options: { readonly force?: boolean } = {}): ResultAsync<SnapshotRecord, VolkitError> {
    const encoded = this.encodeInput(input);
    if (encoded.isErr()) return errAsync(encoded.error);
    const conditions = startConditions("createSnapshot", options);
    if (conditions.isErr()) return errAsync(conditions.error);
    const c = conditions.value;
    const { record, row } = encoded.value;
    const { db, dialect } = this.ctx;
    return run({ spec: SNAPSHOTS, key: record.id, action: "insert" }, () =>
      withVolumeLock(db, dialect, record.volumeId, async (trx): Promise<Row | undefined> => {
        const volume = await trx
          .updateTable("volumes")
          .set({ revision: nextRevision, updated_at: nowValue(dialect) })
          .where("volumes.id", "=", record.volumeId)
          .where(startWhere(c, dialect))
          .returning("id")
          .executeTakeFirst();
        if (volume === undefined) return undefined;
        return trx.insertInto("snapshots").values(row).returningAll().executeTakeFirstOrThrow();
      }),
    ).andThen((inserted) => {
      if (inserted !== undefined) return okAsync(inserted).andThen((r) => this.decode(r));
      return this.#volumes.find(record.volumeId).andThen((volume) => {
        if (volume === undefined) return errAsync(this.#volumes.notFound(record.volumeId));
        return run({ spec: VOLUMES, key: volume.id, action: "explain" }, () => explainLostStart(db, volume, c, options)).andThen((reason) =>
          errAsync(new VolkitError("INVALID_STATE", `cannot snapshot volume ${volume.id}: ${reason}`, { source: "store", details: { volumeId: volume.id, status: volume.status } })),
        );
      });
    });
  }
}
