/**
 * `volkit/testing`: what driver and connector authors need to test their code without storage —
 * the scriptable {@link FakeRunner}, the in-memory {@link MemoryVolumeDriver}, and the driver
 * conformance suite every driver must pass ({@link describeVolumeDriverConformance}).
 *
 * The conformance suite imports vitest, a peer dependency of this entry point.
 *
 * @packageDocumentation
 */
export * from "./fake-runner.js";
export * from "./memory-driver.js";
export * from "./conformance.js";
export * from "./fake-tree.js";
export * from "./fake-sysfs.js";
export * from "./fake-connector.js";
export * from "./array-simulator/index.js";
export * from "./loopback-port.js";
