import { sql, type Kysely } from "kysely";
import type { LooseDb } from "./kysely-table.js";
import type { StoreDialect } from "./store.js";

/**
 * Runs `fn` in a transaction that holds the volume's row against every other writer, so the
 * conditional update and the cross-table checks and writes that go with it (snapshots, attachments)
 * see one consistent state and commit together.
 *
 * - SQLite: `BEGIN IMMEDIATE` takes the database's write lock up front (other processes wait on
 *   the busy timeout); reads inside see the latest commit. Kysely's SQLite driver has one connection
 *   guarded by a mutex, so other statements of this process wait too.
 * - PostgreSQL: a transaction that starts with `SELECT … FOR UPDATE` on the volume row. Under READ
 *   COMMITTED every later statement takes a fresh snapshot, so it sees whatever was committed by
 *   the writer it waited for.
 *
 * A throw inside `fn` rolls the transaction back and is rethrown.
 */
export async function withVolumeLock<T>(db: Kysely<LooseDb>, dialect: StoreDialect, volumeId: string, fn: (trx: Kysely<LooseDb>) => Promise<T>): Promise<T> {
  if (dialect === "postgres") {
    return db.transaction().execute(async (trx) => {
      await sql`select 1 from volumes where id = ${volumeId} for update`.execute(trx);
      return fn(trx);
    });
  }
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const out = await fn(conn);
      await sql`commit`.execute(conn);
      return out;
    } catch (e) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}
