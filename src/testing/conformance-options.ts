import type { HostPropertiesInput, Volume } from "../core/records.js";
import type { VolumeBackend } from "../drivers/backend.js";
import type { DriverCapabilities, VolumeDriver } from "../drivers/volume-driver.js";

/** The conformance suite's options, its check names and titles. Re-exported by `conformance.ts`. */

/**
 * Reads and writes a volume's raw data, so the suite can prove that clones, snapshots and reverts
 * carry the right bytes. For a real backend: attach the volume (connector) and use the device.
 */
export interface ConformanceIo {
  /** Writes `data` at offset 0 of the volume. */
  write(volume: Volume, data: Buffer): Promise<void>;
  /** Reads the first `bytes` bytes of the volume. */
  read(volume: Volume, bytes: number): Promise<Buffer>;
}

/** Options of {@link describeVolumeDriverConformance} and {@link conformanceChecks}. */
export interface DriverConformanceOptions {
  /** Shown in the suite's title. */
  readonly name: string;
  /**
   * Returns a fresh driver or backend; called once per check. A bare driver is wrapped with
   * `wrapDriver`, so the checks always go through the runtime like a real caller.
   */
  readonly create: () => VolumeDriver | VolumeBackend | Promise<VolumeDriver | VolumeBackend>;
  /** The attaching host's properties used by the export/connection check (default: a fake host with an IQN). */
  readonly host?: HostPropertiesInput;
  /** Size of test volumes in GiB (default 1). Larger sizes used are `sizeGiB + 1` and `+ 2`. */
  readonly sizeGiB?: number;
  /**
   * Overrides the capabilities the suite tests, e.g. `{ revertToSnapshot: false }` to skip reverts
   * on a backend where it is too slow. A capability turned off here is not checked at all; the
   * `NOT_SUPPORTED` check only covers what the driver itself declares unsupported.
   */
  readonly features?: Partial<DriverCapabilities>;
  /** Data hooks; without them the data checks are skipped and only metadata is checked. */
  readonly io?: ConformanceIo;
  /** Bytes written and compared by the data checks (default 1 MiB). */
  readonly ioBytes?: number;
  /** Called after each check with the backend it used (after the suite deleted what it created). */
  readonly cleanup?: (backend: VolumeBackend) => void | Promise<void>;
  /** Per-check timeout for vitest (ms, default 120 000). */
  readonly timeoutMs?: number;
}

/** Names of the checks, in the order the suite runs them. */
export const CONFORMANCE_CHECK_NAMES = [
  "lifecycle",
  "statsShape",
  "deleteIsIdempotent",
  "createTwice",
  "deleteBusy",
  "invalidInput",
  "missingSources",
  "notSupported",
  "exportAndConnection",
  "abort",
  "concurrentCreates",
] as const;

/** One check's name. */
export type ConformanceCheckName = (typeof CONFORMANCE_CHECK_NAMES)[number];

/** Human-readable titles used as vitest test names. */
export const CONFORMANCE_CHECK_TITLES: Readonly<Record<ConformanceCheckName, string>> = {
  lifecycle: "lifecycle: create → stats → snapshot → from snapshot (bigger) → clone → extend → revert → delete",
  statsShape: "stats: required keys, valid capacities, pools, provisioned grows with a create",
  deleteIsIdempotent: "retry safety: deleting twice, deleting a missing volume or snapshot succeeds",
  createTwice: "retry safety: creating the same id twice never makes a second object",
  deleteBusy: "deleting a volume that has snapshots fails with VOLUME_BUSY and keeps both",
  invalidInput: "invalid specs and shrinking fail with INVALID_ARGUMENT and change nothing",
  missingSources: "operations on a missing volume or snapshot fail with *_NOT_FOUND and create nothing",
  notSupported: "unsupported operations return NOT_SUPPORTED instead of throwing",
  exportAndConnection: "export and connection: valid ConnectionInfo, repeatable, terminate/remove twice",
  abort: "an aborted signal or past deadline fails with ABORTED/TIMEOUT and creates nothing",
  concurrentCreates: "volumes created concurrently all exist and are distinct",
};

/** Every check as a function that rejects (with an assertion error) when the driver violates it. */
export type ConformanceChecks = { readonly [K in ConformanceCheckName]: () => Promise<void> };

/** What every check gets besides its session: the options with their defaults applied. */
export interface CheckParams {
  /** Size of test volumes in GiB. */
  readonly size: number;
  /** The attaching host's properties. */
  readonly host: HostPropertiesInput;
  /** Bytes written and compared by the data checks. */
  readonly ioBytes: number;
  /** Data hooks, when given. */
  readonly io: ConformanceIo | undefined;
}
