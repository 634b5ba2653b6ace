import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EventBus } from "../../../src/core/events.js";
import { backupFromSource, readBackupManifest, restoreToTarget, verifyBackup, type ChunkEntry } from "../../../src/backup/index.js";
import { KiB, MiB, makeFile, must, mustFail, patchFile, random, sha256File, tempDir, tempRepo, text } from "./helpers.js";

const key = random(32);
const otherKey = random(32);
const opts = { threads: 0, chunkSize: 128 * KiB } as const;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe("encryption at rest", () => {
  it("round-trips with the key, and stores neither plaintext nor plain digests nor the key", async () => {
    const dir = tempDir();
    const { repo, dir: repoDir } = tempRepo();
    const marker = "PLAINTEXT-MARKER-0123456789";
    const file = makeFile(join(dir, "vol"), 512 * KiB, [
      { offset: 0, data: text(200 * KiB, marker) },
      { offset: 256 * KiB, data: random(100 * KiB) },
    ]);
    const logs: string[] = [];
    const logger = { debug: (o: object, m?: string) => void logs.push(JSON.stringify(o) + (m ?? "")), info: (o: object, m?: string) => void logs.push(JSON.stringify(o) + (m ?? "")), warn: (o: object, m?: string) => void logs.push(JSON.stringify(o) + (m ?? "")), error: (o: object, m?: string) => void logs.push(JSON.stringify(o) + (m ?? "")) };
    const m = await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "enc", encryptionKey: key, compression: "none", logger, events: new EventBus() }));
    expect(m.digest).toBe("hmac-sha256");
    expect(m.encryption).toMatchObject({ algorithm: "aes-256-gcm", kdf: "hkdf-sha256" });
    const everything = Buffer.concat(walk(repoDir).map((f) => readFileSync(f)));
    expect(everything.includes(Buffer.from(marker))).toBe(false);
    for (const form of [key.toString("hex"), key.toString("base64")]) {
      expect(everything.includes(Buffer.from(form))).toBe(false);
      expect(logs.join("\n")).not.toContain(form);
    }
    expect(everything.includes(key)).toBe(false);
    const firstChunk = readFileSync(file).subarray(0, 128 * KiB);
    expect((m.chunks[0] as Extract<ChunkEntry, { kind: "full" }>).digest).not.toBe(createHash("sha256").update(firstChunk).digest("hex"));

    const out = join(dir, "out");
    await must(restoreToTarget(repo, "enc", { path: out }, { threads: 2, encryptionKey: key.toString("base64") }));
    expect(sha256File(out)).toBe(sha256File(file));
    expect((await must(verifyBackup(repo, "enc", { threads: 0, encryptionKey: key }))).level).toBe("content");
  });

  it("refuses a wrong key with AUTH_FAILED before writing, and a missing key with INVALID_ARGUMENT", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 256 * KiB, [{ offset: 0, data: random(256 * KiB) }]);
    await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "enc", encryptionKey: key }));
    const out = join(dir, "out");
    const wrong = await mustFail(restoreToTarget(repo, "enc", { path: out }, { threads: 0, encryptionKey: otherKey }));
    expect(wrong.code).toBe("AUTH_FAILED");
    expect(wrong.message).not.toContain(otherKey.toString("hex"));
    expect(() => readFileSync(out)).toThrow();
    expect((await mustFail(restoreToTarget(repo, "enc", { path: out }, { threads: 0 }))).code).toBe("INVALID_ARGUMENT");
    expect((await mustFail(verifyBackup(repo, "enc", { threads: 0, encryptionKey: otherKey }))).code).toBe("AUTH_FAILED");
    // An incremental needs the chain's key.
    expect((await mustFail(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, parent: "enc", encryptionKey: otherKey }))).code).toBe("AUTH_FAILED");
    expect((await mustFail(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, parent: "enc" }))).code).toBe("INVALID_ARGUMENT");
  });

  it("detects a modified encrypted object (GCM authentication) even when its stored sha256 is updated", async () => {
    const dir = tempDir();
    const { repo, dir: repoDir } = tempRepo();
    const file = makeFile(join(dir, "vol"), 128 * KiB, [{ offset: 0, data: random(128 * KiB) }]);
    const m = await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "enc", encryptionKey: key }));
    const chunk = m.chunks[0] as Extract<ChunkEntry, { kind: "full" }>;
    const objectPath = join(repoDir, chunk.object.key);
    const bytes = readFileSync(objectPath);
    bytes[40] = (bytes[40] as number) ^ 0xff;
    const manifest = JSON.parse(readFileSync(join(repoDir, "backups/enc/manifest.json"), "utf8")) as { chunks: Extract<ChunkEntry, { kind: "full" }>[] };
    (manifest.chunks[0] as Extract<ChunkEntry, { kind: "full" }>).object.sha256 = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(objectPath, bytes);
    writeFileSync(join(repoDir, "backups/enc/manifest.json"), JSON.stringify(manifest));
    const e = await mustFail(restoreToTarget(repo, "enc", { path: join(dir, "out") }, { threads: 0, encryptionKey: key }));
    expect(e.code).toBe("BACKUP_CORRUPT");
    expect(e.details).toMatchObject({ chunk: 0, reason: "decrypt" });
  });

  it("verifies stored bytes of an encrypted backup without the key", async () => {
    const dir = tempDir();
    const { repo } = tempRepo();
    const file = makeFile(join(dir, "vol"), 256 * KiB, [{ offset: 0, data: random(256 * KiB) }]);
    await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "enc", encryptionKey: key }));
    patchFile(file, 5, Buffer.from("changed"));
    await must(backupFromSource(repo, { path: file, allocation: "none" }, { ...opts, backupId: "enc2", parent: "enc", encryptionKey: key }));
    const report = await must(verifyBackup(repo, "enc2", { threads: 0 }));
    expect(report.level).toBe("stored");
    // chunk 0: delta + its base; chunk 1: reused; plus the digest segment.
    expect(report.objectsChecked).toBe(4);
    expect((await must(readBackupManifest(repo, "enc2"))).encryption?.keyCheck).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses malformed keys without echoing them", async () => {
    const { repo } = tempRepo();
    const file = makeFile(join(tempDir(), "vol"), MiB);
    for (const bad of [random(16), "not-a-key-at-all-but-long-enough", "00".repeat(31)]) {
      const e = await mustFail(backupFromSource(repo, { path: file }, { encryptionKey: bad }));
      expect(e.code).toBe("INVALID_ARGUMENT");
      if (typeof bad === "string") expect(e.message).not.toContain(bad);
    }
  });
});
