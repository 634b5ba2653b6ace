import { hostname, machine } from "node:os";
import { type Result, ResultAsync, err, errAsync, ok, okAsync } from "neverthrow";
import type { OperationContext, OperationOptions } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import { EventBus, silentLogger } from "../../core/events.js";
import { InProcessLocks, withLock, type LockBackend } from "../../core/locks.js";
import { runOperation, type OperationScope } from "../../core/operation.js";
import {
  HostPropertiesSchema,
  RbdConnectionInfoSchema,
  type AttachedDevice,
  type AttachedDeviceInput,
  type ConnectionInfoInput,
  type DisconnectReport,
  type HostProperties,
  type LeftBehind,
  type RbdConnectionInfo,
} from "../../core/records.js";
import { validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { CommandRunner } from "../../exec/runner.js";
import { createHostFs, type HostFs } from "../../host/host-fs.js";
import { waitFor } from "../../host/wait.js";
import { RbdClient } from "../../drivers/rbd/rbd-client.js";
import type { Connector, ConnectorDeps, DisconnectOptions, HostPropertiesOptions } from "../connector.js";
import { attachedDeviceOf, connectionFor } from "../connector-input.js";
import { RbdConnectorConfigSchema, type ParsedRbdConnectorConfig, type RbdConnectorConfig } from "./rbd-connector-config.js";
import { cliConnection, mapImage, specOf, unmapDevice } from "./rbd-map.js";
import { krbdIdOf, krbdSize, listKrbdMappings, readKrbdMapping, refreshKrbdMapping, type KrbdMapping } from "./rbd-sysfs.js";

/**
 * The RBD connector: attaches RBD volumes as block devices through the kernel client
 * (`rbd device map`), for hosts that need a device rather than QEMU's own librbd access (which
 * needs no connector: see `volkit/libvirt`). The device is found through sysfs
 * (`/sys/bus/rbd/devices/<N>/{pool,pool_ns,name,current_snap}` → `/dev/rbdN`); a connect of an
 * image already mapped here returns that device. Disconnect flushes, unmaps, checks the mapping is
 * gone and reports what is left (other mappings of the image are kept, `expected: true`). Extend
 * makes the kernel re-read the header and waits for the image's new size. Build it with
 * {@link createRbdConnector}.
 *
 * @example
 * ```ts
 * const rbd = createRbdConnector()._unsafeUnwrap();
 * const info = (await backend.initializeConnection(volume, (await rbd.getHostProperties())._unsafeUnwrap()))._unsafeUnwrap();
 * const dev = (await rbd.connectVolume(info))._unsafeUnwrap(); // { type: "block", path: "/dev/rbd0", … }
 * const report = (await rbd.disconnectVolume(info, dev))._unsafeUnwrap();
 * ```
 */
export class RbdConnector implements Connector {
  /** {@inheritDoc index!Connector.protocol} */
  readonly protocol = "rbd" as const;
  /** Operation start/end events (phases `map`, `device`, `flush`, `unmap`, `gone`…). */
  readonly events: EventBus;
  /** The validated options. */
  readonly config: ParsedRbdConnectorConfig;
  readonly #runner: CommandRunner;
  readonly #fs: HostFs;
  readonly #locks: LockBackend;
  readonly #scope: OperationScope;

  /** Prefer {@link createRbdConnector}, which validates `config`. */
  constructor(config: ParsedRbdConnectorConfig, deps: ConnectorDeps = {}) {
    this.config = config;
    this.#runner = deps.runner ?? createLocalRunner();
    this.#fs = deps.hostFs ?? createHostFs();
    this.#locks = deps.locks ?? new InProcessLocks();
    this.events = deps.events ?? new EventBus();
    this.#scope = { source: "rbd", logger: deps.logger ?? silentLogger, events: this.events };
  }

  /** Host name and platform; the kernel client needs no initiator. */
  getHostProperties(options: HostPropertiesOptions = {}): ResultAsync<HostProperties, VolkitError> {
    return runOperation(this.#scope, "getHostProperties", undefined, options, () =>
      validate(HostPropertiesSchema, { host: this.config.hostName ?? hostname(), multipath: false, platform: machine(), osType: "linux2" }, "host properties").asyncAndThen((p) => okAsync(p)),
    );
  }

  /**
   * Maps the image (read-only for `accessMode: "ro"`) and returns `/dev/rbdN` with its size. An
   * existing mapping of the same image and snapshot is returned as is. A mapping that does not
   * show up as expected is unmapped again.
   */
  connectVolume(info: ConnectionInfoInput, options: OperationOptions = {}): ResultAsync<AttachedDevice, VolkitError> {
    return parseInfo(info).asyncAndThen((i) =>
      runOperation(this.#scope, "connectVolume", i.volumeId, options, (ctx) =>
        withLock(this.#locks, lockKey(i), ctx.signal, () =>
          ctx.phase("inventory", () => this.#mappingsOf(i)).andThen((existing) => {
            const found = existing[0];
            if (found) return this.#attached(found, ctx);
            return ctx
              .phase("map", () => mapImage(this.#runner, i, this.config, ctx))
              .andThen((device) => ctx.phase("device", () => this.#waitMapped(i, device, ctx)).orElse((e) => this.#unmapAfterFailure(device, e, ctx)))
              .andThen((m) => this.#attached(m, ctx));
          }),
        ),
      ),
    );
  }

  /**
   * Flushes and unmaps the device handed out, then checks the mapping has left sysfs. The report
   * lists the mapping removed, other mappings of the same image left in place (`expected: true`),
   * and a mapping that could not be removed (`expected: false`: `DETACH_INCOMPLETE` unless
   * `ignoreErrors`). A device that is not mapped any more is a clean, empty report. `force` goes on
   * past a failed flush and unmaps with `-o force` (even while open).
   */
  disconnectVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: DisconnectOptions = {}): ResultAsync<DisconnectReport, VolkitError> {
    const force = options.force ?? false;
    return parseInfo(info)
      .andThen((i) => parseDevice(device).map((id) => ({ i, id })))
      .asyncAndThen(({ i, id }) =>
        runOperation(this.#scope, "disconnectVolume", i.volumeId, options, (ctx) =>
          withLock(this.#locks, lockKey(i), ctx.signal, () =>
            this.#mappingsOf(i).andThen((mappings) => {
              const mine = mappings.find((m) => m.id === id);
              const kept: LeftBehind[] = mappings
                .filter((m) => m.id !== id)
                .map((m) => ({ kind: "mapping", name: m.device, reason: `kept: another mapping of ${specOf(i)}, not the device being detached`, expected: true }));
              if (mine === undefined) return okAsync<DisconnectReport, VolkitError>({ removed: [], leftBehind: kept });
              return this.#unmap(i, mine, kept, { force, ignoreErrors: options.ignoreErrors ?? false }, ctx);
            }),
          ),
        ),
      );
  }

  /**
   * Makes the kernel re-read the image header (`/sys/bus/rbd/devices/<N>/refresh`) and waits until
   * the device reports the image's size (read with `rbd info`); returns it in bytes. The kernel
   * also picks a resize up by itself through its watch; this makes it immediate and checked.
   */
  extendVolume(info: ConnectionInfoInput, device: AttachedDeviceInput, options: OperationOptions = {}): ResultAsync<number, VolkitError> {
    return parseInfo(info)
      .andThen((i) => parseDevice(device).map((id) => ({ i, id })))
      .asyncAndThen(({ i, id }) =>
        runOperation(this.#scope, "extendVolume", i.volumeId, options, (ctx) =>
          withLock(this.#locks, lockKey(i), ctx.signal, () =>
            this.#mappingsOf(i).andThen((mappings) => {
              const mine = mappings.find((m) => m.id === id);
              if (mine === undefined) return errAsync(new VolkitError("DEVICE_NOT_FOUND", `/dev/rbd${id} is not a mapping of ${specOf(i)} on this host`, { source: "rbd", details: { device: `/dev/rbd${id}` } }));
              return ctx
                .phase("image-size", () => this.#imageSize(i, ctx))
                .andThen((want) =>
                  ctx.phase("refresh", () => refreshKrbdMapping(this.#fs, id)).andThen(() =>
                    ctx.phase("resize", () =>
                      this.#poll(ctx, this.config.timeouts.resizeMs, () => krbdSize(this.#fs, id).map((n) => (n >= want ? n : undefined)), () =>
                        new VolkitError("TIMEOUT", `${mine.device} did not grow to ${want} bytes within ${this.config.timeouts.resizeMs} ms`, { source: "rbd", details: { device: mine.device, wantBytes: want } }),
                      ),
                    ),
                  ),
                );
            }),
          ),
        ),
      );
  }

  /** Flush, unmap, check it left sysfs; a failed step ends in a report of what is left. */
  #unmap(info: RbdConnectionInfo, mine: KrbdMapping, kept: LeftBehind[], flags: { force: boolean; ignoreErrors: boolean }, ctx: OperationContext): ResultAsync<DisconnectReport, VolkitError> {
    const fail = (what: string, e: VolkitError): Result<DisconnectReport, VolkitError> => {
      if (e.code === "ABORTED" || e.code === "TIMEOUT") return err(e);
      const report: DisconnectReport = { removed: [], leftBehind: [...kept, { kind: "mapping", name: mine.device, reason: `${what}: ${e.message}`, expected: false }] };
      if (flags.ignoreErrors) return ok(report);
      return err(new VolkitError("DETACH_INCOMPLETE", `${mine.device} (${specOf(info)}) is still mapped: ${what}: ${e.message}`, { source: "rbd", cause: e, details: { report } }));
    };
    const run = async (): Promise<Result<DisconnectReport, VolkitError>> => {
      const flushed = await ctx.phase("flush", () => this.#flush(mine.device, ctx));
      if (flushed.isErr()) {
        if (!flags.force) return fail("flush failed", flushed.error);
        ctx.logger.warn({ device: mine.device, err: flushed.error.toJSON() }, "flush failed; going on because force is set");
      }
      const unmapped = await ctx.phase("unmap", () => unmapDevice(this.#runner, mine.device, flags.force, this.config, ctx));
      if (unmapped.isErr()) return fail("unmap failed", unmapped.error);
      const gone = await ctx.phase("gone", () => this.#waitGone(mine, ctx));
      if (gone.isErr()) return fail("still in sysfs after the unmap", gone.error);
      return ok({ removed: [`mapping ${specOf(info)} ${mine.device}`], leftBehind: kept });
    };
    return new ResultAsync(run());
  }

  /** Mappings of the connection's image (the image itself, not its snapshots), oldest first. */
  #mappingsOf(info: RbdConnectionInfo): ResultAsync<KrbdMapping[], VolkitError> {
    return listKrbdMappings(this.#fs).map((all) =>
      all.filter((m) => m.pool === info.pool && m.namespace === (info.namespace ?? "") && m.image === info.image && m.snapshot === undefined).sort((a, b) => Number(a.id) - Number(b.id)),
    );
  }

  /** Waits until the device the CLI printed is in sysfs as this image, and its node exists. */
  #waitMapped(info: RbdConnectionInfo, device: string, ctx: OperationContext): ResultAsync<KrbdMapping, VolkitError> {
    const id = krbdIdOf(device) ?? "";
    return this.#poll(
      ctx,
      this.config.timeouts.deviceMs,
      () =>
        readKrbdMapping(this.#fs, id).andThen((m) => {
          if (m === undefined) return okAsync(undefined);
          if (m.pool !== info.pool || m.namespace !== (info.namespace ?? "") || m.image !== info.image) {
            return errAsync(new VolkitError("DEVICE_NOT_FOUND", `${device} maps ${m.pool}/${m.image}, not ${specOf(info)}`, { source: "rbd", details: { device } }));
          }
          return this.#fs.exists(device).map((present) => (present ? m : undefined));
        }),
      () => new VolkitError("DEVICE_NOT_FOUND", `${device} (${specOf(info)}) did not appear in sysfs and /dev within ${this.config.timeouts.deviceMs} ms`, { source: "rbd", details: { device } }),
    );
  }

  #waitGone(mapping: KrbdMapping, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#poll(
      ctx,
      this.config.timeouts.deviceMs,
      () => readKrbdMapping(this.#fs, mapping.id).map((m) => (m === undefined || m.image !== mapping.image || m.pool !== mapping.pool ? true : undefined)),
      () => new VolkitError("DETACH_INCOMPLETE", `${mapping.device} is still in sysfs ${this.config.timeouts.deviceMs} ms after the unmap`, { source: "rbd", details: { device: mapping.device } }),
    ).map(() => undefined);
  }

  #attached(mapping: KrbdMapping, _ctx: OperationContext): ResultAsync<AttachedDevice, VolkitError> {
    return krbdSize(this.#fs, mapping.id).map((sizeBytes): AttachedDevice => ({ type: "block", path: mapping.device, paths: [], sizeBytes }));
  }

  #unmapAfterFailure(device: string, error: VolkitError, ctx: OperationContext): ResultAsync<never, VolkitError> {
    return unmapDevice(this.#runner, device, true, this.config, ctx)
      .orElse((e) => {
        ctx.logger.warn({ device, err: e.toJSON() }, "could not unmap the device of a failed connect");
        return okAsync(undefined);
      })
      .andThen(() => errAsync(error));
  }

  #imageSize(info: RbdConnectionInfo, ctx: OperationContext): ResultAsync<number, VolkitError> {
    return cliConnection(info, this.config).asyncAndThen((connection) => {
      const client = new RbdClient(this.#runner, connection);
      const ref = { pool: info.pool, ...(info.namespace === undefined ? {} : { namespace: info.namespace }), image: info.image };
      return client.info(ref, ctx).andThen((i) => client.close(ctx).map(() => i.sizeBytes));
    });
  }

  #flush(device: string, ctx: OperationContext): ResultAsync<void, VolkitError> {
    return this.#runner.run({ argv: ["blockdev", "--flushbufs", device], signal: ctx.signal, timeoutMs: this.config.timeouts.flushMs }).map(() => undefined);
  }

  #poll<T>(ctx: OperationContext, timeoutMs: number, probe: () => ResultAsync<T | undefined, VolkitError>, onTimeout: () => VolkitError): ResultAsync<T, VolkitError> {
    return waitFor(probe, { timeoutMs, signal: ctx.signal, minDelayMs: this.config.poll.minMs, maxDelayMs: this.config.poll.maxMs, onTimeout });
  }
}

