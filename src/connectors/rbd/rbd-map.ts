import { type Result, ResultAsync, errAsync, okAsync } from "neverthrow";
import type { OperationContext } from "../../core/context.js";
import { VolkitError } from "../../core/errors.js";
import type { RbdConnectionInfo } from "../../core/records.js";
import { validate } from "../../core/validation.js";
import type { CommandRunner } from "../../exec/runner.js";
import { RbdClient } from "../../drivers/rbd/rbd-client.js";
import { RbdConnectionSchema, type RbdConnection } from "../../drivers/rbd/rbd-connection.js";
import { classifyRbdError } from "../../drivers/rbd/rbd-errors.js";
import { imageSpec } from "../../drivers/rbd/rbd-names.js";
import type { ParsedRbdConnectorConfig } from "./rbd-connector-config.js";

/**
 * The `rbd device map`/`unmap` commands of the kernel client, through the same CLI layer as the
 * RBD driver (connection options, key file, error classification). The key of a connection is
 * written to a 0600 key file for the map and removed right after: the kernel keeps its own copy.
 */

/** `pool[/namespace]/image` of a connection. */
export function specOf(info: RbdConnectionInfo): string {
  return imageSpec({ pool: info.pool, ...(info.namespace === undefined ? {} : { namespace: info.namespace }), image: info.image });
}

/** The CLI connection for a connection info on this host (its monitors, client, key or keyring). */
export function cliConnection(info: RbdConnectionInfo, config: ParsedRbdConnectorConfig): Result<RbdConnection, VolkitError> {
  const keyringPath = info.key === undefined ? (info.keyringPath ?? config.keyringPath) : undefined;
  return validate(
    RbdConnectionSchema,
    {
      monitors: info.monitors,
      clientId: info.clientId,
      connectTimeoutSec: config.connectTimeoutSec,
      commandTimeoutMs: config.timeouts.mapMs,
      ...(info.clusterName === "ceph" ? {} : { clusterName: info.clusterName }),
      ...(config.confPath === undefined ? {} : { confPath: config.confPath }),
      ...(info.key === undefined ? {} : { key: info.key }),
      ...(keyringPath === undefined ? {} : { keyringPath }),
      ...(config.keyfileDir === undefined ? {} : { keyfileDir: config.keyfileDir }),
    },
    "rbd connection",
  );
}

/** What the kernel client cannot do without its module. */
const NO_MODULE = /failed to load rbd kernel module|modprobe: FATAL|rbd: sysfs write failed[\s\S]*No such device/;

/**
 * Maps the image with the kernel client and returns the device path the CLI printed
 * (`/dev/rbdN`). `NOT_SUPPORTED` when this host's kernel has no rbd module.
 */
export function mapImage(runner: CommandRunner, info: RbdConnectionInfo, config: ParsedRbdConnectorConfig, ctx: OperationContext): ResultAsync<string, VolkitError> {
  const spec = specOf(info);
  const options = [...(config.msMode === undefined ? [] : [`ms_mode=${config.msMode}`]), ...config.mapOptions];
  const args = ["device", "map", ...(info.accessMode === "ro" ? ["--read-only"] : []), ...(options.length > 0 ? ["--options", options.join(",")] : []), spec];
  return cliConnection(info, config).asyncAndThen((connection) => {
    const client = new RbdClient(runner, connection);
    const mapped = client
      .rbd(args, ctx, { target: spec })
      .mapErr((e) => (NO_MODULE.test(stderrOf(e)) ? new VolkitError("NOT_SUPPORTED", "this host's kernel has no rbd module (modprobe rbd failed): attach through librbd (a QEMU rbd disk) instead", { source: "rbd", cause: e, details: { target: spec } }) : e))
      .andThen((out) => {
        const device = out.stdout.trim().split("\n").at(-1) ?? "";
        return /^\/dev\/rbd\d{1,6}$/.test(device)
          ? okAsync(device)
          : errAsync(new VolkitError("PARSE_ERROR", `rbd device map printed no /dev/rbdN device: ${JSON.stringify(out.stdout.slice(0, 200))}`, { source: "rbd", details: { target: spec } }));
      });
    // The key file is only needed by the map command itself.
    return new ResultAsync(
      (async () => {
        const result = await mapped;
        const closed = await client.close(ctx);
        if (closed.isErr()) ctx.logger.warn({ err: closed.error.toJSON() }, "could not remove the temporary key file");
        return result;
      })(),
    );
  });
}

/** `rbd device unmap [-o force] /dev/rbdN` (no cluster access needed: the kernel holds the session). */
export function unmapDevice(runner: CommandRunner, device: string, force: boolean, config: ParsedRbdConnectorConfig, ctx: OperationContext): ResultAsync<void, VolkitError> {
  return runner
    .run({ argv: ["rbd", "device", "unmap", ...(force ? ["--options", "force"] : []), device], env: { LC_ALL: "C" }, signal: ctx.signal, timeoutMs: config.timeouts.unmapMs })
    .map(() => undefined)
    .mapErr((e) => classifyRbdError(e, { target: device }));
}

function stderrOf(error: VolkitError): string {
  return typeof error.details.stderr === "string" ? error.details.stderr : "";
}
