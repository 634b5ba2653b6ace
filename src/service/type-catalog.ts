import { type ResultAsync, errAsync, okAsync } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import type { QosSpecsRecord, VolumeTypeRecord } from "./records/volume-type-record.js";
import type { ParsedVolumeServiceConfig } from "./service-config.js";
import type { ServiceStore } from "./store/store.js";

/** A volume type with its QoS specs, as operations use it. */
export interface ResolvedType {
  /** The type. */
  readonly type: VolumeTypeRecord;
  /** Its QoS specs, if it links some. */
  readonly qos: QosSpecsRecord | undefined;
}

/** Whether an extra-spec value is Cinder's `<is> True` (or a plain true). */
export function specIsTrue(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.replace(/^<is>\s*/i, "").trim().toLowerCase();
  return ["true", "1", "yes", "on", "y", "t"].includes(v);
}

/**
 * Volume types and QoS specs: the configured ones are written to the store when the service opens
 * (under their names as ids), and operations look them up there, so every process sharing the
 * store sees the same types.
 */
export class TypeCatalog {
  readonly #store: ServiceStore;
  readonly #defaultType: string | undefined;

  constructor(store: ServiceStore, defaultType: string | undefined) {
    this.#store = store;
    this.#defaultType = defaultType;
  }

  /** Writes the configured QoS specs and types (insert or update by name); others in the store stay. */
  sync(config: ParsedVolumeServiceConfig): ResultAsync<void, VolkitError> {
    const qos = config.qosSpecs.map((q) => () =>
      this.#store.qosSpecs.find(q.name).andThen((found) =>
        found === undefined
          ? this.#store.qosSpecs.insert({ id: q.name, name: q.name, consumer: q.consumer, specs: q.specs }).map(() => undefined)
          : this.#store.qosSpecs.update(q.name, { consumer: q.consumer, specs: q.specs }).map(() => undefined),
      ),
    );
    const types = config.volumeTypes.map((t) => () => {
      const fields = { extraSpecs: t.extraSpecs, description: t.description, qosSpecsId: t.qosSpecs };
      return this.#store.volumeTypes.find(t.name).andThen((found) =>
        found === undefined
          ? this.#store.volumeTypes.insert({ id: t.name, name: t.name, ...fields }).map(() => undefined)
          : this.#store.volumeTypes.update(t.name, fields).map(() => undefined),
      );
    });
    // One after the other: types refer to QoS specs; two processes opening at once may race on an
    // insert, which the second one turns into an update.
    const steps = [...qos, ...types].map((step) => () => step().orElse((e) => (e.code === "CONFLICT" ? step() : errAsync(e))));
    return steps.reduce<ResultAsync<void, VolkitError>>((chain, step) => chain.andThen(step), okAsync(undefined));
  }

  /** The type `nameOrId` (the default type when undefined; none when there is no default). */
  resolve(nameOrId: string | undefined): ResultAsync<ResolvedType | undefined, VolkitError> {
    const wanted = nameOrId ?? this.#defaultType;
    if (wanted === undefined) return okAsync(undefined);
    return this.#store.volumeTypes.find(wanted).andThen((byId) => {
      const found = byId === undefined ? this.#store.volumeTypes.list().map((all) => all.find((t) => t.name === wanted)) : okAsync(byId);
      return found.andThen((type) => {
        if (type === undefined) return errAsync(new VolkitError("INVALID_ARGUMENT", `no volume type ${wanted}`, { source: "service", details: { volumeType: wanted } }));
        if (type.qosSpecsId === undefined) return okAsync({ type, qos: undefined });
        return this.#store.qosSpecs.find(type.qosSpecsId).map((qos) => ({ type, qos }));
      });
    });
  }

  /** The type a volume record names (none when it names none). */
  ofVolume(volumeTypeId: string | undefined): ResultAsync<ResolvedType | undefined, VolkitError> {
    return volumeTypeId === undefined ? okAsync(undefined) : this.resolve(volumeTypeId);
  }
}
