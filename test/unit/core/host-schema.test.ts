import { describe, expect, it } from "vitest";
import { HostPropertiesSchema } from "../../../src/core/records.js";
import { HostSchema, PortalSchema, parsePortal } from "../../../src/core/validation.js";

describe("HostSchema: a numeric last label must be a valid IPv4 address", () => {
  it.each(["10.0.0.999", "256.1.1.1", "1.2.3", "1.2.3.4.5", "42", "host.123", "010.0.0.1.2"])("rejects %j", (v) => {
    expect(HostSchema.safeParse(v).success).toBe(false);
  });

  it.each(["10.0.0.1", "255.255.255.255", "0.0.0.0", "fe80::1", "storage-1.example.com", "localhost", "1a.example", "san.123a", "3com.com"])("accepts %j", (v) => {
    expect(HostSchema.safeParse(v).success).toBe(true);
  });

  it("portals and connector IPs inherit the rule", () => {
    expect(PortalSchema.safeParse("10.0.0.999:3260").success).toBe(false);
    expect(PortalSchema.safeParse("256.1.1.1").success).toBe(false);
    expect(parsePortal("1.2.3:3260")).toBeUndefined();
    expect(PortalSchema.parse("10.0.0.9")).toBe("10.0.0.9:3260");
    expect(HostPropertiesSchema.safeParse({ host: "compute-1", ip: "10.0.0.999" }).success).toBe(false);
    expect(HostPropertiesSchema.safeParse({ host: "compute-1", ip: "10.0.0.99" }).success).toBe(true);
  });
});
