import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openMemoryStore, openSqliteStore, openStore } from "../../../src/service/index.js";
import { describeStoreContract } from "./store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "volkit-store-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract("memory (SQLite :memory:)", {
  open: async () => (await openMemoryStore())._unsafeUnwrap(),
  jsonIsText: true,
});

let lastPath = "";
describeStoreContract("SQLite file", {
  open: async () => {
    lastPath = join(dir, `store-${++n}.db`);
    return (await openSqliteStore({ path: lastPath }))._unsafeUnwrap();
  },
  corrupt: (table, id, column, value) => {
    const db = new Database(lastPath);
    try {
      db.prepare(`update ${table} set ${column} = ${value} where id = ?`).run(id);
    } finally {
      db.close();
    }
    return Promise.resolve();
  },
  jsonIsText: true,
});

describe("SQLite store file lifecycle", () => {
  it("keeps records across reopen and applies each migration once", async () => {
    const path = join(dir, "reopen.db");
    const first = (await openSqliteStore({ path }))._unsafeUnwrap();
    (await first.volumes.insert({ id: "v1", sizeGiB: 3 }))._unsafeUnwrap();
    (await first.close())._unsafeUnwrap();
    (await first.close())._unsafeUnwrap();
    const second = (await openStore({ kind: "sqlite", path }))._unsafeUnwrap();
    expect((await second.migrations())._unsafeUnwrap()).toEqual(["0001_initial", "0002_operation_tasks", "0003_backup_tasks"]);
    expect((await second.volumes.get("v1"))._unsafeUnwrap().sizeGiB).toBe(3);
    const raw = new Database(path, { readonly: true });
    const rows = raw.prepare("select name from volkit_migration").all();
    const mode = raw.pragma("journal_mode", { simple: true });
    raw.close();
    expect(rows).toEqual([{ name: "0001_initial" }, { name: "0002_operation_tasks" }, { name: "0003_backup_tasks" }]);
    expect(mode).toBe("wal");
    (await second.close())._unsafeUnwrap();
  });

  it("refuses a database migrated by a newer volkit", async () => {
    const path = join(dir, "newer.db");
    (await (await openSqliteStore({ path }))._unsafeUnwrap().close())._unsafeUnwrap();
    const raw = new Database(path);
    raw.prepare("insert into volkit_migration (name, timestamp) values ('0099_future', '2030-01-01')").run();
    raw.close();
    const opened = await openSqliteStore({ path });
    expect(opened._unsafeUnwrapErr().code).toBe("INVALID_STATE");
    expect(opened._unsafeUnwrapErr().message).toMatch(/newer version/);
  });

  it("validates its config and reports an unopenable file as STORE_UNAVAILABLE", async () => {
    expect((await openStore({ kind: "sqlite", path: "relative.db" }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    expect((await openStore({ kind: "postgres" }))._unsafeUnwrapErr().code).toBe("INVALID_CONFIG");
    const bad = await openSqliteStore({ path: join(dir, "no-such-dir", "x.db") });
    expect(bad._unsafeUnwrapErr().code).toBe("STORE_UNAVAILABLE");
  });

  it("opens many stores on one new file at once: migrations run once, nobody fails", async () => {
    const path = join(dir, "together.db");
    const stores = await Promise.all(Array.from({ length: 4 }, () => openSqliteStore({ path })));
    for (const s of stores) expect((await s._unsafeUnwrap().migrations())._unsafeUnwrap()).toEqual(["0001_initial", "0002_operation_tasks", "0003_backup_tasks"]);
    for (const s of stores) (await s._unsafeUnwrap().close())._unsafeUnwrap();
  });

  it("never lets a PostgreSQL password from a connection string reach an error", async () => {
    const password = "pg-Secret-Pass-4242";
    const opened = await openStore({ kind: "postgres", connectionString: `postgres://volkit:${password}@127.0.0.1:1/volkit`, connectTimeoutMs: 2000 });
    const e = opened._unsafeUnwrapErr();
    expect(e.code).toBe("STORE_UNAVAILABLE");
    expect(JSON.stringify(e.toJSON()) + e.message).not.toContain(password);
  });
});
