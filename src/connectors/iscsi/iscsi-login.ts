import { ResultAsync, err, ok, okAsync, safeTry, type Result } from "neverthrow";
import { raceAbort } from "../../core/abort.js";
import { abortReasonToError, type OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { withLock } from "../../core/locks.js";
import { sessionLockKey, sessionName, type PlannedPath } from "./iscsi-plan.js";
import type { RemovalReport } from "./iscsi-report.js";
import type { HostFs } from "../../host/host-fs.js";
import { listIscsiSessions, sessionLuns, sessionMatches, type IscsiSession } from "./iscsi-sysfs.js";
import { waitSysfs, type IscsiTools } from "./iscsi-tools.js";
import { loginSettings, type ChapSettings } from "./iscsiadm.js";

/**
 * Stage 2, log in: one iSCSI session per path (reused when it exists), and its undo, log out and
 * delete the node record. Both run under the session's lock; a connect holds the session
 * (`IscsiTools.pending`) from its login until its LUN is visible, so a concurrent disconnect of
 * another LUN never logs out a session about to be used.
 */

/** What the login of one path did, kept so that a failure undoes exactly that. */
export interface LoginState {
  /** The path. */
  readonly path: PlannedPath;
  /** Its session once logged in (or found). */
  session: IscsiSession | undefined;
  /** The node record did not exist before. */
  createdNode: boolean;
  /** `iscsiadm --login` was run. */
  attemptedLogin: boolean;
  /** `iscsiadm --login` answered (made a session, or found one); false while its outcome is unknown. */
  loginAnswered: boolean;
  /** The session did not exist before (our login made it). */
  createdSession: boolean;
  /** This operation counts as a user of the session (see IscsiTools.pending). */
  holdsSession: boolean;
}

/** Fresh login state of a path. */
export function newLoginState(path: PlannedPath): LoginState {
  return { path, session: undefined, createdNode: false, attemptedLogin: false, loginAnswered: false, createdSession: false, holdsSession: false };
}

/** The session of a path, if logged in (matched on IQN, portal address and port). */
export function findSession(fs: HostFs, path: PlannedPath): ResultAsync<IscsiSession | undefined, VolkitError> {
  return listIscsiSessions(fs).map((all) => {
    const mine = all.filter((s) => sessionMatches(s, path.iqn, path.addresses, path.port));
    return mine.find((s) => s.state === "LOGGED_IN") ?? mine[0];
  });
}

/** Adds to / takes from the in-flight count of a session key. */
function holdPending(tools: IscsiTools, key: string, delta: 1 | -1): void {
  const n = (tools.pending.get(key) ?? 0) + delta;
  if (n <= 0) tools.pending.delete(key);
  else tools.pending.set(key, n);
}

/** Drops the in-flight holds of logins whose LUN is now visible in sysfs (or that are undone). */
export function releaseHolds(tools: IscsiTools, logins: readonly LoginState[]): void {
  for (const s of logins) {
    if (s.holdsSession) holdPending(tools, sessionLockKey(s.path), -1);
    s.holdsSession = false;
  }
}

/** Lock key of one target's node records: deletes of two portals' records of one target race in iscsiadm (exit 6). */
function nodeDbLockKey(t: PlannedPath): string {
  return `iscsi-nodedb:${t.iqn}`;
}

/** A login in flight for one session: the connects waiting on it, and its outcome. */
export interface LoginFlight {
  /** Connects that get the session — and a hold on it — when the login succeeds (the first one included). */
  readonly joined: Set<LoginState>;
  /** The login's outcome. */
  readonly done: Promise<Result<IscsiSession, VolkitError>>;
}

/**
 * Logs one path in unless its session exists, under the session's lock, and holds the session.
 * The node gets `node.session.scan=manual` (no whole-target scans), CHAP when the connection has
 * it, and `node.startup=automatic` (os-brick's settings), in one update.
 *
 * Connects of other LUNs needing the same session while this runs join it instead of queueing on
 * the lock one after the other: each gets the session and its hold in the same step, under the
 * lock. A joined connect whose own operation ends stops waiting; one whose leader was cancelled
 * (and not itself) logs in anew.
 */
export function logIn(tools: IscsiTools, s: LoginState, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<IscsiSession, VolkitError> {
  const key = sessionLockKey(s.path);
  const flight = tools.logins.get(key);
  if (flight !== undefined) return join(tools, flight, s, chap, ctx);
  const joined = new Set<LoginState>([s]);
  const leave = (): void => {
    if (tools.logins.get(key) === mine) tools.logins.delete(key);
  };
  const led = lead(tools, s, joined, leave, chap, ctx).mapErr((e) => {
    leave();
    return e;
  });
  const mine: LoginFlight = { joined, done: Promise.resolve(led) };
  tools.logins.set(key, mine);
  return new ResultAsync(mine.done);
}

/** Waits for a login in flight (see {@link logIn}). */
function join(tools: IscsiTools, flight: LoginFlight, s: LoginState, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<IscsiSession, VolkitError> {
  flight.joined.add(s);
  return new ResultAsync(
    raceAbort(flight.done, ctx.signal).then((raced): Promise<Result<IscsiSession, VolkitError>> | Result<IscsiSession, VolkitError> => {
      if (raced.aborted) {
        flight.joined.delete(s); // no hold for it from now on; one it already got is dropped by its undo
        return err(abortReasonToError(raced.reason, "iscsi"));
      }
      const r = raced.value;
      if (r.isOk() && s.session !== undefined) return ok(s.session);
      flight.joined.delete(s);
      const e = r.isErr() ? r.error : new VolkitError("INTERNAL", "a joined login ended without a session", { source: "iscsi" });
      // The leader's operation was cancelled, not this one: log in on our own.
      if ((e.code === "ABORTED" || e.code === "TIMEOUT") && ctx.abortError() === undefined) return Promise.resolve(logIn(tools, s, chap, ctx));
      return err(e);
    }),
  );
}

/** The login itself, for every connect that joined it. */
function lead(tools: IscsiTools, s: LoginState, joined: ReadonlySet<LoginState>, leave: () => void, chap: ChapSettings | undefined, ctx: OperationContext): ResultAsync<IscsiSession, VolkitError> {
  const t = s.path;
  const adm = tools.iscsiadm;
  return withLock(tools.locks, sessionLockKey(t), ctx.signal, () =>
    safeTry(async function* () {
      let session = yield* findSession(tools.fs, t);
      if (!session) {
        if (!(yield* adm.nodeExists(t.iqn, t.portal, ctx))) {
          yield* adm.createNode(t.iqn, t.portal, ctx);
          s.createdNode = true;
        }
        tools.forgottenNodes.delete(sessionName(t));
        yield* adm.configureNode(t.iqn, t.portal, loginSettings(chap), ctx);
        s.attemptedLogin = true;
        s.createdSession = yield* adm.login(t.iqn, t.portal, ctx);
        s.loginAnswered = true;
        session = yield* waitSysfs(tools, ctx, tools.config.timeouts.deviceMs, (fs) => findSession(fs, t), () =>
          new VolkitError("LOGIN_FAILED", `iscsiadm logged in to ${t.iqn} at ${t.portal} but no session appeared in sysfs`, { source: "iscsi", details: { target: t.iqn, portal: t.portal } }),
        );
      }
      // Every connect that joined gets the session and its hold now, under the lock, and later
      // ones start a login of their own (which finds the session).
      leave();
      for (const m of joined) {
        m.session = session;
        holdPending(tools, sessionLockKey(t), 1);
        m.holdsSession = true;
      }
      return ok(session);
    }),
  );
}

/** Options of {@link logOut}. */
export interface LogoutOptions {
  /** Delete the node record (disconnect: yes; rollback: only a record it created). */
  readonly deleteNode: boolean;
  /** Release this operation's in-flight hold on the session inside the lock, before checking. */
  readonly dropPending: boolean;
  /** Leave the session logged in (rollback of a session that existed before); a node record this operation created still goes. */
  readonly keepSession: boolean;
  /** Disks this operation meant to remove: one still present under the session is a failure. */
  readonly ourDisks: ReadonlySet<string>;
}

/**
 * Whether the undo of a login must leave its session: a session that existed before (found, or
 * `--login` answered that it exists) is kept; one the login made, or may have made (the login did
 * not answer), goes when nothing else uses it.
 */
export function keepsSession(s: LoginState): boolean {
  return !(s.createdSession || (s.attemptedLogin && !s.loginAnswered));
}

/**
 * Undo of {@link logIn}: logs a session out and deletes its node record — only when no LUN of the
 * target remains under it and no connect of this process is using it, decided under the session's
 * lock. A session kept for other LUNs is reported as kept (it keeps its node record); a node record
 * is reported (kind `node`) when deleted, and when left because its session could not go.
 */
export function logOut(tools: IscsiTools, t: PlannedPath, ctx: OperationContext, report: RemovalReport, options: LogoutOptions): ResultAsync<void, never> {
  const key = sessionLockKey(t);
  const name = sessionName(t);
  let dropped = false;
  const drop = (): void => {
    if (options.dropPending && !dropped) holdPending(tools, key, -1);
    dropped = true;
  };
  const nodeLeft = (why: string): void => {
    if (options.deleteNode) report.fail("node", name, `not removed: ${why}`);
  };
  // One target's records are deleted one at a time (two deletes at once race in iscsiadm), and a
  // record this process already deleted is not deleted again (it could only answer "no records").
  const deleteRecord = (): ResultAsync<void, never> =>
    !options.deleteNode || tools.forgottenNodes.has(name)
      ? okAsync(undefined)
      : withLock(tools.locks, nodeDbLockKey(t), ctx.signal, () => tools.iscsiadm.deleteNode(t.iqn, t.portal, ctx))
          .map((existed) => {
            tools.forgottenNodes.add(name);
            if (existed) report.remove(`node ${name}`);
          })
          .orElse((e) => {
            report.fail("node", name, `could not delete the node record: ${e.message}`, e);
            // The record stays: at least it must not log in again at boot.
            return tools.iscsiadm.updateNode(t.iqn, t.portal, "node.startup", "manual", ctx).orElse(() => okAsync(undefined));
          });
  const body = (): ResultAsync<void, VolkitError> => {
    drop();
    // A session that is not ours stays; a record we created goes all the same (undo what we made).
    if (options.keepSession) return deleteRecord();
    return findSession(tools.fs, t).andThen((session) => {
      if (!session) return deleteRecord();
      return sessionLuns(tools.fs, session).andThen((luns) => {
        const inFlight = tools.pending.get(key) ?? 0;
        if (luns.length > 0 || inFlight > 0) {
          // Our LUN still there: its disk failed to go (or never bound). A disk at our LUN number
          // that we did not mean to remove holds another volume (its WWID differed).
          const ours = (l: { lun: number; disk: string | undefined }): boolean => l.lun === t.lun && (l.disk === undefined || options.ourDisks.has(l.disk));
          const others = luns.filter((l) => !ours(l));
          if (luns.some(ours)) {
            report.fail("session", name, `LUN ${t.lun} of this volume is still present on it`);
            nodeLeft("its session is still logged in");
          } else if (others.length > 0) {
            report.keep("session", name, `in use by LUN ${others.map((l) => (l.lun === t.lun ? `${l.lun} (another volume: WWID differs)` : String(l.lun))).join(", ")} of this target (not an error)`);
          } else {
            report.keep("session", name, "another attach on this host is using it (not an error)");
          }
          return okAsync(undefined);
        }
        // A record that stays gets node.startup=manual first (no login at boot). One about to be
        // deleted does not: it had `automatic` for the whole attachment, and a failed delete sets it.
        const startupManual = options.deleteNode ? okAsync(undefined) : tools.iscsiadm.updateNode(t.iqn, t.portal, "node.startup", "manual", ctx).orElse(() => okAsync(undefined));
        return startupManual
          .andThen(() => tools.iscsiadm.logout(t.iqn, t.portal, ctx))
          .andThen(() =>
            waitSysfs(tools, ctx, tools.config.timeouts.removeMs, (fs) => findSession(fs, t).map((s) => (s?.id === session.id ? undefined : true)), () =>
              new VolkitError("DETACH_INCOMPLETE", `session ${name} is still present after logout`, { source: "iscsi" }),
            ),
          )
          .map(() => report.remove(`session ${name}`))
          .andThen(deleteRecord);
      });
    });
  };
  const locked = (): ResultAsync<void, never> =>
    withLock(tools.locks, key, ctx.signal, body).orElse((e) => {
      drop(); // the lock was never obtained: the hold must not outlive this operation
      report.fail("session", name, `could not log out: ${e.message}`, e);
      nodeLeft("its session could not be logged out");
      return okAsync(undefined);
    });
  if (options.dropPending || options.keepSession) return locked();
  // A detach whose session still serves another LUN's disk keeps it without queueing on the lock
  // (sixteen detaches of one target otherwise take it one after the other). Safe: keeping never
  // loses data, and the last detach to look sees no disk of a detach that looked before it (those
  // were gone before their detach looked), so it takes the lock and decides.
  return usedByAnotherDisk(tools, t, options.ourDisks)
    .orElse(() => okAsync(undefined))
    .andThen((others) => {
      if (others === undefined) return locked();
      report.keep("session", name, `in use by LUN ${others.join(", ")} of this target (not an error)`);
      return okAsync(undefined);
    });
}

/**
 * The other LUNs of a path's session with a disk bound; undefined when there are none, when there
 * is no session, or when our own LUN is still there (the locked check reports that).
 */
function usedByAnotherDisk(tools: IscsiTools, t: PlannedPath, ourDisks: ReadonlySet<string>): ResultAsync<number[] | undefined, VolkitError> {
  return findSession(tools.fs, t).andThen((session) =>
    session === undefined
      ? okAsync(undefined)
      : sessionLuns(tools.fs, session).map((luns) => {
          if (luns.some((l) => l.lun === t.lun && (l.disk === undefined || ourDisks.has(l.disk)))) return undefined;
          const others = luns.filter((l) => l.lun !== t.lun && l.disk !== undefined).map((l) => l.lun);
          return others.length > 0 ? others : undefined;
        }),
  );
}