/** One lock per image on this host: connect, disconnect and extend of the same image never interleave. */
function lockKey(info: RbdConnectionInfo): string {
  return `rbd:${info.clusterName}:${specOf(info)}`;
}

function parseInfo(info: ConnectionInfoInput): Result<RbdConnectionInfo, VolkitError> {
  return connectionFor("rbd", RbdConnectionInfoSchema, info).andThen((i) =>
    i.authEnabled ? ok(i) : err(new VolkitError("NOT_SUPPORTED", "the RBD connector maps with cephx only (authEnabled is false)", { source: "rbd" })),
  );
}

/** The mapping id of the device handed back (`/dev/rbdN`); anything else is `INVALID_ARGUMENT`. */
function parseDevice(device: AttachedDeviceInput): Result<string, VolkitError> {
  return attachedDeviceOf(device).andThen((d) => {
    const id = krbdIdOf(d.path);
    return id === undefined ? err(new VolkitError("INVALID_ARGUMENT", `${d.path} is not a kernel rbd device (/dev/rbdN)`, { source: "rbd" })) : ok(id);
  });
}

/**
 * Validates `config` and builds the RBD connector. Fails with `INVALID_CONFIG` naming every bad field.
 *
 * @example
 * ```ts
 * const rbd = createRbdConnector({ mapOptions: ["queue_depth=256"] })._unsafeUnwrap();
 * ```
 */
export function createRbdConnector(config: RbdConnectorConfig = {}, deps: ConnectorDeps = {}): Result<RbdConnector, VolkitError> {
  return validate(RbdConnectorConfigSchema, config, "RBD connector config", "INVALID_CONFIG").map((parsed) => new RbdConnector(parsed, deps));
}
