import { type ResultAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import type { VolkitError } from "../../core/errors.js";
import type { LockBackend } from "../../core/locks.js";
import type { CommandRunner } from "../../exec/runner.js";
import type { HostFs } from "../../host/host-fs.js";
import { waitFor } from "../../host/wait.js";
import type { ParsedIscsiConnectorConfig } from "./iscsi-config.js";
import { listIscsiSessions, sessionMatches, type IscsiSession } from "./iscsi-sysfs.js";
import type { IscsiPathTarget, ResolveHost } from "./iscsi-targets.js";
import type { Iscsiadm } from "./iscsiadm.js";
import type { Multipath } from "./multipath.js";

/** What the connect/disconnect flows share (one instance per connector). */
export interface IscsiDeps {
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
}

/** The session of a path, if logged in (matched on IQN, portal address and port). */
export function findSession(deps: IscsiDeps, t: IscsiPathTarget, addresses: readonly string[]): ResultAsync<IscsiSession | undefined, VolkitError> {
  return listIscsiSessions(deps.fs).map((all) => {
    const mine = all.filter((s) => sessionMatches(s, t.iqn, addresses, t.port));
    return mine.find((s) => s.state === "LOGGED_IN") ?? mine[0];
  });
}

/** Polls sysfs with the connector's back-off, bounded by `timeoutMs` and the operation's signal. */
export function poll<T>(deps: IscsiDeps, ctx: OperationContext, timeoutMs: number, probe: (attempt: number) => ResultAsync<T | undefined, VolkitError>, onTimeout: () => VolkitError): ResultAsync<T, VolkitError> {
  return waitFor(probe, { timeoutMs, signal: ctx.signal, minDelayMs: deps.config.poll.minMs, maxDelayMs: deps.config.poll.maxMs, onTimeout });
}

/** Adds to / takes from the in-flight count of a session key. */
export function holdPending(deps: IscsiDeps, key: string, delta: 1 | -1): void {
  const n = (deps.pending.get(key) ?? 0) + delta;
  if (n <= 0) deps.pending.delete(key);
  else deps.pending.set(key, n);
}

/** Compares WWIDs loosely: multipath may write `_` where sysfs has runs of spaces (T10 ids). */
export function sameWwid(a: string, b: string): boolean {
  const norm = (w: string): string => w.replace(/[\s_]+/g, "").toLowerCase();
  return norm(a) === norm(b);
}
