import { describe, expect, inject, it } from "vitest";
import { openPostgresStore } from "../../src/service/index.js";
import { describeStoreContract } from "../unit/service/store-contract.js";
import { freshDatabase, withClient } from "./postgres-fixture.js";

const server = inject("postgres");
let database = "";

describeStoreContract("PostgreSQL", {
  open: async () => {
    database = await freshDatabase(server);
    return (await openPostgresStore({ host: server.host, port: server.port, user: server.user, database }))._unsafeUnwrap();
  },
  corrupt: async (table, id, column, value) => {
    await withClient(server, database, (c) => c.query(`update ${table} set ${column} = ${value} where id = $1`, [id]));
  },
  jsonIsText: false,
});

describe("PostgreSQL store", () => {
  it("stores booleans, JSON and times in native columns", async () => {
    const db = await freshDatabase(server);
    const store = (await openPostgresStore({ host: server.host, port: server.port, user: server.user, database: db }))._unsafeUnwrap();
    (await store.volumes.insert({ id: "v1", sizeGiB: 1, bootable: true, metadata: { a: "b" } }))._unsafeUnwrap();
    const types = await withClient(server, db, (c) =>
      c.query<{ column_name: string; data_type: string }>(
        "select column_name, data_type from information_schema.columns where table_name = 'volumes' and column_name in ('bootable', 'metadata', 'created_at') order by column_name",
      ),
    );
    expect(types.rows).toEqual([
      { column_name: "bootable", data_type: "boolean" },
      { column_name: "created_at", data_type: "timestamp with time zone" },
      { column_name: "metadata", data_type: "jsonb" },
    ]);
    const raw = await withClient(server, db, (c) => c.query<{ bootable: boolean; metadata: unknown }>("select bootable, metadata from volumes where id = 'v1'"));
    expect(raw.rows[0]).toEqual({ bootable: true, metadata: { a: "b" } });
    (await store.close())._unsafeUnwrap();
  });

  it("migrates once when several hosts open a new database at the same moment", async () => {
    const db = await freshDatabase(server);
    const opened = await Promise.all(Array.from({ length: 6 }, () => openPostgresStore({ host: server.host, port: server.port, user: server.user, database: db, maxConnections: 2 })));
    for (const o of opened) expect((await o._unsafeUnwrap().migrations())._unsafeUnwrap()).toEqual(["0001_initial", "0002_operation_tasks", "0003_backup_tasks"]);
    const applied = await withClient(server, db, (c) => c.query("select count(*)::int as n from volkit_migration"));
    expect(applied.rows[0]).toEqual({ n: 3 });
    for (const o of opened) (await o._unsafeUnwrap().close())._unsafeUnwrap();
  });

  it("reports a server that is gone as STORE_UNAVAILABLE (transient)", async () => {
    const opened = await openPostgresStore({ host: "127.0.0.1", port: 1, user: "volkit", database: "x", connectTimeoutMs: 2000 });
    expect(opened._unsafeUnwrapErr()).toMatchObject({ code: "STORE_UNAVAILABLE", transient: true });
  });
});
