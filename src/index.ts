/**
 * volkit core: the typed error model, the command runner, shared volume/connection types, the
 * `VolumeDriver` contract with its base class and runtime, locks, retries, events, and the data
 * copy engine. Drivers and connectors live in their own subpath exports.
 *
 * @packageDocumentation
 */
export * from "./core/errors.js";
export { registerSecret, redactText, redactValue } from "./core/secrets.js";
export * from "./core/context.js";
export * from "./core/events.js";
export * from "./core/locks.js";
export * from "./core/retry.js";
export * from "./core/types.js";
export * from "./core/validation.js";
export * from "./exec/runner.js";
export * from "./exec/local-runner.js";
export { RootHelperSchema, parseRootHelper, type RootHelper } from "./exec/root-helper.js";
export * from "./data/copy.js";
export * from "./data/qemu-img.js";
export * from "./drivers/volume-driver.js";
export * from "./drivers/base.js";
export * from "./drivers/backend.js";
export * from "./drivers/registry.js";
export * from "./exec/quote.js";
export * from "./exec/ssh-runner.js";
