import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { z } from "zod";
import { rollbackContext, type OperationContext, type OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { EventBus, silentLogger } from "../../core/events.js";
import { runOperation, type OperationScope } from "../../core/operation.js";
import {
  HostPropertiesSchema,
  NfsConnectionInfoSchema,
  type AttachedDevice,
  type AttachedDeviceInput,
  type ConnectionInfoInput,
  type DisconnectReport,
  type HostProperties,
  type LeftBehind,
  type NfsConnectionInfo,
} from "../../core/records.js";
import { HostNameSchema, validate } from "../../core/validation.js";
import { parseImageInfo } from "../../data/qemu-img.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { runBounded } from "../../remotefs/bounded-run.js";
import type { MountManager, ReleaseReport } from "../../remotefs/mount-manager.js";
import { NfsMountManagerOptionsSchema, createNfsMountManager } from "../../remotefs/nfs-mount-manager.js";
import { parseMountOptions } from "../../remotefs/nfs-share.js";
import type { Connector, ConnectorDeps, DisconnectOptions, HostPropertiesOptions } from "../connector.js";
import { attachedDeviceOf, connectionFor } from "../connector-input.js";

/** Options of the NFS connector (validated by {@link createNfsConnector}). */
export const NfsConnectorConfigSchema = z.object({
  /** Host name reported in host properties (default: `hostname` through the runner). */
  hostName: HostNameSchema.optional().meta({ title: "Host name", description: "Reported to drivers; default: the host's name" }),
  /** Bound on `qemu-img info` of the volume file (ms). */
  commandTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).meta({ title: "Command timeout (ms)" }),
  /** Settings of the default mount manager (mount point base, root helper, timeouts…). */
  mount: NfsMountManagerOptionsSchema.prefault({}).meta({ title: "Mounts", description: "Where and how shares are mounted on this host" }),
});
/** NFS connector options (input form). */
export type NfsConnectorConfig = z.input<typeof NfsConnectorConfigSchema>;
/** NFS connector options (parsed form). */
export type ParsedNfsConnectorConfig = z.output<typeof NfsConnectorConfigSchema>;

/** Collaborators of the NFS connector. */
export interface NfsConnectorDeps extends ConnectorDeps {
  /**
   * Mount manager (default: an `NfsMountManager` built from `config.mount`). Share one with the NFS
   * driver of the same process so both count references on the same mounts.
   */
  readonly mounts?: MountManager;
}

/**
 * Validates `config` and builds an {@link NfsConnector}. Fails with `INVALID_CONFIG` naming every bad field.
 *
 * @example
 * ```ts
 * const nfs = createNfsConnector({ mount: { rootHelper: ["sudo", "-n"] } })._unsafeUnwrap();
 * const dev = (await nfs.connectVolume(info))._unsafeUnwrap(); // { type: "file", path: "/var/lib/volkit/mnt/<md5>/volume-…" }
 * ```
 */
