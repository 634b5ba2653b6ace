import { z } from "zod";
import { HostNameSchema } from "../../core/validation.js";

const ms = (def: number) => z.number().int().min(1).max(24 * 3600_000).default(def);

/**
 * Options of the iSCSI connector (validated once by `createIscsiConnector`).
 *
 * Multipath modes:
 * - `multipath: false` (default): single path. The portals are tried in turn; the first that
 *   logs in and shows the LUN is used; `/dev/sdX` is returned.
 * - `multipath: true`: every portal is logged in at the same time. Portals that fail are logged
 *   as warnings and skipped as long as one path works; the result is the dm map
 *   (`/dev/dm-N`). If no map forms within `timeouts.mapMs`, the first path device is returned
 *   with a warning (os-brick's behaviour).
 * - `enforceMultipath: true` (with multipath): every listed portal must log in and the map must
 *   show all of them active; otherwise the connect fails and removes what it created. A single
 *   `/dev/sdX` is never returned. `getHostProperties` fails with `BACKEND_UNAVAILABLE`
 *   when multipathd does not answer.
 *
 * @example
 * ```ts
 * const connector = createIscsiConnector({ multipath: true, enforceMultipath: true })._unsafeUnwrap();
 * ```
 */
export const IscsiConnectorConfigSchema = z.object({
  /** Use dm-multipath over every portal. */
  multipath: z.boolean().default(false).meta({ title: "Multipath", description: "Use dm-multipath over every portal." }),
  /** Fail instead of degrading when multipath cannot be set up with every path. */
  enforceMultipath: z.boolean().default(false).meta({ title: "Enforce multipath", description: "Fail instead of degrading when multipath cannot be set up with every path." }),
  /**
   * With multipath and connection info that lists one portal only: ask that portal for the
   * target's other portals (`sendtargets`, with discovery CHAP when the info has it).
   */
  discoverPortals: z.boolean().default(false).meta({ title: "Discover portals", description: "With multipath and connection info that lists one portal only: ask that portal for the target's other portals (`sendtargets`, with discovery CHAP when the info has it)." }),
  /** Host name reported in connector properties (default: `os.hostname()`). */
  hostName: HostNameSchema.optional().meta({ title: "Host name", description: "Host name reported in connector properties (default: `os.hostname()`)." }),
  /** Storage IP reported in connector properties. */
  ip: z.union([z.ipv4(), z.ipv6()]).optional().meta({ title: "IP", description: "Storage IP reported in connector properties." }),
  /** Upper bounds of each wait (each also ends at the operation's deadline). */
  timeouts: z
    .object({
      /** One `iscsiadm --login`/`--logout` (iscsid retries inside it). */
      loginMs: ms(120_000),
      /** Any other command. */
      commandMs: ms(60_000),
      /** From the first scan until the LUN's disk shows up. */
      deviceMs: ms(30_000),
      /** From the last path found until the multipath map has every path active. */
      mapMs: ms(20_000),
      /**
       * When multipathd builds maps on its own (`find_multipaths` other than `strict`): how long
       * to wait for its map before handing the paths to it (`multipath -a`, `multipathd add path`).
       */
      mapFallbackMs: ms(3_000),
      /** Until a deleted disk or flushed map has left sysfs. */
      removeMs: ms(30_000),
      /** One `blockdev --flushbufs`. */
      flushMs: ms(120_000),
    })
    .prefault({}).meta({ title: "Timeouts", description: "Upper bounds of each wait (each also ends at the operation's deadline)." }),
  /**
   * Polling: `intervalMs` between two rounds of sysfs reads while devices and maps are awaited (one
   * round serves every wait of the connector); `minMs`/`maxMs`, the back-off of retried commands.
   */
  poll: z
    .object({ intervalMs: z.number().int().min(1).max(10_000).default(20), minMs: z.number().int().min(1).default(50), maxMs: z.number().int().min(1).default(1000) })
    .prefault({})
    .meta({ title: "Poll", description: "intervalMs between two rounds of sysfs reads while devices and maps are awaited; minMs/maxMs, the back-off of retried commands." }),
  /** Retries of transient failures (iscsiadm exit 6/28/29, busy maps). */
  retries: z.number().int().min(0).max(20).default(4).meta({ title: "Retries", description: "Retries of transient failures (iscsiadm exit 6/28/29, busy maps)." }),
});

/** Connector options (input form). */
export type IscsiConnectorConfig = z.input<typeof IscsiConnectorConfigSchema>;
/** Connector options (parsed form). */
export type ParsedIscsiConnectorConfig = z.output<typeof IscsiConnectorConfigSchema>;
