import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CliRun } from "../../../src/cli/command-kit.js";
import { EXIT_CODES } from "../../../src/cli/exit-codes.js";
import { buildProgram } from "../../../src/cli/program.js";
import { ERROR_CODES } from "../../../src/core/errors.js";

const doc = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");

describe("docs/cli.md", () => {
  it("documents every command", () => {
    const run = new CliRun({} as never, () => undefined);
    buildProgram(run);
    for (const path of run.schemas.keys()) {
      const leafName = path.split(" ").at(-1) ?? path;
      const mentioned = doc.includes(`volkit ${path}`) || doc.includes(`\`${path} `) || doc.includes(`\`${path}\``) || doc.includes(`${path.split(" ")[0] ?? ""} ${leafName}|`) || new RegExp(`volkit ${path.split(" ")[0] ?? ""} [a-z|-]*\\b${leafName}\\b`).test(doc);
      expect(mentioned, path).toBe(true);
    }
  });

  it("lists the exit code of every error code as the table has it", () => {
    for (const code of ERROR_CODES) expect(doc, code).toMatch(new RegExp(`\`${code}\`(?: \\([^)]*\\))? \\| ${EXIT_CODES[code]} `));
  });
});
