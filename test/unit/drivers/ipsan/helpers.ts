import { createOperationContext, type OperationContext } from "../../../../src/core/context.js";
import type { Logger } from "../../../../src/core/events.js";
import { createIpsanClient, type IpsanClient } from "../../../../src/drivers/ipsan/ipsan-client.js";
import type { IpsanConnectionInput } from "../../../../src/drivers/ipsan/ipsan-connection.js";
import { startArraySimulator, type ArraySimulator, type ArraySimulatorOptions } from "../../../../src/testing/array-simulator/index.js";

/** A simulator for unit tests: REST only (no tgtd), plain HTTP unless asked, fast copies. */
export function unitSimulator(options: ArraySimulatorOptions = {}): Promise<ArraySimulator> {
  return startArraySimulator({ protocol: "http", iscsi: false, copyDurationMs: 30, ...options });
}

/** A client of `sim` (with optional connection overrides). */
export async function clientOf(sim: ArraySimulator, overrides: Partial<IpsanConnectionInput> = {}, logger?: Logger): Promise<IpsanClient> {
  const result = await createIpsanClient({ ...sim.connection(), retries: 2, ...overrides }, logger ? { logger } : {});
  return result._unsafeUnwrap();
}

/** An operation context, optionally with a deadline `ms` from now or a signal. */
export function opCtx(options: { ms?: number; signal?: AbortSignal } = {}): OperationContext {
  return createOperationContext({
    operation: "test",
    source: "ipsan-test",
    ...(options.ms === undefined ? {} : { deadline: Date.now() + options.ms }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}

/** A logger that keeps every line (object and message) as JSON text. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (obj: object, msg?: string): void => void lines.push(JSON.stringify({ level, obj, msg }));
  return { lines, debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
}

/** Requests of the simulator log from index `from` on, as `METHOD path code`. */
export function requestsSince(sim: ArraySimulator, from: number): string[] {
  return sim.requests.slice(from).map((r) => `${r.method} ${r.path} ${r.code}`);
}
