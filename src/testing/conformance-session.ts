import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Result, ResultAsync } from "neverthrow";
import { expect } from "vitest";
import type { OperationOptions } from "../core/context.js";
import type { VolkitError } from "../core/errors.js";
import type { Snapshot, Volume } from "../core/records.js";
import { VolumeBackend, wrapDriver } from "../drivers/backend.js";
import type { DriverCapabilities } from "../drivers/volume-driver.js";
import type { ConformanceIo, DriverConformanceOptions } from "./conformance-options.js";

/**
 * The conformance suite's per-check state: the backend, the effective capabilities, and what a
 * check created (deleted at the end, so checks can run repeatedly against a real backend).
 */

/** Per-check state: the backend, effective capabilities, and what was created (deleted at the end). */
export class Session {
  readonly #volumes = new Map<string, Volume>();
  readonly #snapshots = new Map<string, Snapshot>();

  constructor(
    readonly backend: VolumeBackend,
    readonly caps: DriverCapabilities,
  ) {}

  /** Awaits a backend call, turning a throw or a rejection into an assertion failure. */
  async call<T>(label: string, pending: ResultAsync<T, VolkitError> | (() => ResultAsync<T, VolkitError>)): Promise<Result<T, VolkitError>> {
    try {
      return await (typeof pending === "function" ? pending() : pending);
    } catch (e) {
      throw new Error(`${label} threw instead of returning a Result: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Awaits a call that must succeed and returns its value. */
  async ok<T>(label: string, pending: ResultAsync<T, VolkitError>): Promise<T> {
    const r = await this.call(label, pending);
    if (r.isErr()) throw new Error(`${label} failed: ${describeError(r.error)}`);
    return r.value;
  }

  async createVolume(sizeGiB: number, options: OperationOptions = {}): Promise<Volume> {
    return this.track(this.ok("createVolume", this.backend.createVolume({ id: randomUUID(), sizeGiB, displayName: "volkit conformance" }, options)));
  }

  async createSnapshot(volume: Volume): Promise<Snapshot> {
    const snap = await this.ok("createSnapshot", this.backend.createSnapshot({ id: randomUUID(), volumeId: volume.id, volumeSizeGiB: volume.sizeGiB }, volume));
    this.rememberSnapshot(snap);
    return snap;
  }

  /** Records a volume a pending call returns, so cleanup deletes it even if a later step fails. */
  async track(pending: Promise<Volume>): Promise<Volume> {
    const v = await pending;
    this.remember(v);
    return v;
  }

  remember(volume: Volume): void {
    this.#volumes.set(volume.id, volume);
  }

  replace(volume: Volume): void {
    if (this.#volumes.has(volume.id)) this.#volumes.set(volume.id, volume);
  }

  rememberSnapshot(snapshot: Snapshot): void {
    this.#snapshots.set(snapshot.id, snapshot);
  }

  forgetVolume(volume: Volume): void {
    this.#volumes.delete(volume.id);
  }

  forgetSnapshot(snapshot: Snapshot): void {
    this.#snapshots.delete(snapshot.id);
  }

  liveVolumes(): Volume[] {
    return [...this.#volumes.values()].reverse();
  }

  /** Best-effort removal of everything still recorded; errors are collected, not thrown. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (label: string, pending: () => ResultAsync<void, VolkitError>): Promise<void> => {
      try {
        const r = await pending();
        if (r.isErr()) problems.push(`${label}: ${describeError(r.error)}`);
      } catch (e) {
        problems.push(`${label} threw: ${String(e)}`);
      }
    };
    for (const snap of this.#snapshots.values()) await attempt(`deleteSnapshot ${snap.id}`, () => this.backend.deleteSnapshot(snap));
    for (const v of this.liveVolumes()) {
      await attempt(`terminateConnection ${v.id}`, () => this.backend.terminateConnection(v));
      await attempt(`removeExport ${v.id}`, () => this.backend.removeExport(v));
      await attempt(`deleteVolume ${v.id}`, () => this.backend.deleteVolume(v));
    }
    this.#snapshots.clear();
    this.#volumes.clear();
    return problems;
  }
}

export async function withSession(options: DriverConformanceOptions, fn: (s: Session) => Promise<void>): Promise<void> {
  const made = await options.create();
  const backend = made instanceof VolumeBackend ? made : wrapDriver(made);
  const session = new Session(backend, { ...backend.capabilities, ...options.features });
  let failure: Error | undefined;
  try {
    await fn(session);
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
  }
  const leftovers = await session.cleanup();
  await options.cleanup?.(backend);
  const closed = await backend.close();
  if (closed.isErr()) leftovers.push(`close: ${describeError(closed.error)}`);
  if (failure !== undefined) throw failure;
  if (leftovers.length > 0) throw new Error(`cleanup of the check's volumes failed: ${leftovers.join("; ")}`);
}

export function describeError(e: VolkitError): string {
  return `${e.code}: ${e.message}`;
}

export function pattern(bytes: number): Buffer {
  return randomBytes(bytes);
}

export async function expectData(io: ConformanceIo, volume: Volume, expected: Buffer, what: string): Promise<void> {
  const actual = await io.read(volume, expected.length);
  expect(sha256(actual), `${what} holds the expected data`).toBe(sha256(expected));
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
