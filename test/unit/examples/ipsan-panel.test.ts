/** Runs examples/panel-ipsan.ts against the array simulator, so the example stays true. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIpsanPanel, type PanelReport } from "../../../examples/panel-ipsan.js";
import { startArraySimulator, type ArraySimulator } from "../../../src/testing/array-simulator/index.js";

let sim: ArraySimulator;
let report: PanelReport;
const lines: string[] = [];

beforeAll(async () => {
  sim = await startArraySimulator({ protocol: "https", iscsi: false });
  report = await runIpsanPanel(sim, (line) => void lines.push(line));
});
afterAll(async () => {
  await sim.stop();
});

describe("examples/panel-ipsan.ts", () => {
  it("renders the config form from the JSON Schema: labels, required fields, the password as a secret, defaults", () => {
    const byPath = new Map(report.form.map((f) => [f.path, f]));
    expect(byPath.get("restUrls")).toMatchObject({ title: "REST URLs", required: true });
    expect(byPath.get("password")).toMatchObject({ title: "Password", required: true, secret: true });
    expect(byPath.get("tls.verify")).toMatchObject({ title: "Verify TLS", defaultValue: true });
    expect(byPath.get("lunType")).toMatchObject({ type: "enum(thin|thick)", defaultValue: "thin" });
    expect(byPath.get("maxCloneDepth")).toMatchObject({ defaultValue: 0 });
    expect(report.form.every((f) => f.title !== "" && f.description !== "")).toBe(true);
    expect(lines).toContain("  [*] Password (password: string, secret)");
  });

  it("lists the pool with its capacity, creates a volume with an active QoS policy, maps it over every portal with CHAP", () => {
    expect(report.pools).toEqual([{ name: "StoragePool001", totalGiB: 1024, freeGiB: 1024, provisionedGiB: 0 }]);
    expect(report.qos).toMatchObject({ maxIops: "5000", enabled: true });
    expect(report.connection).toMatchObject({ type: "iscsi", volumeId: report.volumeId, targetPortals: sim.iscsi.portals, authMethod: "CHAP", authUsername: "compute-01" });
  });

  it("shows a libvirt network disk with the CHAP secret by usage, never the password; cleans up after itself", () => {
    expect(report.xml).toContain("<source protocol='iscsi'");
    expect(report.xml).toContain("<secret type='iscsi' usage='volkit-compute-01'/>");
    expect(report.xml).not.toContain("Panel-Chap-0001");
    expect(lines.join("\n")).not.toContain("Panel-Chap-0001");
    expect(lines.join("\n")).not.toContain(sim.password);
    const s = sim.snapshot();
    expect([s.luns.length, s.qos.length, s.hosts.length, s.views.length]).toEqual([0, 0, 0, 0]);
  });
});
