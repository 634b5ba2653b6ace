import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { orchestratorDay } from "../../../examples/service.js";
import { openMemoryStore } from "../../../src/service/index.js";
import { must, world } from "../service/service-harness.js";

const dir = mkdtempSync(join(tmpdir(), "volkit-example-service-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("examples/service.ts", () => {
  it("runs the orchestrator's day on in-memory backends and leaves only the image cache", async () => {
    const store = await must(openMemoryStore());
    const w = world(store);
    const service = await w.open({
      volumeTypes: [
        { name: "fast", extraSpecs: { volume_backend_name: "mem-a" }, qosSpecs: "gold-qos" },
        { name: "files", extraSpecs: { volume_backend_name: "mem-b" } },
      ],
      defaultVolumeType: "fast",
    });
    const content = randomBytes(8192);
    const path = join(dir, "debian.raw");
    writeFileSync(path, content);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    await orchestratorDay(service, { path, sha256: createHash("sha256").update(content).digest("hex") }, "mem-b");
    const printed = log.mock.calls.map((c) => String(c[0])).join("\n");
    log.mockRestore();
    expect(printed).toMatch(/boot volume 2 from the image \(cache hit: thin clone\)/);
    expect(printed).toContain("<boot order='1'/>");
    const left = await must(service.listVolumes({ includeInternal: true }));
    expect(left.map((v) => v.metadata["volkit:purpose"])).toEqual(["image-cache"]);
    expect((await must(service.listImageCache()))[0]?.hits).toBe(2);
    expect(w.events.filter((e) => e.phase === "error")).toEqual([]);
    await must(service.close());
    await must(store.close());
  });
});
