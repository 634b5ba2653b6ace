/**
 * Every record volkit exchanges with its callers, defined once as a zod schema with its types beside
 * it: `FooSchema`, `Foo` (the parsed form volkit returns: defaults applied, portals normalized) and
 * `FooInput` (what a caller or a driver may hand in). Drivers return input forms; the runtime parses
 * them once. Drivers are stateless like Cinder's: the caller stores the {@link Volume} and
 * {@link Snapshot} records and hands them back on later calls, and they are validated again then.
 *
 * This module is the one place to import records from; they are defined by topic in
 * `volume-records.ts`, `connection-records.ts`, `host-records.ts` and `stats-records.ts`.
 */
export * from "./volume-records.js";
export * from "./connection-records.js";
export * from "./host-records.js";
export * from "./stats-records.js";
