import { type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { LockBackend } from "../../core/locks.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { HostFs } from "../../host/host-fs.js";
import { type PollGroup, waitFor } from "../../host/wait.js";
import type { ParsedIscsiConnectorConfig } from "./iscsi-config.js";
import type { ResolveHost } from "./iscsi-plan.js";
import type { Iscsiadm } from "./iscsiadm.js";
import type { LoginFlight } from "./iscsi-login.js";
import type { ScanQueue } from "./iscsi-scan-queue.js";
import type { Multipath } from "./multipath.js";

/**
 * The tools every stage of the connector works with (one set per connector instance): the
 * command wrappers, the host's files, the keyed locks, the options and the in-flight session
 * holds. The stages themselves are one file each, in the order the data flows:
 *
 *   iscsi-plan (targets) → iscsi-login (sessions) → iscsi-scan (disks) → iscsi-map (dm map) →
 *   iscsi-result (the device handed out)
 *
 * Each stage file holds its forward step and its undo; iscsi-connect-flow and
 * iscsi-disconnect-flow call them in order (the undo in reverse).
 */
export interface IscsiTools {
  /** Runs iscsiadm, multipath-tools, blockdev. */
  readonly runner: CommandRunner;
  /** The host's /sys, /etc, /dev. */
  readonly fs: HostFs;
  /** Keyed locks (per session, per LUN). */
  readonly locks: LockBackend;
  /** iscsiadm calls. */
  readonly iscsiadm: Iscsiadm;
  /** multipath-tools calls. */
  readonly multipath: Multipath;
  /** Validated options. */
  readonly config: ParsedIscsiConnectorConfig;
  /**
   * Connects of this process in flight per session lock key: a session counted here is in use even
   * before its LUN shows in sysfs, so a concurrent disconnect never logs it out.
   */
  readonly pending: Map<string, number>;
  /** Portal host name resolution. */
  readonly resolve: ResolveHost;
  /** The connector's sysfs waits, served by one polling loop (see {@link waitSysfs}). */
  readonly waits: PollGroup;
  /**
   * Node records (`<portal>,<iqn>`) this process deleted and has not made again: a disconnect that
   * finds their session gone (another disconnect logged it out) does not run a delete that can
   * only answer "no records".
   */
  readonly forgottenNodes: Set<string>;
  /** LUN scans, queued per SCSI host and written back to back (see {@link ScanQueue}). */
  readonly scans: ScanQueue;
  /** Logins in flight per session lock key: a connect needing the same session joins it (see `logIn`). */
  readonly logins: Map<string, LoginFlight>;
}

/**
 * Waits for what sysfs shows: `probe` runs once per round of the connector's poll group against
 * that round's snapshot of the files (shared with every other wait in flight), until it yields a
 * value, `timeoutMs` passes (`onTimeout`) or the operation ends.
 */
export function waitSysfs<T>(tools: IscsiTools, ctx: OperationContext, timeoutMs: number, probe: (fs: HostFs, round: number) => ResultAsync<T | undefined, VolkitError>, onTimeout: () => VolkitError): ResultAsync<T, VolkitError> {
  return tools.waits.wait(probe, { timeoutMs, signal: ctx.signal, onTimeout });
}

/** Polls with the connector's back-off (for waits that run commands), bounded by `timeoutMs` and the operation's signal. */
export function poll<T>(tools: IscsiTools, ctx: OperationContext, timeoutMs: number, probe: (attempt: number) => ResultAsync<T | undefined, VolkitError>, onTimeout: () => VolkitError): ResultAsync<T, VolkitError> {
  return waitFor(probe, { timeoutMs, signal: ctx.signal, minDelayMs: tools.config.poll.minMs, maxDelayMs: tools.config.poll.maxMs, onTimeout });
}
