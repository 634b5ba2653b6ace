/**
 * Reads and writes volumes through the array simulator's iSCSI targets with qemu-img (QEMU's
 * libiscsi initiator), the way a host would, for the IP-SAN host tests. CHAP comes from a 0600
 * secret file through `--object secret`, never from argv. Only the first bytes of a volume are
 * moved: a `raw` layer with `size=` over the iSCSI block driver.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ConnectionInfo } from "../../src/core/records.js";

const run = promisify(execFile);

/** Tools the IP-SAN host tests need, with the Debian packages that hold them. */
const TOOLS = ["tgtd", "tgtadm", "qemu-img", "iscsi-readcapacity16", "iscsi-inq", "openssl", "cp"];

/** Why the IP-SAN host tests cannot run here (not root, tools missing), or undefined. */
export function missingIpsanPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (the simulator's tgtd)";
  const PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", t], { env: { ...process.env, PATH } }).status !== 0);
  return missing.length ? `missing tools: ${missing.join(", ")} (apt-get install -y tgt libiscsi-bin qemu-utils qemu-block-extra openssl)` : undefined;
}

/** sha256 hex of a buffer. */
export const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** One host's iSCSI identity: initiator name and CHAP. */
export interface IscsiIdentity {
  /** Initiator IQN. */
  readonly iqn: string;
  /** CHAP user and secret the array was configured with for it. */
  readonly chap: { readonly user: string; readonly password: string };
}

/** Moves bytes through the targets as `identity`, keeping its CHAP secret in a file under `dir`. */
export class IscsiIo {
  readonly #dir: string;
  readonly #identity: IscsiIdentity;
  readonly #secretFile: string;

  /** @param dir - a private temporary directory; @param identity - the initiator it logs in as. */
  constructor(dir: string, identity: IscsiIdentity) {
    this.#dir = dir;
    this.#identity = identity;
    this.#secretFile = join(dir, `chap-${randomBytes(4).toString("hex")}`);
    writeFileSync(this.#secretFile, identity.chap.password, { mode: 0o600 });
  }

  /** Writes `data` at offset 0 of the LUN, through path `pathIndex` of the connection. */
  async write(info: ConnectionInfo, data: Buffer, pathIndex = 0): Promise<void> {
    const file = join(this.#dir, `w-${randomBytes(4).toString("hex")}`);
    writeFileSync(file, data);
    try {
      await run("qemu-img", ["convert", "-n", ...this.#secret(), "-f", "raw", file, "--target-image-opts", this.#opts(info, data.length, pathIndex)]);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Reads the first `bytes` of the LUN through path `pathIndex` of the connection. */
  async read(info: ConnectionInfo, bytes: number, pathIndex = 0): Promise<Buffer> {
    const file = join(this.#dir, `r-${randomBytes(4).toString("hex")}`);
    try {
      await run("qemu-img", ["convert", ...this.#secret(), "--image-opts", this.#opts(info, bytes, pathIndex), "-O", "raw", file]);
      return readFileSync(file);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** The LUN's size in bytes as the target reports it (READ CAPACITY 16 over libiscsi, CHAP from the environment). */
  async capacity(info: ConnectionInfo, pathIndex = 0): Promise<number> {
    const { portal, iqn, lun } = pathOf(info, pathIndex);
    const out = await run("iscsi-readcapacity16", ["-i", this.#identity.iqn, `iscsi://${portal}/${iqn}/${lun}`], {
      env: { ...process.env, LIBISCSI_CHAP_USERNAME: this.#identity.chap.user, LIBISCSI_CHAP_PASSWORD: this.#identity.chap.password },
    });
    const m = /Total size:(\d+)/.exec(out.stdout);
    if (!m?.[1]) throw new Error("iscsi-readcapacity16 printed no size");
    return Number(m[1]);
  }

  #secret(): string[] {
    return ["--object", `secret,id=sec0,file=${this.#secretFile}`];
  }

  #opts(info: ConnectionInfo, bytes: number, pathIndex: number): string {
    const { portal, iqn, lun } = pathOf(info, pathIndex);
    return [
      "driver=raw",
      `size=${bytes}`,
      "file.driver=iscsi",
      "file.transport=tcp",
      `file.portal=${portal}`,
      `file.target=${iqn}`,
      `file.lun=${lun}`,
      `file.user=${this.#identity.chap.user}`,
      "file.password-secret=sec0",
      `file.initiator-name=${this.#identity.iqn}`,
    ].join(",");
  }
}

/** Portal, IQN and LUN of one path of an iSCSI connection. */
export function pathOf(info: ConnectionInfo, index: number): { portal: string; iqn: string; lun: number } {
  if (info.type !== "iscsi") throw new Error(`expected an iSCSI connection, got ${info.type}`);
  const portal = info.targetPortals?.[index] ?? info.targetPortal;
  const iqn = info.targetIqns?.[index] ?? info.targetIqn;
  const lun = info.targetLuns?.[index] ?? info.targetLun;
  return { portal, iqn, lun };
}
