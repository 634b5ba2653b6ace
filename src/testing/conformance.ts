import type { HostPropertiesInput } from "../core/records.js";
import { describe, it } from "vitest";
import { CONFORMANCE_CHECK_NAMES, CONFORMANCE_CHECK_TITLES, type CheckParams, type ConformanceChecks, type DriverConformanceOptions } from "./conformance-options.js";
import { abortCheck, deleteBusyCheck, invalidInputCheck, missingSourcesCheck, notSupportedCheck } from "./conformance-refusal-checks.js";
import { withSession, type Session } from "./conformance-session.js";
import { concurrentCreatesCheck, createTwiceCheck, deleteIsIdempotentCheck, exportAndConnectionCheck, lifecycleCheck, statsShapeCheck } from "./conformance-success-checks.js";

export { CONFORMANCE_CHECK_NAMES, CONFORMANCE_CHECK_TITLES, type ConformanceCheckName, type ConformanceChecks, type ConformanceIo, type DriverConformanceOptions } from "./conformance-options.js";

const DEFAULT_HOST: HostPropertiesInput = {
  host: "volkit-conformance",
  initiator: "iqn.2004-10.org.volkit:conformance",
  ip: "127.0.0.1",
  multipath: false,
  platform: "x86_64",
  osType: "linux2",
};

/**
 * Registers the volkit driver conformance suite with vitest: one `describe` with one `it` per
 * check (see {@link CONFORMANCE_CHECK_TITLES}). Every check creates volumes with fresh UUIDs and
 * deletes what it created, so it can run repeatedly against a real backend; run it against a
 * dedicated pool, because capacity checks compare stats before and after.
 *
 * Required of every driver (Cinder's minimum feature set): create, delete, clone, extend, stats,
 * export and connection. Snapshots, volumes from snapshots and revert are checked when the driver
 * declares them in its capabilities (and `features` does not turn them off); what it declares
 * unsupported must return `NOT_SUPPORTED`. Pass `io` to also check the data of clones, volumes from
 * snapshots and reverts (sha256 of a random pattern).
 *
 * Requires vitest (a peer dependency of `volkit/testing`).
 *
 * @example
 * ```ts
 * // my-driver.conformance.test.ts
 * import { describeVolumeDriverConformance } from "volkit/testing";
 * describeVolumeDriverConformance({ name: "my-driver", create: () => new MyDriver(config) });
 * ```
 */
export function describeVolumeDriverConformance(options: DriverConformanceOptions): void {
  const checks = conformanceChecks(options);
  describe(`volume driver conformance: ${options.name}`, () => {
    for (const name of CONFORMANCE_CHECK_NAMES) {
      it(CONFORMANCE_CHECK_TITLES[name], checks[name], options.timeoutMs ?? 120_000);
    }
  });
}

/**
 * The suite's checks as plain async functions, for running them outside `describe` (e.g. to show
 * that a broken driver fails a specific check, or to run one check in a custom harness).
 *
 * @example
 * ```ts
 * await expect(conformanceChecks({ name: "broken", create: () => new Broken() }).deleteIsIdempotent()).rejects.toThrow();
 * ```
 */
export function conformanceChecks(options: DriverConformanceOptions): ConformanceChecks {
  const params: CheckParams = { size: options.sizeGiB ?? 1, host: options.host ?? DEFAULT_HOST, ioBytes: options.ioBytes ?? 1024 * 1024, io: options.io };
  const session = (check: (s: Session, p: CheckParams) => Promise<void>) => () => withSession(options, (s) => check(s, params));
  return {
    lifecycle: session(lifecycleCheck),
    statsShape: session(statsShapeCheck),
    deleteIsIdempotent: session(deleteIsIdempotentCheck),
    createTwice: session(createTwiceCheck),
    deleteBusy: session(deleteBusyCheck),
    invalidInput: session(invalidInputCheck),
    missingSources: session(missingSourcesCheck),
    notSupported: session(notSupportedCheck),
    exportAndConnection: session(exportAndConnectionCheck),
    abort: session(abortCheck),
    concurrentCreates: session(concurrentCreatesCheck),
  };
}
