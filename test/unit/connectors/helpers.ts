import type { ConnectionInfo } from "../../../src/core/records.js";
import type { Logger } from "../../../src/core/events.js";

export const IQN = "iqn.2010-10.org.openstack:volume-aaaa";
export const P1 = "127.0.0.1:3260";
export const P2 = "127.0.0.2:3260";
export const WWID = "naa.6001405cd392699b3044eb2b6a99fd8c";
export const UDEV_WWID = "36001405cd392699b3044eb2b6a99fd8c";
export const MiB = 1024 * 1024;
export const SECRET = "S3cretChapPass99";
export const CHAP = { username: "user-aaaa", password: SECRET };

/** Connection info as the LVM driver builds it (plural keys for multipath). */
export function iscsiInfo(over: Record<string, unknown> = {}): ConnectionInfo {
  const info: ConnectionInfo = {
    type: "iscsi",
    volumeId: "aaaa",
    accessMode: "rw",
    encrypted: false,
    targetDiscovered: false,
    targetIqn: IQN,
    targetPortal: P1,
    targetLun: 0,
  };
  return Object.assign({}, info, over);
}

export function multipathInfo(over: Record<string, unknown> = {}): ConnectionInfo {
  return iscsiInfo({ targetPortals: [P1, P2], targetIqns: [IQN, IQN], targetLuns: [0, 0], ...over });
}

export function chapInfo(over: Record<string, unknown> = {}): ConnectionInfo {
  return multipathInfo({ authMethod: "CHAP", authUsername: CHAP.username, authPassword: CHAP.password, ...over });
}

/** A logger that keeps every entry as JSON text (to check what was logged, and that no secret was). */
export class MemoryLogger implements Logger {
  readonly lines: { level: string; obj: object; msg: string | undefined }[] = [];
  debug(obj: object, msg?: string): void {
    this.lines.push({ level: "debug", obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.lines.push({ level: "info", obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.lines.push({ level: "warn", obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.lines.push({ level: "error", obj, msg });
  }
  text(): string {
    return JSON.stringify(this.lines);
  }
  warnings(): string[] {
    return this.lines.filter((l) => l.level === "warn").map((l) => l.msg ?? "");
  }
}
