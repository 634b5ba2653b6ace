/**
 * The drivers the hostile-input suite drives, keyed by registry name. Every driver registered with
 * volkit (`listDrivers()`) must have an entry here: `drivers.test.ts` fails while one is missing.
 *
 * To add a driver: add a file under ./cases and an entry here under its registry name with
 * - `variants`: one valid config per way the driver runs (a target helper, a protocol…), each with
 *   the ids it cannot serve (`unservableIds`: valid ids its `idRule` refuses) and, for the
 *   secret-leak tests, a `world`: a scripted runner (FakeRunner rules, captured output, a
 *   simulator) under which the runtime's operations on `volume` succeed, with the secret planted
 *   where the driver keeps one (the record's `providerAuth`, or the config: `secret` when the
 *   suite's own cannot serve, e.g. a 12-16 character array CHAP secret). A driver that sends
 *   requests rather than commands gives `world.requests` to fail them one at a time, and lists
 *   in `untouched` the operations it serves without either;
 * - `configFields`: every config field a caller or a panel sets that reaches a command, a file,
 *   a URL, a request body or a log line, with the hostile values it must refuse (`INVALID_CONFIG`,
 *   nothing run).
 */
import { IPSAN_CASE } from "./cases/ipsan-cases.js";
import { LVM_CASE } from "./cases/lvm-cases.js";
import { NFS_CASE } from "./cases/nfs-cases.js";
import { RBD_CASE } from "./cases/rbd-cases.js";
import type { DriverCase } from "./cases/driver-case.js";

export { HOSTILE_ROOT_HELPERS, type ConfigPoison, type DriverCase, type DriverVariant, type DriverWorld } from "./cases/driver-case.js";

/** Every driver the suite drives, by registry name (one file per driver under ./cases). */
export const DRIVER_CASES: Readonly<Record<string, DriverCase>> = {
  ipsan: IPSAN_CASE,
  lvm: LVM_CASE,
  nfs: NFS_CASE,
  rbd: RBD_CASE,
};
