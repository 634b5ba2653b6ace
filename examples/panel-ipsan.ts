/**
 * A management panel's flow with the IP-SAN driver, against volkit's array simulator (an
 * OceanStor-style REST API in this process; nothing else is contacted):
 *
 *   1. render the "add backend" form from the driver's JSON Schema (titles, help, defaults, secrets);
 *   2. create the backend from what the form collected, list its pools with capacity;
 *   3. create a volume whose type carries back-end QoS (a policy on the array);
 *   4. grant a host access (host, initiator with CHAP, groups, mapping view on the array);
 *   5. show the libvirt `<disk>` the hypervisor gets (QEMU's own iSCSI initiator, CHAP from a
 *      libvirt secret: the password never appears in the XML).
 *
 * Run it anywhere (no root, no iSCSI daemon: the simulator's data plane is off):
 *   npx tsx examples/panel-ipsan.ts
 * test/unit/examples/ipsan-panel.test.ts runs it and checks what it prints.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { createBackend, driverConfigJsonSchema, type ConnectionInfo, type VolkitError } from "../src/index.js";
import { buildDiskXml } from "../src/libvirt/index.js";
import { startArraySimulator, type ArraySimulator } from "../src/testing/index.js";

/** One field of the rendered form. */
export interface FormField {
  /** Dotted path of the field in the config. */
  readonly path: string;
  /** Label. */
  readonly title: string;
  /** Help text. */
  readonly description: string;
  /** JSON type (or `enum` choices). */
  readonly type: string;
  /** The form must have a value. */
  readonly required: boolean;
  /** A password input (never echoed back). */
  readonly secret: boolean;
  /** Pre-filled value. */
  readonly defaultValue?: unknown;
}

/** What the panel showed, step by step. */
export interface PanelReport {
  /** The form's fields. */
  readonly form: readonly FormField[];
  /** Pools with capacity, as the panel lists them. */
  readonly pools: readonly { readonly name: string; readonly totalGiB: number; readonly freeGiB: number; readonly provisionedGiB: number }[];
  /** The volume created. */
  readonly volumeId: string;
  /** The QoS policy the array holds for it. */
  readonly qos: { readonly name: string; readonly maxIops: string; readonly enabled: boolean } | undefined;
  /** The connection info the host got. */
  readonly connection: ConnectionInfo;
  /** The libvirt disk XML. */
  readonly xml: string;
}

type JsonSchema = Record<string, unknown>;

/** A schema keyword that must be text, or `fallback`. */
const text = (value: unknown, fallback: string): string => (typeof value === "string" ? value : fallback);

/** The form's fields from a config JSON Schema (objects flattened into dotted paths). */
export function formFields(schema: JsonSchema, prefix = ""): FormField[] {
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(props).flatMap(([key, field]): FormField[] => {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (field.type === "object" && field.properties) return formFields(field, path);
    const items = field.items as JsonSchema | undefined;
    const type = Array.isArray(field.enum) ? `enum(${(field.enum as unknown[]).join("|")})` : field.type === "array" ? `array of ${text(items?.type, "object")}` : text(field.type, "any");
    return [
      {
        path,
        title: text(field.title, key),
        description: text(field.description, ""),
        type,
        required: required.has(key),
        secret: field.writeOnly === true,
        ...(field.default === undefined ? {} : { defaultValue: field.default }),
      },
    ];
  });
}

