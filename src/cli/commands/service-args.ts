import { ResultAsync, err, errAsync, ok, okAsync, type Result } from "neverthrow";
import { z } from "zod";
import { VolkitError } from "../../core/errors.js";
import { SizeGiBSchema, validate } from "../../core/validation.js";
import { RecordIdSchema } from "../../service/records/record-fields.js";
import type { Painter } from "../colour.js";
import { commandPath, type CommandContext } from "../command-kit.js";
import { fields, table } from "../output.js";
import type { ServiceCallOptions, ServiceLike } from "../service-like.js";
import type { VolumeOutSchema } from "./service-schemas.js";

/** A volume as printed. */
type VolumeOut = z.output<typeof VolumeOutSchema>;

const poolRef = (v: VolumeOut): string | undefined => (v.backend === undefined ? undefined : v.pool === undefined ? v.backend : `${v.backend}#${v.pool}`);

/**
 * Shared pieces of the service-backed commands: opening the service for one command (and always
 * closing it), argument checks that run before the service is called, and the renderings of the
 * records they print.
 */

/** Opens the service, runs `use` with the call options (Ctrl-C, progress when `progressLabel`), closes it. */
export function withService<T>(ctx: CommandContext, use: (service: ServiceLike, options: ServiceCallOptions) => ResultAsync<T, VolkitError>, progressLabel?: string): ResultAsync<T, VolkitError> {
  const factory = ctx.env.service;
  if (factory === undefined) {
    const path = commandPath(ctx.command);
    return errAsync(new VolkitError("NOT_SUPPORTED", `${path} needs the volume service, which this volkit build does not bind yet`, { source: "cli", details: { cliCommand: path } }));
  }
  return ctx.config().andThen((loaded) =>
    factory(loaded, { signal: ctx.cancel.signal }).andThen(
      (handle) =>
        new ResultAsync(
          (async (): Promise<Result<T, VolkitError>> => {
            const progress = progressLabel === undefined ? undefined : ctx.progress(progressLabel);
            const options: ServiceCallOptions = { signal: ctx.cancel.signal, ...(progress ? { events: progress.events } : {}) };
            const result = await use(handle.service, options);
            progress?.finish();
            const closed = await handle.close();
            if (result.isErr()) return err(result.error);
            return closed.isErr() ? err(closed.error) : ok(result.value);
          })(),
        ),
    ),
  );
}

/** Lifts a sync check into the async chain. */
export function check<T>(r: Result<T, VolkitError>): ResultAsync<T, VolkitError> {
  return r.isOk() ? okAsync(r.value) : errAsync(r.error);
}

/** A record id argument. */
export function idArg(value: unknown, what: string): Result<string, VolkitError> {
  return validate(RecordIdSchema, value, what);
}

const GiBArg = z
  .string()
  .regex(/^\d+$/, "must be a whole number of GiB")
  .transform(Number)
  .pipe(SizeGiBSchema);

/** An optional record id option: undefined when not given. */
export function optionalId(value: unknown, what: string): ResultAsync<string | undefined, VolkitError> {
  return value === undefined ? okAsync<string | undefined, VolkitError>(undefined) : check(idArg(value, what));
}

/** A size in whole GiB, as typed. */
export function sizeArg(value: unknown, what: string): Result<number, VolkitError> {
  return validate(GiBArg, value, what);
}

/** `--opt key=value` given several times, each key and value checked. */
export function keyValues(values: unknown, what: string, key: z.ZodType<string>, value: z.ZodType<string>): Result<Record<string, string>, VolkitError> {
  const list = Array.isArray(values) ? (values as unknown[]) : values === undefined ? [] : [values];
  const out: Record<string, string> = {};
  for (const item of list) {
    const text = String(item);
    const eq = text.indexOf("=");
    if (eq <= 0) return err(new VolkitError("INVALID_ARGUMENT", `${what}: ${JSON.stringify(text)} is not key=value`, { source: "cli" }));
    const k = validate(key, text.slice(0, eq), `${what} key`);
    if (k.isErr()) return err(k.error);
    const v = validate(value, text.slice(eq + 1), `${what} value`);
    if (v.isErr()) return err(v.error);
    out[k.value] = v.value;
  }
  return ok(out);
}

/** Collects a repeatable option into an array (commander's argParser). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Only the fields that are defined (for `exactOptionalPropertyTypes` requests). */
export function defined<T extends Record<string, unknown>>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

const statusColour = (status: string, paint: Painter): string =>
  paint.paint(status.startsWith("error") ? "bad" : status === "available" || status === "in-use" || status === "attached" ? "ok" : "warn", status);

/** A table of volumes. */
export function volumeTable(volumes: readonly VolumeOut[], paint: Painter): string {
  return table(
    ["id", "name", "size", "status", "attach", "backend#pool", "type"],
    volumes.map((v) => [v.id, v.name ?? "", `${v.sizeGiB} GiB`, statusColour(v.status, paint), v.attachStatus, poolRef(v) ?? "", v.volumeTypeId ?? ""]),
    paint,
  );
}

/** One volume, field by field. */
export function volumeFields(v: VolumeOut, paint: Painter): string {
  return fields(
    [
      ["id", v.id],
      ["name", v.name],
      ["size", `${v.sizeGiB} GiB`],
      ["status", statusColour(v.status, paint)],
      ["previous status", v.previousStatus],
      ["attach status", v.attachStatus],
      ["migration", v.migrationStatus],
      ["backend#pool", poolRef(v)],
      ["type", v.volumeTypeId],
      ["source", v.source === undefined ? undefined : `${v.source.kind} ${Object.values(v.source)[1] as string}`],
      ["multiattach", v.multiattach],
      ["provider location", v.providerLocation],
      ["status reason", v.statusReason],
      ["created", v.createdAt],
      ["updated", v.updatedAt],
    ],
    paint,
  );
}

/** `done: <what>`. */
export function done(paint: Painter, text: string): string {
  return `${paint.paint("ok", "done")}: ${text}`;
}
