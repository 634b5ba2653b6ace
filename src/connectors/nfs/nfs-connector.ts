import { errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { rollbackContext, type OperationContext, type OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { EventBus, silentLogger, type Logger } from "../../core/events.js";
import { ConnectorPropertiesSchema, NfsConnectionInfoSchema, type ConnectionInfo, type ConnectorProperties, type NfsConnectionInfo } from "../../core/types.js";
import { validate } from "../../core/validation.js";
import { parseImageInfo } from "../../data/qemu-img.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { runHostOperation, type HostOperationScope } from "../../host/operation.js";
import { runBounded } from "../../remotefs/bounded-run.js";
import type { MountManager, ReleaseReport } from "../../remotefs/mount-manager.js";
import { createNfsMountManager, type NfsMountManagerOptions } from "../../remotefs/nfs-mount-manager.js";
import type { AttachedDevice, Connector, DisconnectOptions, DisconnectReport, LeftBehind } from "../connector.js";

/** Options of {@link createNfsConnector}. */
export interface NfsConnectorOptions {
  /** Runs `qemu-img info`, `hostname`, `uname` and the mount manager's probes (default: local). */
  readonly runner?: CommandRunner;
  /**
   * Mount manager (default: an `NfsMountManager` built from `mount`). Share one with the NFS
   * driver of the same process so both count references on the same mounts.
   */
  readonly mounts?: MountManager;
  /** Settings of the default mount manager (mount point base, root helper, timeouts…). */
  readonly mount?: NfsMountManagerOptions;
  /** Bound on `qemu-img info` of the volume file (default 60 s). */
  readonly commandTimeoutMs?: number;
  /** Logger. */
  readonly logger?: Logger;
  /** Event bus for operation events (default: a new one). */
  readonly events?: EventBus;
}

/**
 * Validates the options and builds an {@link NfsConnector}.
 *
 * @example
 * ```ts
 * const nfs = createNfsConnector({ mount: { rootHelper: ["sudo", "-n"] } })._unsafeUnwrap();
 * const dev = (await nfs.connectVolume(info))._unsafeUnwrap(); // { type: "file", path: "/var/lib/volkit/mnt/<md5>/volume-…" }
 * ```
 */
export function createNfsConnector(options: NfsConnectorOptions = {}): Result<NfsConnector, VolkitError> {
  const runner = options.runner ?? createLocalRunner();
  const mounts = options.mounts ? ok<MountManager, VolkitError>(options.mounts) : createNfsMountManager(runner, options.mount ?? {});
  return mounts.map((m) => new NfsConnector({ ...options, runner, mounts: m }));
}

/**
 * The connector for `type: "nfs"` connections (os-brick's NFS connector, nova's NFS volume
 * driver): connect mounts the share through the {@link MountManager} (one reference per attached
 * volume; nothing is mounted twice), checks the volume file with `qemu-img info` and returns it as
 * a `file` device in its format; disconnect drops the reference, unmounting the share after its
 * last volume, and reports what stayed mounted and why; extend reports the file's virtual size.
 *
 * Shares are mounted under this host's mount point base (the manager's, like nova's
 * `nfs_mount_point_base`); the `mountPointBase` in the connection info is the driver host's and
 * only informational. A mount this host did not make (nova's, an earlier process's) is reused and
 * never unmounted.
 */
export class NfsConnector implements Connector {
  /** Protocol this connector serves (`nfs`). */
  readonly protocol = "nfs" as const;
  /** Operation start/end events. */
  readonly events: EventBus;
  /** The mount manager (for inspection: `references(share)`). */
  readonly mounts: MountManager;
  readonly #runner: CommandRunner;
  readonly #scope: HostOperationScope;
  readonly #timeoutMs: number;

  /** Prefer {@link createNfsConnector}, which builds a default mount manager. */
  constructor(options: NfsConnectorOptions & { readonly runner: CommandRunner; readonly mounts: MountManager }) {
    this.#runner = options.runner;
    this.mounts = options.mounts;
    this.events = options.events ?? new EventBus();
    this.#scope = { source: "nfs", logger: options.logger ?? silentLogger, events: this.events };
    this.#timeoutMs = options.commandTimeoutMs ?? 60_000;
  }

  /** Host name and platform (`hostname`, `uname -m` through the runner); NFS needs no initiator. */
  getConnectorProperties(options: OperationOptions = {}): ResultAsync<ConnectorProperties, VolkitError> {
    return runHostOperation(this.#scope, "getConnectorProperties", undefined, options, (ctx) =>
      runBounded(this.#runner, { argv: ["hostname"] }, ctx, this.#timeoutMs).andThen((host) =>
        runBounded(this.#runner, { argv: ["uname", "-m"] }, ctx, this.#timeoutMs).andThen((arch) =>
          validate(ConnectorPropertiesSchema, { host: host.stdout.trim(), multipath: false, platform: arch.stdout.trim(), osType: "linux2" }, "connector properties"),
        ),
      ),
    );
  }

  /**
   * Mounts the share (or takes another reference on its mount) and checks the file: it must exist,
   * have the announced format, and any backing file must sit next to it. On failure the reference
   * is dropped again. Returns `{ type: "file", path: <mount point>/<name>, format, paths: [] }`.
   */
  connectVolume(info: ConnectionInfo, options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runHostOperation(this.#scope, "connectVolume", i.volumeId, options, (ctx) =>
        ctx.phase("mount", () => this.mounts.acquire({ share: i.export, ...(i.options === undefined ? {} : { options: i.options }) }, ctx)).andThen((lease) => {
          const path = `${lease.mountPoint}/${i.name}`;
          return ctx
            .phase("check-file", () => this.#virtualSize(path, i, ctx))
            .map((sizeBytes): AttachedDevice => ({ type: "file", path, format: i.format, paths: [], sizeBytes }))
            .orElse((e) => this.mounts.release(i.export, rollbackContext(ctx, 60_000)).andThen(() => errAsync(e)).orElse(() => errAsync(e)));
        }),
      ),
    );
  }

  /**
   * Drops this volume's reference on the share's mount; the share is unmounted when no other
   * attached volume uses it and this host's manager mounted it (lazily if the server is gone).
   * The report lists the unmount, or the mount left in place and why. A failure is
   * `DETACH_INCOMPLETE` unless `ignoreErrors`, which reports it instead.
   */
  disconnectVolume(info: ConnectionInfo, _device: AttachedDevice, options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runHostOperation(this.#scope, "disconnectVolume", i.volumeId, options, (ctx) =>
        ctx
          .phase("release", () => this.mounts.release(i.export, ctx))
          .map(toReport)
          .orElse((e) => {
            if (e.code === "ABORTED" || e.code === "TIMEOUT") return errAsync(e);
            const report: DisconnectReport = { removed: [], leftBehind: [{ kind: "mount", name: this.mounts.mountPointOf(i.export), reason: `release failed: ${e.message}` }] };
            if (options.ignoreErrors) return okAsync<DisconnectReport, VolkitError>(report);
            return errAsync(new VolkitError("DETACH_INCOMPLETE", `releasing ${i.export} failed: ${e.message}`, { source: "nfs", cause: e, details: { report } }));
          }),
      ),
    );
  }

  /** The file's virtual size now (the driver already grew it). */
  extendVolume(info: ConnectionInfo, device: AttachedDevice, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return parseInfo(info).asyncAndThen((i) => runHostOperation(this.#scope, "extendVolume", i.volumeId, options, (ctx) => this.#virtualSize(device.path, i, ctx)));
  }

  #virtualSize(path: string, info: NfsConnectionInfo, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return runBounded(this.#runner, { argv: ["qemu-img", "info", "--output=json", "-U", "-f", info.format, path], env: { LC_ALL: "C" } }, ctx, this.#timeoutMs)
      .mapErr((e) =>
        e.code === "COMMAND_FAILED" && /No such file/.test(String(e.details.stderr ?? ""))
          ? new VolkitError("DEVICE_NOT_FOUND", `volume file ${path} does not exist on ${info.export}`, { source: "nfs", cause: e, details: { path, share: info.export } })
          : e,
      )
      .andThen((out) => parseImageInfo(out.stdout))
      .andThen((img) => {
        const backing = img.backingFilename;
        if (backing !== undefined && (backing.includes("/") || backing.startsWith("."))) {
          return errAsync(new VolkitError("INVALID_STATE", `volume file ${path} has a backing file outside its directory (${backing})`, { source: "nfs", details: { path, backing } }));
        }
        return okAsync(img.virtualSize);
      });
  }
}

/** `INVALID_ARGUMENT` unless `info` is valid NFS connection info. */
function parseInfo(info: ConnectionInfo): Result<NfsConnectionInfo, VolkitError> {
  return validate(NfsConnectionInfoSchema, info, "NFS connection info");
}

function toReport(r: ReleaseReport): DisconnectReport {
  if (r.unmounted) return { removed: [`mount ${r.mountPoint}${r.unmountMode === "lazy" ? " (lazily: server not answering)" : ""}`], leftBehind: [] };
  const left: LeftBehind[] = r.references > 0 || r.stillMountedReason?.startsWith("target is busy") ? [{ kind: "mount", name: r.mountPoint, reason: r.stillMountedReason ?? "still mounted" }] : [];
  return { removed: [], leftBehind: left };
}
