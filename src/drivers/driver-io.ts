import { ResultAsync, err, ok, type Result } from "neverthrow";
import { attachThrough, detachThrough, type ExportSteps } from "../attach/attach-flow.js";
import { rollbackContext, type OperationContext, type VolumeIo } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import { guardResult } from "../core/operation.js";
import type { ConnectorSource } from "../connectors/connector.js";
import type { AttachedDevice, Volume } from "../core/records.js";
import type { DriverOutput } from "./backend-output.js";
import type { VolumeDriver } from "./volume-driver.js";

/**
 * The attach-for-I/O port the runtime gives drivers as `ctx.io`: the same attach and detach flows
 * the public `attachVolume` uses, run against the raw driver inside the current operation (its
 * locks are already held) with this host's connector. The export is removed afterwards only when
 * this attach created it and nobody else uses it.
 */
export function driverIo(driver: VolumeDriver, output: DriverOutput, host: ConnectorSource, source: string, ctx: OperationContext): VolumeIo {
  const call = <T>(fn: () => ResultAsync<T, VolkitError>): ResultAsync<T, VolkitError> => guardResult(fn, source);
  const steps: ExportSteps = {
    describeExport: (v, c) => call(() => driver.describeExport(v, c)),
    createExport: (v, h, c) => call(() => driver.createExport(v, h, c)).andThen((update) => output.exported("createExport", v, update)),
    initializeConnection: (v, h, c) => call(() => driver.initializeConnection(v, h, c)).andThen((info) => output.connection(info, v.id)),
    terminateConnection: (v, h, c) => call(() => driver.terminateConnection(v, h, c)),
    removeExport: (v, c) => call(() => driver.removeExport(v, c)),
  };
  return {
    withDevice: <T>(volume: Volume, use: (device: AttachedDevice) => ResultAsync<T, VolkitError>, options: { readonly readOnly?: boolean } = {}) =>
      host.connector(driver.capabilities.protocol).andThen((connector) =>
        ctx.phase("attach-for-io", () => attachThrough(steps, connector, volume, options, ctx)).andThen((attached) => {
          // Detach on a context of its own: a cancelled copy must still give the device back.
          const detach = (): ResultAsync<void, VolkitError> => {
            const dc = rollbackContext(ctx, 5 * 60_000);
            return dc.phase("detach-after-io", () => detachThrough(steps, connector, attached, { exportRemoval: "if-created-and-unused" }, dc)).map(() => undefined);
          };
          return new ResultAsync(
            (async (): Promise<Result<T, VolkitError>> => {
              const used = await call(() => use(attached.device));
              const detached = await detach();
              if (used.isOk()) return detached.isOk() ? ok(used.value) : err(detached.error);
              if (detached.isOk()) return err(used.error);
              return err(
                new VolkitError(used.error.code, `${used.error.message} (the detach afterwards failed too: ${detached.error.message})`, {
                  source: used.error.source ?? source,
                  cause: used.error,
                  details: { ...used.error.details, detachError: detached.error.toJSON() },
                }),
              );
            })(),
          );
        }),
      ),
  };
}

