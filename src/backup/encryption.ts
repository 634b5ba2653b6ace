import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { type Result, err, ok } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../core/errors.js";
import { registerSecret } from "../core/secrets.js";
import type { EncryptionParams } from "./manifest.js";

/**
 * Encryption at rest: the caller supplies a 256-bit key; volkit never stores or logs it. Three
 * sub-keys are derived with HKDF-SHA256 (fixed salt, one label each): the AES-256-GCM key of the
 * objects, the HMAC key of the digests (plain sha256 digests of plaintext would let anyone with
 * the repository confirm guessed content), and a key-check value recorded in the manifest so a
 * wrong key is refused (`AUTH_FAILED`) before any data is touched. The same key must be used
 * along an incremental chain (digests are compared across it).
 */

/** A 32-byte key: raw bytes, or the same as base64 / 64 hex digits. */
export const EncryptionKeySchema = z.union([
  z.custom<Uint8Array>((k) => k instanceof Uint8Array, "must be bytes").refine((k) => k.length === 32, "must be 32 bytes"),
  z.string().regex(/^[0-9a-fA-F]{64}$|^[A-Za-z0-9+/]{43}=$/, "must be 32 bytes as 64 hex digits or base64"),
]);
/** A 32-byte encryption key (raw, hex or base64). */
export type EncryptionKey = Uint8Array | string;

/** The sub-keys of one key. */
export interface DerivedKeys {
  /** AES-256-GCM key. */
  readonly cipherKey: Buffer;
  /** HMAC-SHA256 key of the digests. */
  readonly digestKey: Buffer;
  /** Recorded in the manifest to recognise the key (hex). */
  readonly keyCheck: string;
}

const SALT = Buffer.from("volkit-backup/v1");

/**
 * Validates a key, registers every text form of it as a secret (so it is redacted from any
 * message), and derives the sub-keys. A bad key is `INVALID_ARGUMENT` without its value.
 */
export function deriveKeys(key: EncryptionKey): Result<DerivedKeys, VolkitError> {
  const parsed = EncryptionKeySchema.safeParse(key);
  if (!parsed.success) return err(new VolkitError("INVALID_ARGUMENT", "invalid encryption key: must be 32 bytes (raw, 64 hex digits or base64)", { source: "backup" }));
  const raw = typeof parsed.data === "string" ? Buffer.from(parsed.data, /^[0-9a-fA-F]{64}$/.test(parsed.data) ? "hex" : "base64") : Buffer.from(parsed.data);
  if (raw.length !== 32) return err(new VolkitError("INVALID_ARGUMENT", "invalid encryption key: must decode to 32 bytes", { source: "backup" }));
  for (const form of [raw.toString("hex"), raw.toString("hex").toUpperCase(), raw.toString("base64"), typeof key === "string" ? key : undefined]) registerSecret(form);
  const sub = (label: string): Buffer => Buffer.from(hkdfSync("sha256", raw, SALT, label, 32));
  const keyCheck = createHmac("sha256", sub("key-check")).update("volkit-backup key check").digest("hex");
  return ok({ cipherKey: sub("aes-256-gcm"), digestKey: sub("hmac-sha256"), keyCheck });
}

/** The manifest's encryption parameters for these keys. */
export function encryptionParams(keys: DerivedKeys): EncryptionParams {
  return { algorithm: "aes-256-gcm", kdf: "hkdf-sha256", keyCheck: keys.keyCheck };
}

/**
 * Checks that the keys fit a backup: a key for an encrypted backup (and the right one), none for a
 * plain one. `AUTH_FAILED` for a wrong key, `INVALID_ARGUMENT` for a missing or needless one.
 */
export function checkKeyFits(backupId: string, params: EncryptionParams | undefined, keys: DerivedKeys | undefined): Result<void, VolkitError> {
  if (params === undefined) {
    return keys === undefined ? ok(undefined) : err(new VolkitError("INVALID_ARGUMENT", `backup ${backupId} is not encrypted, but a key was given`, { source: "backup", details: { backupId } }));
  }
  if (keys === undefined) return err(new VolkitError("INVALID_ARGUMENT", `backup ${backupId} is encrypted: an encryption key is needed`, { source: "backup", details: { backupId } }));
  const same = timingSafeEqual(Buffer.from(params.keyCheck, "hex"), Buffer.from(keys.keyCheck, "hex"));
  return same ? ok(undefined) : err(new VolkitError("AUTH_FAILED", `the encryption key does not match backup ${backupId}`, { source: "backup", details: { backupId } }));
}
