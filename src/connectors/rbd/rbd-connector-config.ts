import { z } from "zod";
import { AbsolutePathSchema, HostNameSchema } from "../../core/validation.js";

const ms = (def: number) => z.number().int().min(100).max(24 * 3600_000).default(def);

/**
 * Options the kernel client takes at map time (`rbd device map -o …`), as volkit allows them:
 * queue and allocation sizes, locking, discard, and the CLI's own `udev`/`noudev`. Anything
 * else (notably `secret=`, `key=`, monitor or name overrides) is refused.
 */
export const KrbdMapOptionSchema = z
  .string()
  .regex(
    /^(queue_depth=\d{1,5}|alloc_size=\d{1,10}|lock_timeout=\d{1,5}|osd_request_timeout=\d{1,5}|read_from_replica=(no|balance|localize)|compression_hint=(none|compressible|incompressible)|lock_on_read|exclusive|notrim|nocrc|noudev|udev)$/,
    "must be a kernel rbd map option volkit allows (queue_depth=N, alloc_size=N, lock_timeout=N, osd_request_timeout=N, read_from_replica=…, compression_hint=…, lock_on_read, exclusive, notrim, nocrc, noudev, udev)",
  );

/**
 * Options of the RBD connector (validated once by `createRbdConnector`). Credentials come from the
 * connection info first (its `key`, written to a 0600 key file for the map and removed right
 * after; or its `keyringPath`), then from `keyringPath` here, then from the CLI's default search
 * path (`/etc/ceph/<cluster>.client.<id>.keyring`).
 *
 * @example
 * ```ts
 * const rbd = createRbdConnector({ keyringPath: "/etc/ceph/ceph.client.nova.keyring", mapOptions: ["queue_depth=256"] })._unsafeUnwrap();
 * ```
 */
export const RbdConnectorConfigSchema = z.object({
  /** Host name reported in host properties (default `os.hostname()`). */
  hostName: HostNameSchema.optional().meta({ title: "Host name", description: "Host name reported in host properties (default: `os.hostname()`)." }),
  /** Ceph config file on this host; default: none when the connection lists monitors. */
  confPath: AbsolutePathSchema.optional().meta({ title: "Ceph config file", description: "Ceph config file on this host (`--conf`). Default: none at all (`--conf /dev/null`): the connection's monitors are used." }),
  /** Keyring on this host, when the connection carries neither a key nor a keyring path. */
  keyringPath: AbsolutePathSchema.optional().meta({ title: "Keyring path", description: "Keyring on this host, used when the connection info carries neither `key` nor `keyringPath` (default: the CLI's search path, `/etc/ceph/<cluster>.client.<id>.keyring`…)." }),
  /** Directory for the temporary key file. */
  keyfileDir: AbsolutePathSchema.optional().meta({ title: "Key file directory", description: "Where the 0600 key file holding a connection's `key` is written for the map command (default: a fresh `mktemp -d` directory); removed right after." }),
  /** Messenger mode of the kernel client (`ms_mode`); default: the kernel's (legacy msgr1). */
  msMode: z
    .enum(["legacy", "crc", "secure", "prefer-crc", "prefer-secure"])
    .optional()
    .meta({ title: "Messenger mode", description: "`ms_mode` of the kernel client: `legacy` (msgr1, the default; needs the monitors' v1 addresses, which the RBD driver hands out), or msgr2 `crc`/`secure`/`prefer-*` (Linux 5.11+, needs v2 addresses)." }),
  /** Further kernel map options. */
  mapOptions: z.array(KrbdMapOptionSchema).max(16).default([]).meta({ title: "Map options", description: "Further kernel client options for `rbd device map -o` (an allow-list: queue_depth, alloc_size, lock_on_read, exclusive, notrim…)." }),
  /** Seconds the CLI waits for the monitors at map time. */
  connectTimeoutSec: z.number().int().min(1).max(300).default(10).meta({ title: "Connect timeout (s)", description: "Seconds `rbd device map` waits for the monitors (`--client-mount-timeout`), never the CLI's 300 s default." }),
  /** Upper bounds of each step (each also ends at the operation's deadline). */
  timeouts: z
    .object({
      /** One `rbd device map` (the kernel connects, reads the header, registers a watch). */
      mapMs: ms(120_000),
      /** One `rbd device unmap`. */
      unmapMs: ms(60_000),
      /** Until a mapped device shows in sysfs and `/dev`, or an unmapped one has left. */
      deviceMs: ms(30_000),
      /** Until the device reports the image's new size after an extend. */
      resizeMs: ms(30_000),
      /** One `blockdev --flushbufs`. */
      flushMs: ms(120_000),
    })
    .prefault({})
    .meta({ title: "Timeouts", description: "Upper bounds of each step in ms (each also ends at the operation's deadline)." }),
  /** Back-off of sysfs polling: first and largest delay in ms. */
  poll: z.object({ minMs: z.number().int().min(1).default(50), maxMs: z.number().int().min(1).default(1000) }).prefault({}).meta({ title: "Poll", description: "Back-off of sysfs polling: first and largest delay in ms." }),
});

/** Connector options (input form). */
export type RbdConnectorConfig = z.input<typeof RbdConnectorConfigSchema>;
/** Connector options (parsed form). */
export type ParsedRbdConnectorConfig = z.output<typeof RbdConnectorConfigSchema>;