export function createNfsConnector(config: NfsConnectorConfig = {}, deps: NfsConnectorDeps = {}): Result<NfsConnector, VolkitError> {
  return validate(NfsConnectorConfigSchema, config, "NFS connector config", "INVALID_CONFIG").andThen((parsed) => {
    const runner = deps.runner ?? createLocalRunner();
    const mounts = deps.mounts ? ok<MountManager, VolkitError>(deps.mounts) : createNfsMountManager(runner, parsed.mount);
    return mounts.map((m) => new NfsConnector(parsed, { ...deps, runner, mounts: m }));
  });
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
 * never unmounted. The volume file's path is always derived from the connection info and this
 * host's mount point, never taken from a device handed back by a caller.
 */
export class NfsConnector implements Connector {
  /** Protocol this connector serves (`nfs`). */
  readonly protocol = "nfs" as const;
  /** Operation start/end events. */
  readonly events: EventBus;
  /** The mount manager (for inspection: `references(share)`). */
  readonly mounts: MountManager;
  /** The validated options. */
  readonly config: ParsedNfsConnectorConfig;
  readonly #runner: CommandRunner;
  readonly #scope: OperationScope;

  /** Prefer {@link createNfsConnector}, which validates `config` and builds a default mount manager. */
  constructor(config: ParsedNfsConnectorConfig, deps: NfsConnectorDeps & { readonly runner: CommandRunner; readonly mounts: MountManager }) {
    this.config = config;
    this.#runner = deps.runner;
    this.mounts = deps.mounts;
    this.events = deps.events ?? new EventBus();
    this.#scope = { source: "nfs", logger: deps.logger ?? silentLogger, events: this.events };
  }

  /** Host name and platform (`hostname`, `uname -m` through the runner); NFS needs no initiator. */
  getHostProperties(options: HostPropertiesOptions = {}): ResultAsync<HostProperties, VolkitError> {
    const timeout = this.config.commandTimeoutMs;
    return runOperation(this.#scope, "getHostProperties", undefined, options, (ctx) =>
      (this.config.hostName === undefined ? runBounded(this.#runner, { argv: ["hostname"] }, ctx, timeout).map((o) => o.stdout.trim()) : okAsync(this.config.hostName)).andThen((host) =>
        runBounded(this.#runner, { argv: ["uname", "-m"] }, ctx, timeout).andThen((arch) =>
          validate(HostPropertiesSchema, { host, multipath: false, platform: arch.stdout.trim(), osType: "linux2" }, "host properties"),
        ),
      ),
    );
  }

  /**
   * Mounts the share (or takes another reference on its mount) and checks the file: it must exist,
   * have the announced format, and any backing file must sit next to it. On failure the reference
   * is dropped again. Returns `{ type: "file", path: <mount point>/<name>, format, paths: [] }`.
   */
  connectVolume(info: ConnectionInfoInput, options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runOperation(this.#scope, "connectVolume", i.volumeId, options, (ctx) =>
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
  disconnectVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    return parseInfo(info)
      .andThen((i) => this.#checkDevice(i, device).map(() => i))
      .asyncAndThen((i) =>
        runOperation(this.#scope, "disconnectVolume", i.volumeId, options, (ctx) =>
          ctx
            .phase("release", () => this.mounts.release(i.export, ctx))
            .map(toReport)
            .orElse((e) => {
              if (e.code === "ABORTED" || e.code === "TIMEOUT") return errAsync(e);
              const report: DisconnectReport = { removed: [], leftBehind: [{ kind: "mount", name: this.mounts.mountPointOf(i.export), reason: `release failed: ${e.message}`, expected: false }] };
              if (options.ignoreErrors) return okAsync<DisconnectReport, VolkitError>(report);
              return errAsync(new VolkitError("DETACH_INCOMPLETE", `releasing ${i.export} failed: ${e.message}`, { source: "nfs", cause: e, details: { report } }));
            }),
        ),
      );
  }

  /** The file's virtual size now (the driver already grew it). */
  extendVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return parseInfo(info)
      .andThen((i) => this.#checkDevice(i, device).map((path) => ({ i, path })))
      .asyncAndThen(({ i, path }) => runOperation(this.#scope, "extendVolume", i.volumeId, options, (ctx) => this.#virtualSize(path, i, ctx)));
  }

  /**
   * The volume file's path on this host, from the connection info; a device handed back must name
   * exactly that file (a caller's path never reaches a command).
   */
  #checkDevice(info: NfsConnectionInfo, device: AttachedDeviceInput): Result<string, VolkitError> {
    const path = `${this.mounts.mountPointOf(info.export)}/${info.name}`;
    return attachedDeviceOf(device).andThen((d) =>
      d.type === "file" && d.path === path
        ? ok(path)
        : err(new VolkitError("INVALID_ARGUMENT", `the device is not volume ${info.volumeId}'s file on this host (expected a file device at ${path})`, { source: "nfs", details: { expected: path } })),
    );
  }

  #virtualSize(path: string, info: NfsConnectionInfo, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return runBounded(this.#runner, { argv: ["qemu-img", "info", "--output=json", "-U", "-f", info.format, path], env: { LC_ALL: "C" } }, ctx, this.config.commandTimeoutMs)
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

/**
 * `INVALID_ARGUMENT` unless `info` is valid NFS connection info, its mount options included (the
 * allow-list the mount manager applies), whichever method receives it.
 */
function parseInfo(info: ConnectionInfoInput): Result<NfsConnectionInfo, VolkitError> {
  return connectionFor("nfs", NfsConnectionInfoSchema, info).andThen((i) => {
    const options = i.options === undefined ? ok(undefined) : parseMountOptions(i.options);
    return options.isErr() ? err(new VolkitError("INVALID_ARGUMENT", `invalid nfs connection info: options: ${options.error}`, { source: "nfs" })) : ok(i);
  });
}

function toReport(r: ReleaseReport): DisconnectReport {
  if (r.unmounted) return { removed: [`mount ${r.mountPoint}${r.unmountMode === "lazy" ? " (lazily: server not answering)" : ""}`], leftBehind: [] };
  // Still mounted because other volumes use it (expected), or because umount found it busy (a failure to report).
  const busy = r.stillMountedReason?.startsWith("target is busy") === true;
  const left: LeftBehind[] = r.references > 0 || busy ? [{ kind: "mount", name: r.mountPoint, reason: r.stillMountedReason ?? "still mounted", expected: !busy }] : [];
  return { removed: [], leftBehind: left };
}
