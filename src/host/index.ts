/**
 * Host access for connectors: the injectable {@link HostFs} (sysfs, /dev, /etc through a
 * configurable root), small readers of block/SCSI/device-mapper sysfs attributes, a back-off
 * poller with a deadline, and the operation wrapper connectors share. The fake tree builder for
 * tests lives in `volkit/testing` (`FakeHostTree`).
 *
 * @packageDocumentation
 */
export * from "./host-fs.js";
export * from "./block-sysfs.js";
export * from "./wait.js";

