import { ResultAsync, errAsync, okAsync } from "neverthrow";
import { VolkitError } from "../../core/errors.js";
import { orMissing } from "../../host/block-sysfs.js";
import type { HostFs } from "../../host/host-fs.js";

/**
 * The kernel's view of open-iscsi sessions, read from sysfs (no iscsiadm process, no by-path
 * polling): sessions from `/sys/class/iscsi_session`, their portal from the connection's
 * `persistent_address`/`persistent_port`, their SCSI host from the session's device path, and
 * the disks of each LUN under `…/session<N>/target<H:C:T>/<H:C:T:L>/block/`.
 */

/** An iSCSI session as sysfs shows it. */
export interface IscsiSession {
  /** Session id: the N of `session<N>`. */
  readonly id: number;
  /** Target IQN (`targetname`). */
  readonly targetIqn: string;
  /** Portal address the session was made to (no brackets for IPv6). */
  readonly address: string;
  /** Portal port. */
  readonly port: number;
  /** `LOGGED_IN`, `FAILED`, `FREE`. */
  readonly state: string;
  /** SCSI host number (`host<H>`). */
  readonly host: number;
  /** Host path of the session's device directory (`/sys/devices/platform/host2/session1`). */
  readonly devicePath: string;
}

/** A LUN of a session as sysfs shows it. */
export interface SessionLun {
  /** LUN number. */
  readonly lun: number;
  /** `H:C:T:L`. */
  readonly hctl: string;
  /** Disk name (`sdb`) once the sd driver has bound, else undefined. */
  readonly disk: string | undefined;
}

/** Every iSCSI session; sessions that vanish while being read are skipped. */
export function listIscsiSessions(fs: HostFs): ResultAsync<IscsiSession[], VolkitError> {
  return orMissing(fs.readdir("/sys/class/iscsi_session")).andThen((names) => {
    const ids = (names ?? []).map((n) => /^session(\d+)$/.exec(n)?.[1]).filter((n): n is string => n !== undefined).map(Number);
    if (ids.length === 0) return okAsync([]);
    return orMissing(fs.readdir("/sys/class/iscsi_connection")).andThen((conns) =>
      ResultAsync.combine(ids.map((id) => readSession(fs, id, conns ?? []))).map((all) => all.filter((s): s is IscsiSession => s !== undefined)),
    );
  });
}

function readSession(fs: HostFs, id: number, connections: readonly string[]): ResultAsync<IscsiSession | undefined, VolkitError> {
  const base = `/sys/class/iscsi_session/session${id}`;
  const conn = connections.find((c) => c.startsWith(`connection${id}:`));
  const cbase = conn === undefined ? undefined : `/sys/class/iscsi_connection/${conn}`;
  const attr = (path: string): ResultAsync<string | undefined, VolkitError> => orMissing(fs.readFile(path)).map((v) => v?.trim());
  const addr = (name: string): ResultAsync<string | undefined, VolkitError> =>
    cbase === undefined ? okAsync(undefined) : attr(`${cbase}/persistent_${name}`).andThen((v) => (v ? okAsync(v) : attr(`${cbase}/${name}`)));
  return ResultAsync.combine([attr(`${base}/targetname`), attr(`${base}/state`), orMissing(fs.realpath(`${base}/device`)), addr("address"), addr("port")] as const).map(
    ([targetIqn, state, devicePath, address, port]) => {
      const host = devicePath === undefined ? undefined : /\/host(\d+)\/session\d+$/.exec(devicePath)?.[1];
      if (!targetIqn || !devicePath || host === undefined || !address || !port) return undefined;
      return { id, targetIqn, address: address.replace(/^\[|\]$/g, ""), port: Number(port), state: state ?? "", host: Number(host), devicePath };
    },
  );
}

/** Whether a session was made to `address` (one of the portal host's addresses) and `port`. */
export function sessionMatches(session: IscsiSession, iqn: string, addresses: readonly string[], port: number): boolean {
  const a = session.address.toLowerCase();
  return session.targetIqn === iqn && session.port === port && addresses.some((x) => x.toLowerCase() === a);
}

/** The `target<H:C:T>` directory of a session, once the kernel has created one. */
function targetDirs(fs: HostFs, session: IscsiSession): ResultAsync<{ name: string; channel: number; target: number }[], VolkitError> {
  return orMissing(fs.readdir(session.devicePath)).map((entries) =>
    (entries ?? []).flatMap((name) => {
      const m = /^target(\d+):(\d+):(\d+)$/.exec(name);
      return m ? [{ name, channel: Number(m[2]), target: Number(m[3]) }] : [];
    }),
  );
}

/** Every LUN the kernel has for a session (scanned SCSI devices), with its disk when bound. */
export function sessionLuns(fs: HostFs, session: IscsiSession): ResultAsync<SessionLun[], VolkitError> {
  return targetDirs(fs, session).andThen((targets) =>
    ResultAsync.combine(
      targets.map((t) =>
        orMissing(fs.readdir(`${session.devicePath}/${t.name}`)).andThen((entries) =>
          ResultAsync.combine(
            (entries ?? [])
              .filter((e) => /^\d+:\d+:\d+:\d+$/.test(e))
              .map((hctl) =>
                orMissing(fs.readdir(`${session.devicePath}/${t.name}/${hctl}/block`)).map((disks): SessionLun => ({ lun: Number(hctl.split(":")[3]), hctl, disk: disks?.[0] })),
              ),
          ),
        ),
      ),
    ).map((perTarget) => perTarget.flat()),
  );
}

/** The LUN's SCSI device under a session, or undefined when not (yet) scanned. */
export function findSessionLun(fs: HostFs, session: IscsiSession, lun: number): ResultAsync<SessionLun | undefined, VolkitError> {
  return sessionLuns(fs, session).map((luns) => luns.find((l) => l.lun === lun));
}

/**
 * Scans ONE LUN of a session: `echo '<C> <T> <L>' > /sys/class/scsi_host/host<H>/scan`, with
 * `- -` for channel and target while the session has no target directory yet (a first scan after
 * a manual-scan login). Nothing else of the target is scanned (field pain point 4).
 */
export function scanSessionLun(fs: HostFs, session: IscsiSession, lun: number): ResultAsync<string, VolkitError> {
  if (!Number.isInteger(lun) || lun < 0) return errAsync(new VolkitError("INVALID_ARGUMENT", `bad LUN ${lun}`, { source: "iscsi" }));
  return targetDirs(fs, session).andThen((targets) => {
    const t = targets[0];
    const line = t === undefined ? `- - ${lun}` : `${t.channel} ${t.target} ${lun}`;
    return fs.writeFile(`/sys/class/scsi_host/host${session.host}/scan`, line).map(() => line);
  });
}
