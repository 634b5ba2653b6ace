import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { rollbackContext, type OperationContext } from "../core/context.js";
import { VolkitError } from "../core/errors.js";
import type { AttachedDevice, ConnectionInfo, DisconnectReport, HostProperties, Volume } from "../core/records.js";
import type { Connector } from "../connectors/connector.js";
import type { ExportState } from "../drivers/volume-driver.js";

/**
 * The attach and detach flows, written once. Both the public `attachVolume`/`detachVolume` (through
 * a backend: validated, locked, with events) and the runtime's attach-for-I/O port for drivers
 * (through the raw driver, inside an operation) run these steps against an {@link ExportSteps}.
 *
 *   attach: host properties → createExport → initializeConnection → connect
 *   detach: disconnect (report) → terminateConnection → removeExport when nobody uses it
 *
 * A failed attach undoes the steps it completed, in reverse, on a context of its own (a cancelled
 * attach must still clean up), and reports what the undo did in `details.rollback`.
 */

/** The volume side of an attach: what the flow asks the backend (or the driver) to do. */
export interface ExportSteps {
  /** Whether the volume is exported and who has access. */
  describeExport(volume: Volume, ctx: OperationContext): ResultAsync<ExportState, VolkitError>;
  /** Exports the volume; returns the whole updated record. */
  createExport(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<Volume, VolkitError>;
  /** Grants the host access; returns parsed connection info. */
  initializeConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<ConnectionInfo, VolkitError>;
  /** Revokes the host's access. */
  terminateConnection(volume: Volume, host: HostProperties, ctx: OperationContext): ResultAsync<void, VolkitError>;
  /** Removes the export. */
  removeExport(volume: Volume, ctx: OperationContext): ResultAsync<void, VolkitError>;
}

/** What an attach produced: everything a detach needs. */
export interface AttachedVolume {
  /** The volume record after the export (provider location and auth filled in). */
  readonly volume: Volume;
  /** The host properties the connection was made for. */
  readonly host: HostProperties;
  /** The connection info the driver returned. */
  readonly connection: ConnectionInfo;
  /** The device the connector attached. */
  readonly device: AttachedDevice;
  /** True when this attach created the export (it did not exist before). */
  readonly exportCreated: boolean;
}

/** Options of {@link attachThrough}. */
export interface AttachFlowOptions {
  /** Attach read-only (the host properties carry `readOnly`). */
  readonly readOnly?: boolean;
}

/** When a detach removes the volume's export. */
export type ExportRemoval = "if-unused" | "if-created-and-unused" | "never";

/** Options of {@link detachThrough}. */
export interface DetachFlowOptions {
  /** Detach from a dead target: go on past a failed flush (unflushed data may be lost). */
  readonly force?: boolean;
  /** When to remove the export (default `if-unused`: no host has access any more). */
  readonly exportRemoval?: ExportRemoval;
}

/** What a detach did. */
export interface DetachReport {
  /** The connector's report: what it removed on this host and what it left (and why). */
  readonly disconnect: DisconnectReport;
  /** The host's access was revoked on the storage. */
  readonly connectionTerminated: boolean;
  /** The export was removed (nobody else used it). */
  readonly exportRemoved: boolean;
}

type Undo = { readonly what: string; readonly run: (ctx: OperationContext) => ResultAsync<unknown, VolkitError> };

/**
 * Attaches `volume` on this host through `connector`. Every completed step is undone, newest first,
 * when a later one fails; the error then carries `details.rollback` (`{ undone, failed }`).
 */
export function attachThrough(steps: ExportSteps, connector: Connector, volume: Volume, options: AttachFlowOptions, ctx: OperationContext): ResultAsync<AttachedVolume, VolkitError> {
  const undo: Undo[] = [];
  const fail = (error: VolkitError): ResultAsync<never, VolkitError> => rollback(undo, error, ctx);
  return ctx
    .phase("host-properties", () => connector.getHostProperties({ signal: ctx.signal, ...deadlineOf(ctx) }))
    .map((props): HostProperties => (options.readOnly ? { ...props, readOnly: true } : props))
    .andThen((host) =>
      ctx.phase("describe-export", () => steps.describeExport(volume, ctx)).andThen((before) =>
        ctx
          .phase("export", () => steps.createExport(volume, host, ctx))
          .andThen((exported) => {
            if (!before.exported) undo.push({ what: "export", run: (rc) => steps.removeExport(exported, rc) });
            return ctx.phase("initialize-connection", () => steps.initializeConnection(exported, host, ctx)).andThen((connection) => {
              undo.push({ what: "connection", run: (rc) => steps.terminateConnection(exported, host, rc) });
              if (connection.type !== connector.protocol) {
                return errAsync(
                  new VolkitError("INVALID_STATE", `the backend returned a ${connection.type} connection but the connector attaches ${connector.protocol}`, {
                    source: "attach",
                    details: { connection: connection.type, connector: connector.protocol },
                  }),
                );
              }
              return ctx
                .phase("connect", () => connector.connectVolume(connection, { signal: ctx.signal, ...deadlineOf(ctx) }))
                .map((device): AttachedVolume => ({ volume: exported, host, connection, device, exportCreated: !before.exported }));
            });
          }),
      ),
    )
    .orElse(fail);
}

/**
 * Registers one more undo step on a finished attach (e.g. a step the caller adds after connect, such
 * as writing the libvirt XML), and runs the whole rollback when that step fails.
 */
export function undoAttach(connector: Connector, steps: ExportSteps, attached: AttachedVolume, error: VolkitError, ctx: OperationContext): ResultAsync<never, VolkitError> {
  const undo: Undo[] = [];
  if (attached.exportCreated) undo.push({ what: "export", run: (rc) => steps.removeExport(attached.volume, rc) });
  undo.push({ what: "connection", run: (rc) => steps.terminateConnection(attached.volume, attached.host, rc) });
  undo.push({ what: "device", run: (rc) => connector.disconnectVolume(attached.connection, attached.device, { force: true, signal: rc.signal, ...deadlineOf(rc) }) });
  return rollback(undo, error, ctx);
}

/**
 * Detaches: the connector disconnects (flush, remove paths and maps, log out sessions nobody else
 * uses) and reports; then the host's access is revoked; then the export is removed when no other
 * host uses it (per `exportRemoval`). A failed disconnect stops the flow unless `force`: the
 * storage keeps granting access while the host still holds devices of the volume.
 */
export function detachThrough(steps: ExportSteps, connector: Connector, attached: AttachedVolume, options: DetachFlowOptions, ctx: OperationContext): ResultAsync<DetachReport, VolkitError> {
  const removal = options.exportRemoval ?? "if-unused";
  const force = options.force ?? false;
  return ctx
    .phase("disconnect", () => connector.disconnectVolume(attached.connection, attached.device, { force, signal: ctx.signal, ...deadlineOf(ctx) }))
    .andThen((disconnect) =>
      ctx.phase("terminate-connection", () => steps.terminateConnection(attached.volume, attached.host, ctx)).andThen(() => {
        const wanted = removal === "if-unused" || (removal === "if-created-and-unused" && attached.exportCreated);
        if (!wanted) return okAsync<DetachReport, VolkitError>({ disconnect, connectionTerminated: true, exportRemoved: false });
        return ctx.phase("describe-export", () => steps.describeExport(attached.volume, ctx)).andThen((state) =>
          !state.exported || state.hosts.length > 0
            ? okAsync<DetachReport, VolkitError>({ disconnect, connectionTerminated: true, exportRemoved: false })
            : ctx.phase("remove-export", () => steps.removeExport(attached.volume, ctx)).map((): DetachReport => ({ disconnect, connectionTerminated: true, exportRemoved: true })),
        );
      }),
    );
}

function deadlineOf(ctx: OperationContext): { deadline?: number } {
  return ctx.deadline === undefined ? {} : { deadline: ctx.deadline };
}

/** Runs the undo steps newest first on a rollback context, then fails with `error` plus what the undo did. */
function rollback(undo: readonly Undo[], error: VolkitError, ctx: OperationContext): ResultAsync<never, VolkitError> {
  if (undo.length === 0) return errAsync(error);
  const rc = rollbackContext(ctx, 5 * 60_000);
  const undone: string[] = [];
  const failed: Array<{ step: string; code: string; message: string }> = [];
  const run = (i: number): ResultAsync<void, never> => {
    const step = undo[i];
    if (step === undefined) return okAsync(undefined);
    return step
      .run(rc)
      .map(() => void undone.push(step.what))
      .orElse((e) => {
        failed.push({ step: step.what, code: e.code, message: e.message });
        ctx.logger.warn({ step: step.what, err: e.toJSON() }, "attach rollback step failed");
        return okAsync(undefined);
      })
      .andThen(() => run(i - 1));
  };
  return run(undo.length - 1).andThen(() =>
    errAsync(
      new VolkitError(error.code, failed.length ? `${error.message} (rollback left: ${failed.map((f) => `${f.step}: ${f.message}`).join("; ")})` : error.message, {
        source: error.source ?? "attach",
        cause: error,
        details: { ...error.details, rollback: { undone, failed } },
        transient: error.transient,
      }),
    ),
  );
}
