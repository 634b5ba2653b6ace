import { createHash } from "node:crypto";
import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";

/**
 * Decides whether to trust the server's host key. Receives the raw public key blob (SSH wire format)
 * and its OpenSSH SHA256 fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints it).
 */
export type SshHostVerifier = (key: Buffer, fingerprint: string) => boolean;

/**
 * The OpenSSH SHA256 fingerprint of a public key blob: `SHA256:` followed by the unpadded base64 of
 * the blob's SHA-256 digest, as printed by `ssh-keygen -lf`.
 *
 * @example
 * ```ts
 * sshHostKeyFingerprint(Buffer.from(pubLine.split(" ")[1], "base64")); // "SHA256:q0x…"
 * ```
 */
export function sshHostKeyFingerprint(key: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The host key settings of the SSH runner's options. */
export interface HostKeySettings {
  /** Expected keys: fingerprints, public key lines or known_hosts lines. */
  readonly hostKey?: string | readonly string[] | undefined;
  /** Custom check. */
  readonly hostVerifier?: SshHostVerifier | undefined;
  /** Explicit opt-out of checking. */
  readonly insecureSkipHostKeyCheck?: boolean | undefined;
}

/**
 * Builds the verifier a connection installs from the options, or `undefined` when checking is
 * explicitly off. Every `hostKey` entry is normalized to a fingerprint up front, so a typo fails
 * here with `INVALID_CONFIG` (naming the entry's index, never its text) instead of on every connect.
 */
export function buildHostVerifier(settings: HostKeySettings): Result<SshHostVerifier | undefined, VolkitError> {
  const entries = settings.hostKey === undefined ? [] : typeof settings.hostKey === "string" ? [settings.hostKey] : [...settings.hostKey];
  if (entries.length === 0 && settings.hostVerifier === undefined) {
    return settings.insecureSkipHostKeyCheck === true
      ? ok(undefined)
      : err(configError("ssh runner options: host key checking is on; give hostKey (SHA256 fingerprint or public key) or hostVerifier, or set insecureSkipHostKeyCheck: true"));
  }
  const expected = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const fingerprint = expectedFingerprint(entry);
    if (fingerprint === undefined) {
      return err(configError(`ssh runner options: hostKey[${index}] is neither a SHA256 fingerprint nor an OpenSSH public key line`));
    }
    expected.add(fingerprint);
  }
  const custom = settings.hostVerifier;
  return ok((key, fingerprint) => (expected.size === 0 || expected.has(fingerprint)) && (custom === undefined || custom(key, fingerprint)));
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/**
 * Normalizes one `hostKey` entry to a `SHA256:` fingerprint: a fingerprint itself, an OpenSSH
 * public key line (`ssh-ed25519 AAAA… comment`) or a known_hosts line (`host ssh-ed25519 AAAA…`).
 */
function expectedFingerprint(entry: string): string | undefined {
  const trimmed = entry.trim();
  const fp = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(trimmed);
  if (fp) return `SHA256:${fp[1]}`;
  const tokens = trimmed.split(/\s+/);
  const typeIndex = tokens.findIndex((t) => KEY_TYPE.test(t));
  const blob = typeIndex === -1 ? undefined : tokens[typeIndex + 1];
  if (blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return undefined;
  const bytes = Buffer.from(blob, "base64");
  // The blob starts with the key type as an SSH string; check it matches the line's type.
  const typeLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (typeLength <= 0 || bytes.subarray(4, 4 + typeLength).toString("latin1") !== tokens[typeIndex]) return undefined;
  return sshHostKeyFingerprint(bytes);
}

/** One connection attempt's host key check: what the server presented and whether it was refused. */
export interface HostKeyCheck {
  /** The callback for ssh2's `hostVerifier` option. A verifier that throws refuses the key. */
  readonly verify: (key: Buffer) => boolean;
  /** Fingerprint of the key the server presented, once it did. */
  readonly presented: string | undefined;
  /** The key was refused (the handshake error then means "host key mismatch"). */
  readonly rejected: boolean;
}

/** Wraps `verifier` for one connection attempt, recording the outcome for the error report. */
export function hostKeyCheck(verifier: SshHostVerifier): HostKeyCheck {
  const state: { presented: string | undefined; rejected: boolean } = { presented: undefined, rejected: false };
  return {
    verify: (key) => {
      const presented = sshHostKeyFingerprint(key);
      state.presented = presented;
      let accepted = false;
      try {
        accepted = verifier(key, presented);
      } catch {
        accepted = false; // a throwing custom verifier refuses
      }
      state.rejected = !accepted;
      return accepted;
    },
    get presented() {
      return state.presented;
    },
    get rejected() {
      return state.rejected;
    },
  };
}

function configError(message: string): VolkitError {
  return new VolkitError("INVALID_CONFIG", message, { source: "ssh" });
}
