import type { SimStateData } from "./sim-state.js";

/**
 * What request handlers work with: the state, the options that shape the array's behaviour, the
 * files behind LUNs and snapshots, and the commit step (persist + re-export over iSCSI).
 */

/** Behaviour knobs of the simulated array (resolved defaults). */
export interface SimBehaviour {
  /** Array serial number, the `deviceid` of the login answer. */
  readonly deviceId: string;
  /** 16 hex digits the WWNs and IQNs are derived from. */
  readonly systemWwn: string;
  /** `PRODUCTVERSION` of `/system/`. */
  readonly productVersion: string;
  /** Deepest chain of unsplit clone LUNs allowed (`CLONE_DEPTH_EXCEEDED` beyond). */
  readonly maxCloneDepth: number;
  /** Shortest time a LUN copy, clone pair sync or rollback takes (progress is reported meanwhile). */
  readonly copyDurationMs: number;
  /** Time a new LUN reports "initializing" (53) before "online" (27). */
  readonly lunInitMs: number;
}

/** File operations behind LUNs and snapshots (the data plane's file side). */
export interface SimFiles {
  /** Path of the file of a LUN or snapshot id. */
  pathOf(kind: "lun" | "snapshot", id: string): string;
  /** Creates an empty sparse file of `sectors` 512-byte sectors. */
  create(file: string, sectors: number): Promise<void>;
  /** Grows a file to `sectors`. */
  grow(file: string, sectors: number): Promise<void>;
  /** Writes `dst` as a copy of `src` sized `sectors` (reflink or sparse copy, then resize). */
  copy(src: string, dst: string, sectors: number): Promise<void>;
  /** Removes a file (missing is fine). */
  remove(file: string): Promise<void>;
}

/** The world request handlers see. */
export interface SimWorld {
  /** All objects. */
  readonly state: SimStateData;
  /** Behaviour knobs. */
  readonly behaviour: SimBehaviour;
  /** LUN and snapshot files. */
  readonly files: SimFiles;
  /** TCP port of the iSCSI portals (reported as `ISCSITCPPORT`). */
  readonly iscsiPort: number;
  /** True once, then false: the next LUN copy / clone pair breaks (fault injection). */
  takeCopyFault(): boolean;
  /** Epoch ms. */
  now(): number;
  /**
   * Call after a change: persists the state file (when configured) and brings the iSCSI exports
   * in line with the mappings; resolves when both are done.
   */
  commit(): Promise<void>;
  /** The LUN's file was replaced (rollback, copy into a mapped LUN): re-open it in tgtd. */
  refreshExport(lunId: string): Promise<void>;
  /** Runs a background task (a copy) the simulator waits for on stop. */
  background(task: () => Promise<void>): void;
}
