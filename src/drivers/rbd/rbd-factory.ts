import type { Result } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import { validate } from "../../core/validation.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { DriverDeps } from "../driver-definition.js";
import { RbdClient } from "./rbd-client.js";
import type { ParsedRbdConfig } from "./rbd-config.js";
import { RbdConnectionSchema } from "./rbd-connection.js";
import { RbdDriver } from "./rbd-driver.js";

/**
 * Builds the RBD driver from a parsed config: the runner (local with the config's root helper
 * unless one is given) and the CLI client for the configured cephx client. Loaded lazily by the
 * registry.
 */
export function buildRbdDriver(config: ParsedRbdConfig, deps: DriverDeps = {}): Result<RbdDriver, VolkitError> {
  const runner = deps.runner ?? createLocalRunner(config.rootHelper ? { rootHelper: config.rootHelper } : {});
  const connection = {
    clientId: config.clientId,
    connectTimeoutSec: config.connectTimeoutSec,
    osdOpTimeoutSec: config.osdOpTimeoutSec,
    commandTimeoutMs: config.commandTimeoutMs,
    ...(config.clusterName === undefined ? {} : { clusterName: config.clusterName }),
    ...(config.confPath === undefined ? {} : { confPath: config.confPath }),
    ...(config.monitors === undefined ? {} : { monitors: config.monitors }),
    ...(config.keyringPath === undefined ? {} : { keyringPath: config.keyringPath }),
    ...(config.key === undefined ? {} : { key: config.key }),
    ...(config.keyfileDir === undefined ? {} : { keyfileDir: config.keyfileDir }),
  };
  return validate(RbdConnectionSchema, connection, "RBD connection", "INVALID_CONFIG").map((c) => new RbdDriver(config, { runner, client: new RbdClient(runner, c) }));
}
