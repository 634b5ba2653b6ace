/** The IP-SAN driver's config: JSON Schema for panels, validation, secrets, TLS. */
import { describe, expect, it, afterEach } from "vitest";
import { driverConfigJsonSchema, createBackend, listDrivers } from "../../../../src/drivers/registry.js";
import { IpsanConfigSchema, type IpsanConfig } from "../../../../src/drivers/ipsan/ipsan-config.js";
import { createIpsanDriver } from "../../../../src/drivers/ipsan/index.js";
import { validate } from "../../../../src/core/validation.js";
import { wrapDriver } from "../../../../src/drivers/backend.js";
import type { ArraySimulator } from "../../../../src/testing/array-simulator/index.js";
import { recordingLogger, unitSimulator } from "./helpers.js";

let sim: ArraySimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const base: IpsanConfig = { driver: "ipsan", restUrls: ["https://192.0.2.10:8088/deviceManager/rest/"], user: "admin", password: "Array-Pass-0001", storagePools: ["StoragePool001"] };

/** Every property schema below `schema`, with its path. */
function properties(schema: Record<string, unknown>, path = ""): { path: string; schema: Record<string, unknown> }[] {
  const out: { path: string; schema: Record<string, unknown> }[] = [];
  const visit = (s: unknown, p: string): void => {
    if (s === null || typeof s !== "object") return;
    const o = s as Record<string, unknown>;
    for (const [k, v] of Object.entries((o.properties as Record<string, unknown> | undefined) ?? {})) {
      out.push({ path: `${p}.${k}`, schema: v as Record<string, unknown> });
      visit(v, `${p}.${k}`);
    }
    visit(o.items, `${p}[]`);
    if (typeof o.additionalProperties === "object") visit(o.additionalProperties, `${p}{}`);
    for (const key of ["anyOf", "oneOf", "allOf"]) for (const alt of (o[key] as unknown[] | undefined) ?? []) visit(alt, p);
  };
  visit(schema, path);
  return out;
}

describe("IP-SAN driver config", () => {
  it("is listed with the built-ins, and its JSON Schema gives every field, nested ones too, a title and a description", () => {
    expect(listDrivers().map((d) => d.name)).toContain("ipsan");
    const schema = driverConfigJsonSchema("ipsan")._unsafeUnwrap();
    expect(schema).toMatchObject({ title: "IP-SAN (OceanStor REST)", type: "object" });
    const props = properties(schema);
    const paths = props.map((p) => p.path);
    for (const expected of [".restUrls", ".password", ".tls.verify", ".tls.caFile", ".storagePools", ".lunType", ".iscsi.targetPortals", ".iscsi.portGroup", ".iscsi.initiators[].chap.password", ".copySpeed", ".lunReadyTimeoutMs", ".copyTimeoutMs", ".maxCloneDepth", ".flattenFromSnapshot", ".qosSpecs{}.maxIops"]) {
      expect(paths).toContain(expected);
    }
    const missing = props.filter((p) => typeof p.schema.title !== "string" || typeof p.schema.description !== "string").map((p) => p.path);
    expect(missing).toEqual([]);
    expect(props.find((p) => p.path === ".password")?.schema.writeOnly).toBe(true);
    expect(props.find((p) => p.path === ".tls.verify")?.schema.default).toBe(true);
    expect((schema.required as string[]).sort()).toEqual(["driver", "password", "restUrls", "storagePools", "user"]);
  });

  it("refuses bad configs with INVALID_CONFIG naming the field, before anything is contacted", async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["a URL with credentials", { restUrls: ["https://admin:pw@192.0.2.10:8088/deviceManager/rest/"] }, /restUrls/],
      ["no pool", { storagePools: [] }, /storagePools/],
      ["a pool name too long for the array", { storagePools: ["p".repeat(32)] }, /storagePools/],
      ["a short CHAP secret", { iscsi: { initiators: [{ iqn: "iqn.2024-01.org.volkit:a", chap: { user: "u", password: "short" } }] } }, /password/],
      ["portals and a port group", { iscsi: { targetPortals: ["192.0.2.1"], portGroup: "pg" } }, /not both/],
      ["the same initiator twice", { iscsi: { initiators: [{ iqn: "iqn.2024-01.org.volkit:a" }, { iqn: "iqn.2024-01.org.volkit:a" }] } }, /once/],
      ["upper and lower QoS limits mixed", { qosSpecs: { gold: { maxIops: 10, latencyMs: 5 } } }, /cannot be mixed/],
      ["an unknown key", { lunTypo: "thin" }, /lunTypo|unrecognized/i],
      ["a clone depth beyond 16", { maxCloneDepth: 17 }, /maxCloneDepth/],
    ];
    for (const [what, patch, message] of cases) {
      const r = await createBackend({ ...base, ...patch });
      const e = r._unsafeUnwrapErr();
      expect(e.code, what).toBe("INVALID_CONFIG");
      expect(e.message, what).toMatch(message);
    }
  });

  it("registers the password and CHAP secrets: refusals and errors never show them", () => {
    const chap = "Chap-Secret-77";
    const bad = validate(IpsanConfigSchema, { ...base, password: "Visible-Pass-99", iscsi: { initiators: [{ iqn: "bad iqn", chap: { user: "u", password: chap } }] } }, "cfg", "INVALID_CONFIG");
    const e = bad._unsafeUnwrapErr();
    const shown = `${e.message} ${JSON.stringify(e.toJSON())}`;
    expect(shown).not.toContain("Visible-Pass-99");
    expect(shown).not.toContain(chap);
  });

  it("TLS is verified by default: the simulator's self-signed certificate is refused unless its CA is given; verify=false works and is logged", async () => {
    sim = await startHttps();
    const conn = sim.connection();
    const untrusted = wrapDriver((await createIpsanDriver({ ...base, restUrls: conn.restUrls, password: conn.password, retries: 0 }))._unsafeUnwrap());
    const refused = (await untrusted.getVolumeStats())._unsafeUnwrapErr();
    expect(refused.code).toBe("AUTH_FAILED");
    expect(refused.message).toMatch(/not trusted/);
    const trusted = wrapDriver((await createIpsanDriver({ ...base, restUrls: conn.restUrls, password: conn.password, tls: conn.tls.caFile === undefined ? {} : { caFile: conn.tls.caFile } }))._unsafeUnwrap());
    expect((await trusted.getVolumeStats())._unsafeUnwrap().pools[0]?.poolName).toBe("StoragePool001");
    const logger = recordingLogger();
    const insecure = wrapDriver((await createIpsanDriver({ ...base, restUrls: conn.restUrls, password: conn.password, tls: { verify: false } }))._unsafeUnwrap(), { logger });
    expect((await insecure.getVolumeStats()).isOk()).toBe(true);
    expect(logger.lines.filter((l) => l.includes("verification") && l.includes('"warn"'))).toHaveLength(1);
    expect(logger.lines.join("\n")).not.toContain(conn.password);
    for (const b of [untrusted, trusted, insecure]) (await b.close())._unsafeUnwrap();
  });
});

function startHttps(): Promise<ArraySimulator> {
  return unitSimulator({ protocol: "https" });
}
