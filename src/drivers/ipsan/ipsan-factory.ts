import type { ResultAsync } from "neverthrow";
import type { VolkitError } from "../../core/errors.js";
import type { LockBackend } from "../../core/locks.js";
import { createLocalRunner } from "../../exec/local-runner.js";
import type { DriverDeps } from "../driver-definition.js";
import { createIpsanClient } from "./ipsan-client.js";
import { connectionOf, type ParsedIpsanConfig } from "./ipsan-config.js";
import { IpsanDriver } from "./ipsan-driver.js";

/** What the IP-SAN driver's factory takes besides the config. */
export interface IpsanFactoryDeps extends DriverDeps {
  /** Locks of the per-host mapping sections (default: in-process, keyed per host). */
  readonly locks?: LockBackend | undefined;
}

/**
 * Builds the IP-SAN driver from a parsed config: the REST client (reads the CA bundle; nothing is
 * sent yet) and the runner for image copies (local unless one is given). Loaded lazily by the
 * registry.
 */
export function buildIpsanDriver(config: ParsedIpsanConfig, deps: IpsanFactoryDeps = {}): ResultAsync<IpsanDriver, VolkitError> {
  return createIpsanClient(connectionOf(config)).map((client) => new IpsanDriver(config, { client, runner: deps.runner ?? createLocalRunner(), locks: deps.locks }));
}
