/**
 * volkit core: the typed error model, the records every driver and connector exchanges (zod
 * schemas with their types), the `VolumeDriver` contract with its base class and runtime
 * (`createBackend`, `wrapDriver`, the driver registry), the attach and detach flows
 * (`attachVolume`, `detachVolume`, `createHost`), the command runners, locks, retries, events and
 * the data copy engine. Drivers and connectors load lazily; their own entry points hold their
 * config schemas and internals.
 *
 * @packageDocumentation
 */
export * from "./core/errors.js";
export { registerSecret, redactText, redactValue } from "./core/secrets.js";
export { parseJson, parseJsonWith, isSecretFieldName, registerSecretFields, registerSecretFieldsInText, type ParseJsonOptions } from "./core/parse-json.js";
export * from "./core/context.js";
export * from "./core/events.js";
export * from "./core/locks.js";
export * from "./core/retry.js";
export * from "./core/records.js";
export * from "./core/backend-qos.js";
export * from "./core/validation.js";
export * from "./core/operation.js";
export * from "./exec/runner.js";
export * from "./exec/local-runner.js";
export * from "./exec/quote.js";
export * from "./exec/ssh-runner.js";
export { RootHelperSchema, parseRootHelper, type RootHelper } from "./exec/root-helper.js";
export { commandOutcome, stoppedError, type CommandEnd, type CommandStreams } from "./exec/command-outcome.js";
export { createCommandStop, type CommandStop, type CommandStopOptions, type StopCause } from "./exec/cancellation.js";
export * from "./core/abort.js";
export * from "./data/copy.js";
export * from "./data/qemu-img.js";
export * from "./drivers/volume-driver.js";
export * from "./drivers/base.js";
export * from "./drivers/backend.js";
export * from "./drivers/driver-definition.js";
export * from "./drivers/registry.js";
export { lvmDriverDefinition, nfsDriverDefinition, type BuiltinDriverConfigs } from "./drivers/builtin-drivers.js";
export * from "./connectors/connector.js";
export * from "./connectors/registry.js";
export * from "./attach/attach.js";
export * from "./attach/host.js";
export { attachThrough, detachThrough, undoAttach, type AttachedVolume, type AttachFlowOptions, type DetachFlowOptions, type ExportRemoval, type ExportSteps } from "./attach/attach-flow.js";
export * from "./host/host-fs.js";
// The libvirt pieces the attach flow uses (the whole module is `volkit/libvirt`).
export { buildDiskXml, resolveDisk, type DiskXmlInput } from "./libvirt/libvirt-disk.js";
export { DiskOptionsSchema, type DiskOptions, type ParsedDiskOptions } from "./libvirt/libvirt-options.js";
export { serialFromVolumeId } from "./libvirt/libvirt-serial.js";
