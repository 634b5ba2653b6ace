/**
 * Pure parsers of the `rbd … --format json` and `ceph df --format json` output the RBD client
 * reads, tested against output captured from Ceph Pacific 16.2.15 (test/fixtures/rbd). Quirks:
 * most booleans arrive as the strings `"true"`/`"false"` (`protected`, `exists`) while a few are
 * real booleans (`parent.trash`); timestamps are ctime text (`"Tue Dec  1 16:15:08 2026"`), in
 * the time zone of the host that ran the CLI (UTC on volkit's hosts: parsed as UTC).
 *
 * This module gathers them: images and snapshots (`rbd-image-parsers.ts`), usage and state
 * (`rbd-state-parsers.ts`), the cluster (`rbd-cluster-parsers.ts`); shared pieces in `rbd-json.ts`.
 */
export { parseCtime } from "./rbd-json.js";
export * from "./rbd-image-parsers.js";
export * from "./rbd-state-parsers.js";
export * from "./rbd-cluster-parsers.js";
