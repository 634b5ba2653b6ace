
/**
 * Naming rules. Volumes are `volume-<id>`; snapshots `_snapshot-<id>` because lvm2 reserves
 * names starting with `snapshot`; temporaries start with `_` too so they never look like volumes.
 * Snapshots carry the tag `volkit-origin-<volumeId>`, which survives a thin revert that replaces
 * the origin LV (lvm2's `origin` field would then be empty).
 */

/** LV name of a volume. */
export const volumeLvName = (id: string): string => `volume-${id}`;
/** LV name of a snapshot. */
export const snapshotLvName = (id: string): string => `_snapshot-${id}`;
/** Temporary snapshot used while cloning a thick volume. */
export const cloneTempLvName = (id: string): string => `_clone-${id}`;
/** Temporary LV built during a thin revert. */
export const revertTempLvName = (id: string): string => `_revert-${id}`;
/** The pre-revert volume kept until the revert is complete. */
export const revertOldLvName = (id: string): string => `_revert-old-${id}`;
/** Tag marking a snapshot's volume. */
export const originTag = (volumeId: string): string => `volkit-origin-${volumeId}`;
