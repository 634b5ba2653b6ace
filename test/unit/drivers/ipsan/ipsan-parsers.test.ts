import { describe, expect, it } from "vitest";
import { validate } from "../../../../src/core/validation.js";
import { IpsanConnectionSchema, RestUrlSchema } from "../../../../src/drivers/ipsan/ipsan-connection.js";
import { parseEnvelope } from "../../../../src/drivers/ipsan/ipsan-http.js";
import { HostLunSchema, IscsiTargetPortSchema, parseIscsiTargetPortId } from "../../../../src/drivers/ipsan/ipsan-mapping-types.js";
import { arrayHostName, arrayObjectName, perHostGroupNames } from "../../../../src/drivers/ipsan/ipsan-names.js";
import { LunSchema, parseIdList } from "../../../../src/drivers/ipsan/ipsan-types.js";

describe("IP-SAN names", () => {
  // Expected values computed with Cinder's huawei_utils.encode_name / encode_host_name (md5).
  it("derives LUN names like Cinder's encode_name (31 characters, stable)", () => {
    expect(arrayObjectName("21ec7341-9256-497b-97d9-ef48edcf0635")).toBe("21ec7341-ca82ece92e1ac480c963f1");
    expect(arrayObjectName("21ec7341-9256-497b-97d9-ef48edcf0635")).toHaveLength(31);
    expect(arrayObjectName("volume-without-uuid-shape-that-is-long")).toHaveLength(31);
  });

  it("keeps short safe host names and hashes the others like encode_host_name", () => {
    expect(arrayHostName("compute-1")).toBe("compute-1");
    expect(arrayHostName("ubuntu001@backend001#OpenStack_Pool")).toBe("a43b0062b1508320e8d84e83c20d701");
    expect(perHostGroupNames("7")).toEqual({ hostGroup: "OpenStack_HostGroup_7", lunGroup: "OpenStack_LunGroup_7", mappingView: "OpenStack_Mapping_View_7", portGroup: "OpenStack_PortGroup_7" });
  });
});

describe("IP-SAN response parsing", () => {
  it("reads the envelope and never quotes a body that is not JSON", () => {
    expect(parseEnvelope('{"data":{"ID":"1"},"error":{"code":0,"description":"0"}}')).toEqual({ kind: "answer", code: 0, description: "0", data: { ID: "1" } });
    expect(parseEnvelope('{"error":{"code":"1077939726"}}')).toMatchObject({ kind: "answer", code: 1077939726 });
    const bad = parseEnvelope("password=Very-Secret-1 <html>");
    expect(bad).toEqual({ kind: "garbled", why: "body is not JSON (29 bytes)" });
    expect(parseEnvelope('{"data":{}}')).toMatchObject({ kind: "garbled" });
  });

  it("bracketed id lists in their several spellings", () => {
    expect(parseIdList('["3","4"]')).toEqual(["3", "4"]);
    expect(parseIdList("[3,4]")).toEqual(["3", "4"]);
    expect(parseIdList("[]")).toEqual([]);
    expect(parseIdList('[""]')).toEqual([]);
    expect(parseIdList("")).toEqual([]);
  });

  it("splits iSCSI target port ids (the shape of Cinder's test fixture)", () => {
    expect(parseIscsiTargetPortId("0+iqn.oceanstor:21004846fb8ca15f::22004:192.0.2.1,t,0x2005")).toEqual({ iqn: "iqn.oceanstor:21004846fb8ca15f::22004:192.0.2.1", ip: "192.0.2.1" });
    expect(parseIscsiTargetPortId("iqn.x:no-plus")).toBeUndefined();
    expect(IscsiTargetPortSchema.safeParse({ ID: "garbage", TYPE: 249 }).success).toBe(false);
  });

  it("host LUN ids come from ASSOCIATEMETADATA", () => {
    expect(HostLunSchema.parse({ ID: "11", NAME: "n", ASSOCIATEMETADATA: '{"HostLUNID":3}' })).toMatchObject({ id: "11", hostLunId: 3 });
    expect(HostLunSchema.parse({ ID: 11, ASSOCIATEMETADATA: '{"HostLUNID":"7","LUNID":"11"}' }).hostLunId).toBe(7);
    expect(HostLunSchema.safeParse({ ID: "11", ASSOCIATEMETADATA: "not json" }).success).toBe(false);
  });

  it("LUN records accept the array's string numbers and booleans", () => {
    const lun = LunSchema.parse({ ID: "1", NAME: "n", CAPACITY: "2097152", ALLOCTYPE: "1", ISADD2LUNGROUP: "true", LUNCOPYIDS: '["2"]', HEALTHSTATUS: "1", RUNNINGSTATUS: "27", WWN: "6643e8c1004c5f6723e9f454003" });
    expect(lun).toMatchObject({ id: "1", capacitySectors: 2097152, capacityBytes: 1024 ** 3, allocType: "thin", inLunGroup: true, lunCopyIds: ["2"], isClone: false, qosId: "" });
  });
});

describe("IP-SAN connection settings", () => {
  it("adds the trailing slash the dialect needs and refuses credentials, queries and other schemes", () => {
    expect(RestUrlSchema.parse("https://10.0.0.5:8088/deviceManager/rest")).toBe("https://10.0.0.5:8088/deviceManager/rest/");
    for (const bad of ["ftp://x/", "https://u:p@x/", "https://x/?a=1", "not a url"]) expect(RestUrlSchema.safeParse(bad).success).toBe(false);
  });

  it("defaults: TLS verification on, host name check on, Cinder's 52 s request bound", () => {
    const conn = validate(IpsanConnectionSchema, { restUrls: ["https://10.0.0.5:8088/deviceManager/rest/"], user: "admin", password: "Admin@storage1" }, "c", "INVALID_CONFIG")._unsafeUnwrap();
    expect(conn.tls).toEqual({ verify: true, verifyHostname: true });
    expect(conn.requestTimeoutMs).toBe(52_000);
    expect(conn.retries).toBe(3);
  });

  it("an invalid setting is INVALID_CONFIG naming the field, not its value", () => {
    const error = validate(IpsanConnectionSchema, { restUrls: [], user: "admin", password: "Hidden-Value-1", tls: { verify: "no" } }, "c", "INVALID_CONFIG")._unsafeUnwrapErr();
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toMatch(/restUrls/);
    expect(JSON.stringify(error.toJSON())).not.toContain("Hidden-Value-1");
  });
});
