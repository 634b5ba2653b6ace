import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { driverConfigJsonSchema } from "../../../../src/drivers/registry.js";

/** docs/drivers/rbd.md stays true to the config schema it documents. */
describe("docs/drivers/rbd.md", () => {
  const page = readFileSync(join(import.meta.dirname, "../../../../docs/drivers/rbd.md"), "utf8");
  const start = page.indexOf("\n## Options\n");
  const doc = page.slice(start, page.indexOf("\n## ", start + 1));
  const schema = driverConfigJsonSchema("rbd")._unsafeUnwrap() as { properties: Record<string, { title?: string; default?: unknown }> };

  it("has an Options section", () => {
    expect(start).toBeGreaterThan(0);
  });

  it("lists every config option with its title and default, and no option the schema lacks", () => {
    const rows = new Map([...doc.matchAll(/^\| `([A-Za-z]+)` \| ([^|]+) \| ([^|]*) \|/gm)].map((m) => [m[1] ?? "", { title: (m[2] ?? "").trim(), def: (m[3] ?? "").trim() }]));
    for (const [name, p] of Object.entries(schema.properties)) {
      if (name === "driver") continue;
      expect(rows.get(name)?.title, name).toBe(p.title);
      if (p.default !== undefined) expect(rows.get(name)?.def, name).toBe(`\`${JSON.stringify(p.default)}\``);
    }
    expect([...rows.keys()].filter((k) => !(k in schema.properties))).toEqual([]);
  });
});
