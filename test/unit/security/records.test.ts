/**
 * Hostile input to what volkit stores and reads back: service store records (insert and patch of
 * volumes, snapshots, attachments; corrupted rows) and backup records imported from outside
 * (`importBackupRecord`). A refusal is typed, changes nothing in the store or the repository, and
 * never shows a secret the stored text holds.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { backupFromSource, exportBackupRecord, importBackupRecord } from "../../../src/backup/index.js";
import { openMemoryStore, openSqliteStore } from "../../../src/service/index.js";
import { makeFile, random, tempDir, tempRepo } from "../backup/helpers.js";
import { HOSTILE_NAMES, HOSTILE_SIZES, HOSTILE_TEXT, errorText, expectNoLeak, expectRefusal, refused, withField, type Hostile } from "./hostile.js";

const VOLUME = { id: "vol-1", sizeGiB: 1, name: "data", backend: "lvm-a", pool: "thin", metadata: { owner: "team-a" } };
const ATTACHMENT = { id: "att-1", volumeId: "vol-1", host: "node-1", hostProperties: { host: "node-1" }, mountpoint: "vdb" };

const VOLUME_FIELDS: Readonly<Record<string, readonly Hostile[]>> = {
  id: HOSTILE_NAMES,
  sizeGiB: HOSTILE_SIZES,
  name: HOSTILE_TEXT,
  backend: HOSTILE_NAMES,
  // Pool names follow the drivers' pool rule (an NFS pool is `host:/export`): '/', '.' and '-' are theirs.
  pool: HOSTILE_NAMES.filter(([label]) => !["slash", "dot-dot", "leading dash", "long option"].includes(label)),
  metadata: [["a 10 KB key", { ["k".repeat(10 * 1024)]: "v" }], ["a 10 KB value", { k: "v".repeat(10 * 1024) }]],
  providerAuth: [["10 KB", "x".repeat(10 * 1024)]],
};
const ATTACHMENT_FIELDS: Readonly<Record<string, readonly Hostile[]>> = {
  id: HOSTILE_NAMES,
  volumeId: HOSTILE_NAMES,
  host: HOSTILE_NAMES,
  "hostProperties.host": HOSTILE_NAMES,
  mountpoint: HOSTILE_TEXT,
  instanceId: HOSTILE_NAMES.filter(([label]) => label !== "colon"),
};

describe("service store: hostile records are refused and change nothing", () => {
  for (const [field, values] of Object.entries(VOLUME_FIELDS)) {
    it(`volumes.insert refuses a hostile ${field}`, async () => {
      const store = (await openMemoryStore())._unsafeUnwrap();
      for (const [label, value] of values) {
        expectRefusal(await refused(() => store.volumes.insert(withField(VOLUME, field, value))), ["INVALID_ARGUMENT"]);
        expect((await store.volumes.list())._unsafeUnwrap(), `${field} = ${label}`).toEqual([]);
      }
    });
  }

  for (const [field, values] of Object.entries(VOLUME_FIELDS).filter(([f]) => f !== "id")) {
    it(`volumes.update refuses a hostile ${field} and keeps the record`, async () => {
      const store = (await openMemoryStore())._unsafeUnwrap();
      const before = (await store.volumes.insert(VOLUME))._unsafeUnwrap();
      for (const [label, value] of values) {
        expectRefusal(await refused(() => store.volumes.update("vol-1", { [field]: value })), ["INVALID_ARGUMENT"]);
        expect((await store.volumes.get("vol-1"))._unsafeUnwrap(), `${field} = ${label}`).toEqual(before);
      }
    });
  }

  for (const [field, values] of Object.entries(ATTACHMENT_FIELDS)) {
    it(`attachments.insert refuses a hostile ${field}`, async () => {
      const store = (await openMemoryStore())._unsafeUnwrap();
      (await store.volumes.insert(VOLUME))._unsafeUnwrap();
      for (const [label, value] of values) {
        expectRefusal(await refused(() => store.attachments.insert(withField(ATTACHMENT, field, value))), ["INVALID_ARGUMENT"]);
        expect((await store.attachments.list())._unsafeUnwrap(), `${field} = ${label}`).toEqual([]);
      }
    });
  }

  it("a corrupted row holding a secret is PARSE_ERROR naming the column, never quoting it", async () => {
    const secret = "Zq7Xk2Pw9Mt4Vb8NwR0w2";
    const path = `${tempDir()}/service.db`;
    const store = (await openSqliteStore({ path }))._unsafeUnwrap();
    (await store.volumes.insert(VOLUME))._unsafeUnwrap();
    (await store.close())._unsafeUnwrap();
    const Database = createRequire(import.meta.url)("better-sqlite3") as new (p: string) => { prepare(sql: string): { run(...a: unknown[]): unknown }; close(): void };
    const db = new Database(path);
    // Truncated JSON: what V8's message would quote is exactly the secret.
    db.prepare("UPDATE volumes SET metadata = ? WHERE id = ?").run(`{"chap_password": "${secret}" x`, "vol-1");
    db.close();
    const reopened = (await openSqliteStore({ path }))._unsafeUnwrap();
    const e = await refused(() => reopened.volumes.get("vol-1"));
    expect(e.code).toBe("PARSE_ERROR");
    expect(e.message).toContain("metadata");
    expectNoLeak(errorText(e), secret, "corrupted row");
    (await reopened.close())._unsafeUnwrap();
  });
});

describe("importBackupRecord: records from outside are checked before the repository changes", () => {
  async function exported(): Promise<{ record: string; repo: ReturnType<typeof tempRepo> }> {
    const source = tempRepo();
    const file = makeFile(`${tempDir()}/vol.raw`, 256 * 1024, [{ offset: 0, data: random(64 * 1024) }]);
    const full = (await backupFromSource(source.repo, { path: file }, { volumeId: "vol1" }))._unsafeUnwrap();
    return { record: (await exportBackupRecord(source.repo, full.backupId))._unsafeUnwrap(), repo: tempRepo() };
  }

  const files = (dir: string): string[] => {
    try {
      return readdirSync(dir, { recursive: true }).map(String).sort();
    } catch {
      return [];
    }
  };

  it("refuses hostile backup ids, keys and texts, writing nothing; a secret in a broken record is never quoted", async () => {
    const { record, repo } = await exported();
    const valid = JSON.parse(record) as Record<string, unknown>;
    const secret = "Zq7Xk2Pw9Mt4Vb8NqR3c7";
    const cases: Hostile[] = [
      ...HOSTILE_NAMES.map(([label, v]): Hostile => [`backupId ${label}`, JSON.stringify(withField(valid, "backupId", v))]),
      ...HOSTILE_NAMES.map(([label, v]): Hostile => [`manifests.0.backupId ${label}`, JSON.stringify(withField(valid, "manifests.0.backupId", v))]),
      ["a manifest that is not JSON, quoting a secret", JSON.stringify(withField(withField(valid, "manifests.0.manifest", Buffer.from(`{"password": "${secret}" x`).toString("base64")), "manifests.0.sha256", "0".repeat(64)))],
      ["a record that is not JSON, quoting a secret", `{"format": "volkit-backup-record", "token": "${secret}" oops`],
      ["an unknown key", JSON.stringify({ ...valid, [`${secret}`]: 1 })],
      ["10 KB of garbage", "x".repeat(10 * 1024)],
    ];
    for (const [label, text] of cases) {
      const e = await refused(() => importBackupRecord(repo.repo, text as string));
      expectRefusal(e, ["BACKUP_CORRUPT", "INVALID_ARGUMENT"]);
      expectNoLeak(`${errorText(e)}\n${inspect(e, { depth: 12 })}`, secret, label);
      expect(files(repo.dir), `${label}: the repository changed`).toEqual([]);
    }
  });
});
