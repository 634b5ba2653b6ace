import { randomBytes } from "node:crypto";
import { type Result, type ResultAsync, errAsync, ok, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { ConnectionInfoInput, HostProperties, ModelUpdateInput, Volume } from "../../core/records.js";
import { registerSecret } from "../../core/secrets.js";
import { formatProviderAuth, parseProviderAuth, type ChapCredentials, type TargetHelper } from "../../targets/target-helper.js";
import type { ExportState } from "../volume-driver.js";
import type { LvmClient } from "./lvm-client.js";
import type { ParsedLvmConfig } from "./lvm-config.js";
import { volumeLvName } from "./lvm-names.js";

/**
 * The LVM driver's exports: iSCSI targets through a tgt or LIO helper with per-volume CHAP
 * (generated once, kept in the volume's `providerAuth`, reused), or `local` connections when no
 * target is configured. A stored `providerAuth` that is not well-formed is refused, never replaced.
 */
export class LvmExports {
  constructor(
    private readonly lvm: LvmClient,
    private readonly target: TargetHelper | undefined,
    private readonly config: ParsedLvmConfig,
  ) {}

  /** The CHAP credentials stored on the volume (validated), or undefined when it has none. */
  storedChap(volume: Volume): Result<ChapCredentials | undefined, VolkitError> {
    return parseProviderAuth(volume.providerAuth, volume.id);
  }

  /** The credentials an export of `volume` uses: the stored ones, or new ones when CHAP is on and none are stored. */
  #chapFor(volume: Volume): Result<ChapCredentials | undefined, VolkitError> {
    if (!this.config.target?.chap) return ok(undefined);
    return this.storedChap(volume).map((stored) => {
      const chap = stored ?? { username: randomToken(20), password: randomToken(16) };
      registerSecret(chap.password);
      return chap;
    });
  }

  /** Exports the LV (idempotent); returns the provider location and auth to store. */
  create(volume: Volume, ctx: OperationContext): ResultAsync<ModelUpdateInput, VolkitError> {
    const target = this.target;
    if (!target) return okAsync({});
    const name = volumeLvName(volume.id);
    return this.#chapFor(volume).asyncAndThen((chap) =>
      this.lvm
        .findLv(name, ctx)
        .andThen((lv) => (lv ? okAsync(lv) : errAsync(new VolkitError("VOLUME_NOT_FOUND", `volume ${volume.id} not found`, { source: "lvm", details: { volumeId: volume.id } }))))
        .andThen(() => ctx.phase("export", () => target.createExport({ volumeId: volume.id, devicePath: this.lvm.devicePath(name), chap }, ctx)))
        .map((exp): ModelUpdateInput => ({ providerLocation: exp.providerLocation, ...(chap ? { providerAuth: formatProviderAuth(chap) } : {}) })),
    );
  }

  /** Removes the target; ok when there is none. */
  remove(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const target = this.target;
    return target ? ctx.phase("unexport", () => target.removeExport(volume.id, ctx)) : okAsync(undefined);
  }

  /** Whether the target exists and which initiators have access (LIO ACLs; tgt live sessions). */
  describe(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError> {
    const target = this.target;
    if (!target) return okAsync({ exported: false, hosts: [] });
    return target.getExport(volume.id, ctx).map((exp) => (exp ? { exported: true, hosts: exp.initiators } : { exported: false, hosts: [] }));
  }

  /**
   * iSCSI: allows the host's initiator on the export and returns the target, portal(s), LUN(s) and
   * CHAP (plural keys when the target has several portals). Without a target: `local` info.
   */
  initializeConnection(volume: Volume, host: HostProperties, discard: boolean, ctx: OperationContext): ResultAsync<ConnectionInfoInput, VolkitError> {
    const base = { volumeId: volume.id, accessMode: host.readOnly ? "ro" : "rw", discard } as const;
    const target = this.target;
    if (!target) return okAsync({ type: "local", ...base, devicePath: this.lvm.devicePath(volumeLvName(volume.id)) });
    const initiator = host.initiator;
    if (!initiator) return errAsync(new VolkitError("INVALID_ARGUMENT", "iSCSI connections need the host's initiator IQN", { source: "lvm" }));
    return this.storedChap(volume).asyncAndThen((chap) => {
      if (this.config.target?.chap && !chap) {
        return errAsync(new VolkitError("INVALID_STATE", `volume ${volume.id} has no CHAP credentials in providerAuth; call createExport first`, { source: "lvm" }));
      }
      return target
        .getExport(volume.id, ctx)
        .andThen((exp) => (exp ? okAsync(exp) : errAsync(new VolkitError("INVALID_STATE", `volume ${volume.id} is not exported; call createExport first`, { source: "lvm" }))))
        .andThen((exp) =>
          ctx.phase("allow-initiator", () => target.allowInitiator(volume.id, initiator, chap, ctx)).map((lun): ConnectionInfoInput => {
            const multi = exp.portals.length > 1 ? { targetPortals: [...exp.portals], targetIqns: exp.portals.map(() => exp.iqn), targetLuns: exp.portals.map(() => lun) } : {};
            const auth = chap ? { authMethod: "CHAP" as const, authUsername: chap.username, authPassword: chap.password } : {};
            return { type: "iscsi", ...base, targetDiscovered: false, targetIqn: exp.iqn, targetPortal: exp.portals[0] ?? "", targetLun: lun, ...multi, ...auth };
          }),
        );
    });
  }

  /** Revokes the host's initiator (or every initiator when no host is given). */
  terminateConnection(volume: Volume, host: HostProperties | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.target ? this.target.denyInitiator(volume.id, host?.initiator, ctx) : okAsync(undefined);
  }

  /** Makes an existing export show the LV's new size (tgt re-reads it; LIO needs nothing). */
  refresh(volume: Volume, chap: ChapCredentials | undefined, ctx: OperationContext): ResultAsync<void, VolkitError> {
    const target = this.target;
    if (!target) return okAsync(undefined);
    return target
      .getExport(volume.id, ctx)
      .andThen((exp) => (exp ? ctx.phase("refresh-export", () => target.refreshSize({ volumeId: volume.id, devicePath: this.lvm.devicePath(volumeLvName(volume.id)), chap }, ctx)) : okAsync(undefined)));
  }
}

/** Random token of letters and digits (CHAP user names and secrets). */
function randomToken(length: number): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