/** Runs the panel's flow against `sim`, printing each step with `print`. */
export async function runIpsanPanel(sim: ArraySimulator, print: (line: string) => void = console.log): Promise<PanelReport> {
  const fail = (e: VolkitError): never => {
    throw new Error(`${e.code}: ${e.message}`);
  };

  // 1. The form, straight from the driver's schema.
  const schema = driverConfigJsonSchema("ipsan").match((s) => s, fail);
  const form = formFields(schema);
  print(`== ${String(schema.title)}: ${String(schema.description)}`);
  for (const f of form) print(`  [${f.required ? "*" : " "}] ${f.title} (${f.path}: ${f.type}${f.secret ? ", secret" : ""}${f.defaultValue === undefined ? "" : `, default ${JSON.stringify(f.defaultValue)}`})`);

  // 2. What the user typed into the form; the panel keeps the password out of its own logs.
  const conn = sim.connection();
  const host = "compute-01";
  const initiator = "iqn.2024-01.org.volkit:compute-01";
  const chap = { user: "compute-01", password: "Panel-Chap-0001" };
  const backend = (
    await createBackend({
      driver: "ipsan",
      restUrls: conn.restUrls,
      user: conn.user,
      password: conn.password,
      tls: conn.tls.caFile === undefined ? {} : { caFile: conn.tls.caFile },
      storagePools: ["StoragePool001"],
      lunType: "thin",
      iscsi: { initiators: [{ iqn: initiator, chap }] },
      qosSpecs: { gold: { maxIops: 5000, maxBandwidthMBps: 400 } },
    })
  ).match((b) => b, fail);
  try {
    const stats = (await backend.getVolumeStats()).match((s) => s, fail);
    const pools = stats.pools.map((p) => ({
      name: p.poolName,
      totalGiB: typeof p.totalCapacityGiB === "number" ? p.totalCapacityGiB : 0,
      freeGiB: typeof p.freeCapacityGiB === "number" ? p.freeCapacityGiB : 0,
      provisionedGiB: p.provisionedCapacityGiB ?? 0,
    }));
    print(`== pools of ${stats.volumeBackendName} (${stats.vendorName}, ${stats.storageProtocol})`);
    for (const p of pools) print(`  ${p.name}: ${p.freeGiB} of ${p.totalGiB} GiB free, ${p.provisionedGiB} GiB provisioned`);

    // 3. A volume of type "gold": the array puts it in a QoS policy.
    const volume = (await backend.createVolume({ id: randomUUID(), sizeGiB: 10, displayName: "db-data", volumeType: "gold" })).match((v) => v, fail);
    const policy = sim.snapshot().qos.find((q) => q.lunIds.includes(volume.providerId ?? ""));
    const qos = policy ? { name: policy.name, maxIops: policy.limits.MAXIOPS ?? "", enabled: policy.enabled } : undefined;
    print(`== volume ${volume.id} (10 GiB, gold): LUN ${volume.providerId ?? "?"}, QoS ${qos ? `${qos.name} max ${qos.maxIops} IOPS${qos.enabled ? ", active" : ""}` : "none"}`);

    // 4. The host asks for access.
    const connection = (await backend.initializeConnection(volume, { host, initiator, multipath: true })).match((c) => c, fail);
    if (connection.type !== "iscsi") throw new Error(`expected an iSCSI connection, got ${connection.type}`);
    print(`== ${host} may attach LUN ${connection.targetLun} through ${(connection.targetPortals ?? [connection.targetPortal]).join(", ")} (CHAP user ${connection.authUsername ?? "none"})`);

    // 5. The disk for the VM: QEMU logs in itself; the CHAP password lives in a libvirt secret.
    const xml = buildDiskXml({
      connection,
      // One portal: QEMU's initiator has no multipath (attachVolume + mode "host" gives the dm device).
      options: { mode: "network", portal: 0, target: { dev: "vdb", bus: "virtio" }, chapSecret: { usage: `volkit-${host}` }, initiatorIqn: initiator },
    }).match((x) => x, fail);
    print("== libvirt <disk>");
    print(xml);

    (await backend.terminateConnection(volume, { host, initiator })).match(() => undefined, fail);
    (await backend.deleteVolume(volume)).match(() => undefined, fail);
    return { form, pools, volumeId: volume.id, qos, connection, xml };
  } finally {
    void (await backend.close());
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sim = await startArraySimulator({ protocol: "https", iscsi: false });
  try {
    await runIpsanPanel(sim);
  } finally {
    await sim.stop();
  }
}
